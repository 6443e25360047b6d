"""The demo data a newcomer walks through is coherent: cars are registered after their model year went on sale
and carry their owner's city's plates, odometers and inspections follow the registration, pledged cars were
registered before the loan, handovers happen at a store in the buyer's city and the demo store manager has
handovers at their store; two borrowers bound a card and today's COB withheld their arrears (one card short of
money)."""

from __future__ import annotations

import io
from collections import defaultdict

import pytest
from django.core.management import call_command

from carloop.commerce.models import CarOrder, OrderState
from carloop.commerce.selectors import orders_readable_by
from carloop.core.timeutil import business_date
from carloop.finance.models import Loan, Repayment
from carloop.identity import selectors as identity_q
from carloop.identity.models import Organisation, User
from carloop.payments.models import IntentState, PaymentIntent
from carloop.risk.models import ModelVersion
from carloop.vehicles.models import ConditionReport, OdometerReading, Vehicle
from carloop.vehicles.plates import parse_plate
from carloop.vehicles.seed import PLATE_PREFIXES, first_registration
from carloop.vehicles.vin import decode_vin


@pytest.fixture
def seeded(transactional_db: None) -> str:
    # A registered GBM model stands in for the challenger the risk seed would train (40 s of LightGBM here).
    ModelVersion.objects.create(version="gbm-stand-in", kind="gbm", artifact_path="", data_sha256="", registered_by="test")
    out = io.StringIO()
    call_command("seed", "--scale", "demo", stdout=out)
    return out.getvalue()


@pytest.mark.slow
def test_seeded_demo_is_coherent(seeded: str) -> None:
    today = business_date()
    problems: list[str] = []
    owned = Vehicle.objects.filter(status=Vehicle.Status.OWNED).select_related("trim")
    assert owned.count() > 50
    for car in owned:
        city = identity_q.customer_facts(car.owner_id).city  # type: ignore[union-attr]
        if car.trim is not None:
            if not first_registration(car.trim.model_year) <= car.registration_date <= today:  # type: ignore[operator]
                problems.append(f"{car.vin}: model year {car.trim.model_year} registered {car.registration_date}")
            if decode_vin(car.vin).model_year != car.trim.model_year:
                problems.append(f"{car.vin}: VIN model year is not {car.trim.model_year}")
        if car.plate:
            plate = parse_plate(car.plate)
            if car.plate[:2] != PLATE_PREFIXES.get(city, car.plate[:2]):
                problems.append(f"{car.plate}: plate of another city than the owner's {city}")
            powertrain = car.trim.powertrain if car.trim else car.powertrain
            energy = {"BEV": "bev", "PHEV": "other_nev", "EREV": "other_nev"}.get(powertrain)
            if plate is None or plate.energy != energy:
                problems.append(f"{car.plate}: not the plate of a {powertrain} car")
        reads = list(OdometerReading.objects.filter(vehicle_id=car.id).order_by("read_on", "km").values_list("read_on", "km"))
        if any(day < car.registration_date or day > today for day, _ in reads):  # type: ignore[operator]
            problems.append(f"{car.vin}: odometer read outside {car.registration_date}..{today}")
        if [km for _, km in reads] != sorted(km for _, km in reads):
            problems.append(f"{car.vin}: odometer goes backwards")
        for report in ConditionReport.objects.filter(vehicle_id=car.id):
            if not car.registration_date <= report.inspected_on <= today:  # type: ignore[operator]
                problems.append(f"{car.vin}: inspected on {report.inspected_on}, registered {car.registration_date}")
    for loan in Loan.objects.exclude(vehicle_id=None):
        car = Vehicle.objects.get(pk=loan.vehicle_id)
        if car.registration_date is None or car.registration_date >= loan.start_date:  # type: ignore[operator]
            problems.append(f"loan {loan.contract_no}: pledges a car registered {car.registration_date}, on {loan.start_date}")

    stores = {o.pk: o for o in Organisation.objects.filter(kind="store")}
    handovers = CarOrder.objects.exclude(delivery_store_id=None)
    assert handovers.filter(state=OrderState.DELIVERED).count() >= 5
    for order in handovers:
        buyer_city = identity_q.customer_facts(order.customer_id).city  # type: ignore[union-attr]
        if stores[order.delivery_store_id].city != buyer_city:
            problems.append(f"order {order.pk}: bought in {buyer_city}, handed over in {stores[order.delivery_store_id].city}")
        if order.state == OrderState.DELIVERY_SCHEDULED and order.delivery_date < today:  # type: ignore[operator]
            problems.append(f"order {order.pk}: handover scheduled in the past")
    assert not problems, "\n".join(problems)

    manager = identity_q.subject_for_user(User.objects.get(username="store"))
    at_store: dict[str, int] = defaultdict(int)
    for order in orders_readable_by(manager):
        at_store[order.state] += 1
    assert at_store[OrderState.DELIVERY_SCHEDULED] >= 1 and at_store[OrderState.DELIVERED] >= 1, dict(at_store)
    assert orders_readable_by(manager).filter(state=OrderState.DELIVERY_SCHEDULED, delivery_date=today).exists()


    # Two borrowers behind on their loans bound a card: today's COB withheld one's arrears, the other's card was
    # short of money and that loan is still overdue.
    withheld = PaymentIntent.objects.filter(kind="finance.repayment", ref__contains=":withhold:")
    paid = withheld.get(state=IntentState.SUCCEEDED)
    short = withheld.get(state=IntentState.FAILED, failure="NOTENOUGH")
    assert Repayment.objects.filter(key=f"payments:intent:{paid.pk}").exists()
    assert Loan.objects.get(debit_agreement_no__gt="", pk=short.ref.split(":")[2]).bucket != "current"
