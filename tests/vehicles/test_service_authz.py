"""Vehicle commands check their caller themselves (docs/conventions.md, "Authorization"): the API and the garage page
reach the same check, and a refused caller changes nothing."""

import pytest

from carloop.core.authz import ANONYMOUS
from carloop.identity import selectors
from carloop.vehicles import services as vehicles
from carloop.vehicles.models import ConditionReport, Vehicle
from carloop.vehicles.seed import stock_vin
from tests.harness import status_of
from tests.vehicles.factories import owned_vehicle

pytestmark = pytest.mark.django_db



def who(actors, kind):
    return selectors.subject_for_user(actors.user(kind))


def test_only_car_owners_add_to_their_garage(actors):
    vin = stock_vin("LK6", 2023, 7, 123_456)
    add = lambda subject: vehicles.add_to_garage(subject, vin=vin, brand_name="Wuling", model_name="Bingo",  # noqa: E731
                                                 reference_price="not money")
    assert status_of(lambda: add(ANONYMOUS)) == 401
    assert status_of(lambda: add(who(actors, "ops"))) == 403  # refused before the price is even read
    assert status_of(lambda: add(who(actors, "store_manager"))) == 403
    assert status_of(lambda: add(who(actors, "customer"))) == 422
    assert not Vehicle.objects.filter(vin=vin).exists()


def test_store_staff_inspect_for_their_own_store_and_operations_for_any(actors):
    vehicle = owned_vehicle(actors.user("customer"))
    inspect = lambda subject, **org: vehicles.inspect_vehicle(subject, vin=vehicle.vin, grade="B", odometer_km=35_000, **org)  # noqa: E731
    assert status_of(lambda: inspect(ANONYMOUS)) == 401
    assert status_of(lambda: inspect(who(actors, "customer"))) == 403
    assert status_of(lambda: inspect(who(actors, "risk_analyst"))) == 403
    assert status_of(lambda: inspect(who(actors, "store_manager"), inspector_org_id=actors.org("supplier_staff").pk)) == 403
    assert not ConditionReport.objects.filter(vehicle=vehicle).exists()
    report_id, _ = inspect(who(actors, "technician"))
    assert ConditionReport.objects.get(pk=report_id).inspector_org_id == actors.org("technician").pk
    assert status_of(lambda: vehicles.inspect_vehicle(who(actors, "ops"), vin="LK6ADCE14PB100234", grade="B",
                                                      odometer_km=1)) == 404
