"""Identity and vehicle commands check their caller themselves (docs/conventions.md, "Authorization"): the API, the
pages and the CLI reach the same check, and a refused caller changes nothing."""

import pytest

from carloop.core import audit
from carloop.core.authz import ANONYMOUS
from carloop.core.errors import Problem
from carloop.identity import selectors, services
from carloop.identity.models import Organisation
from carloop.vehicles import services as vehicles
from carloop.vehicles.models import ConditionReport, Vehicle
from carloop.vehicles.seed import stock_vin
from tests.vehicles.factories import owned_vehicle

pytestmark = pytest.mark.django_db
VALID_USCC = "91110000600037341L"


def status_of(command) -> int:
    with pytest.raises(Problem) as info:
        command()
    return info.value.status


def who(actors, kind):
    return selectors.subject_for_user(actors.user(kind))


def test_only_operations_correct_an_identity_and_the_audit_names_them(actors):
    customer = actors.user("customer")
    correct = lambda subject: services.correct_kyc(subject, customer.pk, real_name="李四", id_number="31010419900307123X",  # noqa: E731
                                                   reason="户籍更正")
    assert status_of(lambda: correct(ANONYMOUS)) == 401
    for kind in ("customer", "risk_analyst", "finance_ops", "store_manager"):
        assert status_of(lambda k=kind: correct(who(actors, k))) == 403, kind
    assert not [e for e in audit.history("identity.customer", customer.pk) if e.action == "kyc.corrected"]
    correct(who(actors, "admin"))
    entry = [e for e in audit.history("identity.customer", customer.pk) if e.action == "kyc.corrected"][-1]
    assert entry.actor == f"user:{actors.user('admin').pk}"


def test_only_operations_register_an_organisation(actors):
    register = lambda subject: services.register_organisation(subject, kind="store", name="好门店", uscc_code=VALID_USCC)  # noqa: E731
    assert status_of(lambda: register(ANONYMOUS)) == 401
    assert status_of(lambda: register(who(actors, "finance_ops"))) == 403
    assert status_of(lambda: register(who(actors, "store_manager"))) == 403
    assert not Organisation.objects.filter(uscc=VALID_USCC).exists()
    assert register(who(actors, "ops")).name == "好门店"


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
