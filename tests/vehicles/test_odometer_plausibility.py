"""An odometer reading a car could not have driven is refused: at most 100,000 km a year of age plus 1,000 km,
age counted from the registration date (else from the VIN's model year), and never lower than the last reading."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from carloop.core.errors import Problem
from carloop.vehicles import selectors, services
from carloop.vehicles.seed import stock_vin
from tests.vehicles.factories import make_trim, owned_vehicle

pytestmark = pytest.mark.django_db
TODAY = dt.date(2026, 12, 3)


@pytest.fixture(autouse=True)
def _today(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(services, "business_date", lambda: TODAY)


def test_a_million_km_on_a_2019_car_is_refused(actors) -> None:
    vehicle = owned_vehicle(actors.user("customer"), registration_date=dt.date(2019, 3, 1), km=80_000)
    response = actors.client("customer").post(
        f"/api/v1/vehicles/garage/{vehicle.pk}/odometer", json.dumps({"km": 1_062_688}), content_type="application/json"
    )
    assert response.status_code == 422, response.content
    problem = response.json()
    assert problem["type"].endswith("/odometer-implausible") and problem["errors"][0]["pointer"] == "/km"
    assert selectors.latest_odometer_km(vehicle.pk) == 80_000


def test_the_bound_grows_with_the_car_s_age(actors) -> None:
    vehicle = owned_vehicle(actors.user("customer"), registration_date=TODAY - dt.timedelta(days=365), km=10_000)
    services.record_odometer(vehicle_id=vehicle.pk, km=101_000)  # a year at the most a car is driven, plus margin
    with pytest.raises(Problem) as err:
        services.record_odometer(vehicle_id=vehicle.pk, km=101_001)
    assert err.value.status == 422 and err.value.slug == "odometer-implausible"


def test_registering_a_car_with_an_implausible_odometer_is_refused(actors) -> None:
    owner = actors.user("customer")
    with pytest.raises(Problem) as err:
        owned_vehicle(owner, registration_date=dt.date(2019, 3, 1), km=1_062_688)
    assert err.value.slug == "odometer-implausible" and err.value.errors[0].pointer == "/odometer_km"
    assert selectors.garage(owner.pk) == []


def test_without_a_registration_date_the_vin_model_year_dates_the_car(actors) -> None:
    owner = actors.user("customer")
    trim = make_trim(stock=0)
    vin = stock_vin("LK6", 2025, 7, 912_345)  # model year 2025: on the road since 2024 at the earliest
    with pytest.raises(Problem) as err:
        services.register_vehicle(owner_user_id=owner.pk, vin=vin, trim_id=trim.pk, odometer_km=400_000)
    assert err.value.slug == "odometer-implausible"
    services.register_vehicle(owner_user_id=owner.pk, vin=vin, trim_id=trim.pk, odometer_km=150_000)


def test_an_inspection_cannot_record_an_implausible_odometer(actors) -> None:
    vehicle = owned_vehicle(actors.user("customer"), registration_date=dt.date(2019, 3, 1), km=80_000)
    with pytest.raises(Problem) as err:
        services.record_condition_report(vehicle_id=vehicle.pk, grade="B", odometer_km=1_062_688, actor="test")
    assert err.value.slug == "odometer-implausible" and err.value.errors[0].pointer == "/odometer_km"


def test_a_reading_never_goes_down(actors) -> None:
    vehicle = owned_vehicle(actors.user("customer"), registration_date=dt.date(2019, 3, 1), km=80_000)
    with pytest.raises(Problem) as err:
        services.record_odometer(vehicle_id=vehicle.pk, km=79_999)
    assert err.value.slug == "odometer-rollback"
