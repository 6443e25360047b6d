import datetime as dt
import json

import pytest
from django.core.management import call_command

from carloop.core.models import Event
from carloop.vehicles import selectors, services
from carloop.vehicles.models import Vehicle
from carloop.vehicles.seed import stock_vin
from tests.harness import SUBJECT_KINDS, Case, run_case
from tests.vehicles.factories import make_trim, owned_vehicle

GOOD_VIN = "LK6ADCE14PB100234"
ALL_200 = {"*": 200}
CUSTOMER_ONLY_401 = {"anonymous": 401, "*": 404, "customer": 200}


def trim_setup(actors):
    return {"trim_id": make_trim().pk}


def garage_setup(actors):
    vehicle = owned_vehicle(actors.user("customer"))
    return {"vehicle_id": vehicle.pk, "vin": stock_vin("LK6", 2023, 7, 123_456)}


def report_setup(actors):
    vehicle = owned_vehicle(actors.user("customer"))
    return {"vin": vehicle.vin, "store_id": ""}


CASES = [
    Case("GET", f"/api/v1/vehicles/vin/{GOOD_VIN}", expect=ALL_200),
    Case("GET", "/api/v1/vehicles/catalog/trims", expect=ALL_200, setup=trim_setup),
    Case("GET", "/api/v1/vehicles/catalog/trims/{trim_id}", expect=ALL_200, setup=trim_setup),
    Case("GET", "/api/v1/vehicles/garage", expect={"anonymous": 401, "*": 200}),
    Case("POST", "/api/v1/vehicles/garage", setup=garage_setup, body={"vin": "{vin}", "plate": "粤BD12345", "brand_name": "Wuling", "model_name": "Bingo"},
         expect={"anonymous": 401, "customer": 201, "other_customer": 201, "*": 403}),
    Case("GET", "/api/v1/vehicles/garage/{vehicle_id}", setup=garage_setup, expect=CUSTOMER_ONLY_401),
    Case("GET", "/api/v1/vehicles/garage/{vehicle_id}/odometer", setup=garage_setup, expect=CUSTOMER_ONLY_401),
    Case("POST", "/api/v1/vehicles/garage/{vehicle_id}/odometer", setup=garage_setup, body={"km": 40_000},
         expect={"anonymous": 401, "*": 404, "customer": 201}),
    Case("GET", "/api/v1/vehicles/garage/{vehicle_id}/valuation", setup=garage_setup, expect=CUSTOMER_ONLY_401),
    Case("POST", "/api/v1/vehicles/condition-reports", setup=report_setup,
         body={"vin": "{vin}", "grade": "B", "odometer_km": 35_000},
         expect={"anonymous": 401, "store_manager": 201, "technician": 201, "ops": 201, "admin": 201, "*": 403}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(actors, case, kind):
    run_case(actors, case, kind)


def test_vin_endpoint_returns_the_decoded_dict(client, db):
    body = client.get(f"/api/v1/vehicles/vin/{GOOD_VIN}").json()
    assert body["valid"] is True and body["manufacturer"] == "SAIC-GM-Wuling" and body["model_year"] == 2023


def test_invalid_vin_is_a_422_problem_carrying_the_report(client, db):
    response = client.get("/api/v1/vehicles/vin/LK6ADCE15PB100234")
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    body = response.json()
    assert body["valid"] is False and body["check_digit_ok"] is False
    assert body["issues"][0]["code"] == "check-digit" and body["errors"][0]["pointer"] == "/path/vin"


def test_cli_vin_decode_json_and_exit_status(capsys):
    call_command("vin", "decode", GOOD_VIN, "--json")
    assert json.loads(capsys.readouterr().out)["valid"] is True
    with pytest.raises(SystemExit) as info:
        call_command("vin", "decode", "LK6ADCE15PB100234", "--json")
    assert info.value.code == 1
    assert json.loads(capsys.readouterr().out)["check_digit_ok"] is False


def test_garage_refuses_bad_vin_and_plate_without_change(actors):
    client = actors.client("customer")
    for body, slug in [({"vin": "LK6ADCE15PB100234"}, "invalid-vin"),
                       ({"vin": GOOD_VIN, "plate": "粤BM12345", "brand_name": "Wuling", "model_name": "Bingo"}, "invalid-plate")]:
        response = client.post("/api/v1/vehicles/garage", json.dumps(body), content_type="application/json")
        assert response.status_code == 422
        assert response.json()["type"].endswith(slug)
    assert Vehicle.objects.count() == 0


def test_odometer_rollback_refused_unless_meter_replaced(actors):
    owner = actors.user("customer")
    vehicle = owned_vehicle(owner, km=30_000)
    client = actors.client("customer")
    url = f"/api/v1/vehicles/garage/{vehicle.pk}/odometer"
    response = client.post(url, json.dumps({"km": 29_000}), content_type="application/json")
    assert response.status_code == 422 and response.json()["type"].endswith("odometer-rollback")
    assert selectors.latest_odometer_km(vehicle.pk) == 30_000
    response = client.post(url, json.dumps({"km": 12, "meter_replaced": True}), content_type="application/json")
    assert response.status_code == 201
    assert [e.km for e in selectors.odometer_history(vehicle.pk)] == [30_000, 12]


def test_get_owned_vehicle_contract(actors):
    owner, other = actors.user("customer"), actors.user("other_customer")
    vehicle = owned_vehicle(owner, km=31_000)
    dto = selectors.get_owned_vehicle(owner.pk, vehicle.pk)
    assert dto is not None and dto.vin == vehicle.vin and dto.odometer_km == 31_000 and dto.owner_user_id == owner.pk
    assert dto.trim_id == vehicle.trim_id and dto.registration_date == dt.date(2022, 6, 1)
    assert selectors.get_owned_vehicle(other.pk, vehicle.pk) is None
    assert selectors.get_owned_vehicle(owner.pk, "not-a-uuid") is None


def test_condition_report_publishes_event_and_changes_value(actors):
    owner = actors.user("customer")
    vehicle = owned_vehicle(owner, km=30_000)
    before = services.value(vehicle.pk, dt.date(2026, 6, 1))
    services.record_condition_report(vehicle_id=vehicle.pk, grade="D", odometer_km=32_000, actor="test")
    after = services.value(vehicle.pk, dt.date(2026, 6, 1))
    assert after.value_fen < before.value_fen
    assert after.factors["condition_grade"] == "D"
    event = Event.objects.get(type="vehicles.condition_report.created")
    assert event.payload["vehicle_id"] == str(vehicle.pk) and event.payload["grade"] == "D"
