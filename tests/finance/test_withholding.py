"""The COB's withholding (代扣) through the cashier: the borrower binds a card (a withholding agreement with the
provider), the COB opens a ``finance.repayment`` intent for what is due and asks the provider to debit the card;
the loan is credited only when the provider's verified notification (or the query job) says the money was taken.
Not enough money, duplicate, late, missing and forged notifications; every test ends with the ledger invariants
and every intent's ledger movements equal to its state."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

from carloop.core.models import AuditEntry, IdempotencyRecord
from carloop.finance import cob, selectors, services
from carloop.finance.models import Installment, Loan, Repayment
from carloop.payments import services as payments
from carloop.payments.models import (
    IntentState,
    NotificationOutcome,
    PaymentIntent,
    ProviderNotification,
    SimulatorAgreement,
    WithholdingAgreement,
)
from carloop.payments.simulator import SIMULATOR, Behaviour, deliver
from tests.ledger.invariants import assert_ledger_invariants
from tests.payments.conftest import assert_consistent

from . import cashier
from .conftest import World

pytestmark = pytest.mark.django_db

CARD = "6222 0212 3456 7890 128"  # a 19-digit UnionPay-style number with a valid Luhn digit


@pytest.fixture(autouse=True)
def _simulator_behaves() -> Iterator[None]:
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []
    yield
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []


def bound_loan(world: World) -> tuple[Loan, Installment]:
    loan = world.loan()
    loan = services.bind_debit_card(world.customer(), loan.pk, card_no=CARD)
    return loan, loan.installments.get(period=1)


def run_cob(loan: Loan, on: Any, capture: Any) -> PaymentIntent | None:
    # The chunk commits (inside the run's business date): the debits go to the provider, its answers come back.
    with services.as_of(on), capture(execute=True):
        cob.run(on)
    return PaymentIntent.objects.filter(ref=services.ref_for(loan.pk, withhold_on=on)).first()


def finish() -> None:
    assert_consistent()  # every intent's ledger movements equal its state (payments.selectors.ledger_discrepancies)
    assert_ledger_invariants()
    assert selectors.reconcile_funders() == []


def booked(intent: PaymentIntent) -> list[Repayment]:
    return list(Repayment.objects.filter(key=f"payments:intent:{intent.pk}"))


def test_the_cob_withholds_the_instalment_due_and_the_provider_confirms_it(world: World, django_capture_on_commit_callbacks: Any) -> None:
    loan, first = bound_loan(world)
    intent = run_cob(loan, first.due_date, django_capture_on_commit_callbacks)
    assert intent is not None and intent.kind == services.REPAYMENT_KIND and intent.payer_id == loan.customer_id
    assert intent.state == IntentState.SUCCEEDED and intent.amount_fen == first.owed_fen
    [repayment] = booked(intent)
    assert repayment.amount_fen == first.owed_fen and repayment.business_date == first.due_date
    assert Installment.objects.get(pk=first.pk).status == Installment.Status.PAID
    tender = intent.tenders.get()
    assert tender.instrument == loan.debit_agreement_no and tender.provider_txn_id
    assert ProviderNotification.objects.get(order_no=tender.provider_order_no).outcome == NotificationOutcome.BOOKED
    assert cob.run(first.due_date)["replayed"]  # a finished date withholds nothing again
    assert PaymentIntent.objects.filter(kind=services.REPAYMENT_KIND).count() == 1
    finish()


def test_not_enough_money_fails_the_intent_and_the_instalment_goes_to_arrears(world: World, django_capture_on_commit_callbacks: Any) -> None:
    loan, first = bound_loan(world)
    SIMULATOR.behaviour = Behaviour(withhold="notenough")
    intent = run_cob(loan, first.due_date, django_capture_on_commit_callbacks)
    assert intent is not None and intent.state == IntentState.FAILED and intent.failure == "NOTENOUGH"
    assert not booked(intent) and not Repayment.objects.filter(loan=loan).exists()
    assert ProviderNotification.objects.get(intent_id=intent.pk).outcome == NotificationOutcome.FAILED
    assert Installment.objects.get(pk=first.pk).status == Installment.Status.DUE
    next_day = run_cob(loan, first.due_date + timedelta(days=1), django_capture_on_commit_callbacks)
    assert next_day is not None and next_day.state == IntentState.FAILED  # asked again the next day, still short
    assert Installment.objects.get(pk=first.pk).status == Installment.Status.OVERDUE
    assert Loan.objects.get(pk=loan.pk).bucket == "1-30"
    finish()


@pytest.mark.parametrize("mode", ["twice", "late"])
def test_a_duplicate_or_late_notification_is_booked_once(world: World, django_capture_on_commit_callbacks: Any, mode: str) -> None:
    loan, first = bound_loan(world)
    SIMULATOR.behaviour = Behaviour(notify=mode)  # type: ignore[arg-type]
    intent = run_cob(loan, first.due_date, django_capture_on_commit_callbacks)
    assert intent is not None
    if mode == "late":
        assert intent.state == IntentState.PROCESSING and not booked(intent), "no answer yet: nothing is booked"
        held = list(SIMULATOR.held)
        with services.as_of(first.due_date):
            assert SIMULATOR.flush() == 1
            deliver(SIMULATOR.name, *held[0])  # and the provider sends it once more
        intent.refresh_from_db()
    assert intent.state == IntentState.SUCCEEDED and len(booked(intent)) == 1
    outcomes = sorted(ProviderNotification.objects.filter(intent_id=intent.pk).values_list("outcome", flat=True))
    assert outcomes == [NotificationOutcome.BOOKED, NotificationOutcome.DUPLICATE]
    finish()


def test_a_missing_notification_is_recovered_by_the_query_job(world: World, django_capture_on_commit_callbacks: Any) -> None:
    loan, first = bound_loan(world)
    SIMULATOR.behaviour = Behaviour(notify="never")
    intent = run_cob(loan, first.due_date, django_capture_on_commit_callbacks)
    assert intent is not None and intent.state == IntentState.PROCESSING and not booked(intent)
    with services.as_of(first.due_date):
        assert payments.recover_missing_notifications(older_than=timedelta(0)) == 1
    intent.refresh_from_db()
    assert intent.state == IntentState.SUCCEEDED and len(booked(intent)) == 1
    assert Installment.objects.get(pk=first.pk).status == Installment.Status.PAID
    finish()


def test_a_debit_the_provider_never_received_is_sent_again_by_the_query_job(world: World, django_capture_on_commit_callbacks: Any) -> None:
    loan, first = bound_loan(world)
    SIMULATOR.behaviour = Behaviour(reachable=False)
    intent = run_cob(loan, first.due_date, django_capture_on_commit_callbacks)
    assert intent is not None and intent.state == IntentState.PROCESSING
    SIMULATOR.behaviour = Behaviour(withhold="notenough")
    with services.as_of(first.due_date), django_capture_on_commit_callbacks(execute=True):
        payments.recover_missing_notifications(older_than=timedelta(0))  # UNKNOWN at the provider: sent again
    intent.refresh_from_db()
    assert intent.state == IntentState.FAILED and not booked(intent)
    finish()


def test_a_forged_notification_changes_nothing(world: World, django_capture_on_commit_callbacks: Any) -> None:
    loan, first = bound_loan(world)
    SIMULATOR.behaviour = Behaviour(withhold="notenough", notify="never")
    intent = run_cob(loan, first.due_date, django_capture_on_commit_callbacks)
    assert intent is not None
    order_no = intent.tenders.get().provider_order_no
    forged = json.dumps({"id": "x", "event_type": "TRANSACTION.SUCCESS", "resource": {
        "out_trade_no": order_no, "transaction_id": "4200forged", "trade_state": "SUCCESS",
        "amount": {"total": intent.amount_fen}}}).encode()
    with services.as_of(first.due_date):
        status, _ = deliver(SIMULATOR.name, forged, {"Sim-Timestamp": "1", "Sim-Nonce": "n", "Sim-Signature": "f" * 64})
    assert status == 400
    intent.refresh_from_db()
    assert intent.state == IntentState.PROCESSING and not booked(intent)
    assert Installment.objects.get(pk=first.pk).status == Installment.Status.DUE
    assert ProviderNotification.objects.get(signature_valid=False).outcome == NotificationOutcome.BAD_SIGNATURE
    with services.as_of(first.due_date):
        payments.recover_missing_notifications(older_than=timedelta(0))  # the provider's own word: not enough money
    intent.refresh_from_db()
    assert intent.state == IntentState.FAILED and not booked(intent)
    finish()


def test_the_borrower_binds_a_card_through_the_api_and_it_is_never_stored_in_clear(world: World, actors: Any) -> None:
    loan = world.loan()
    url = f"/api/v1/finance/loans/{loan.pk}/debit-card"
    client = actors.client("customer")
    answer = client.post(url, data=json.dumps({"card_no": CARD}), content_type="application/json",
                         headers={"Idempotency-Key": "bind-1"})
    assert answer.status_code == 200, answer.content
    assert answer.json()["card"] == "***************0128" and answer.json()["agreement_no"]
    again = client.post(url, data=json.dumps({"card_no": CARD}), content_type="application/json",
                        headers={"Idempotency-Key": "bind-1"})
    assert again.json() == answer.json() and WithholdingAgreement.objects.count() == 1  # a replay signs nothing
    assert Loan.objects.get(pk=loan.pk).debit_agreement_no == answer.json()["agreement_no"]
    digits = CARD.replace(" ", "")
    stored = [*WithholdingAgreement.objects.values_list("card_masked", flat=True),
              *SimulatorAgreement.objects.values_list("card_masked", flat=True),
              *(json.dumps(a.data) for a in AuditEntry.objects.all()),
              *(bytes(r.response_body).decode() for r in IdempotencyRecord.objects.all())]
    assert not [s for s in stored if digits in s or digits[:12] in s]
    bad = client.post(url, data=json.dumps({"card_no": "6222021234567890129"}), content_type="application/json")
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "/card_no"
    other = actors.client("other_customer").post(url, data=json.dumps({"card_no": CARD}), content_type="application/json")
    assert other.status_code == 404
    assert actors.client("finance_ops").post(url, data=json.dumps({"card_no": CARD}),
                                             content_type="application/json").status_code == 403
    assert WithholdingAgreement.objects.count() == 1


def test_notifications_booked_in_a_batch_are_booked_once_and_what_does_not_fit_falls_back(
        world: World, django_capture_on_commit_callbacks: Any, monkeypatch: Any) -> None:
    """The withholding answers booked in chunks (handle_notifications): one linked ledger batch for the chunk; a
    repeat is a duplicate, a forged one changes nothing, and a loan its borrower paid meanwhile makes the batch
    fall back to one by one, where that payment is refunded."""
    loans = [bound_loan(world) for _ in range(3)]
    SIMULATOR.behaviour = Behaviour(notify="late")
    due = loans[0][1].due_date
    with services.as_of(due), django_capture_on_commit_callbacks(execute=True):
        assert cob.run(due)["withholdings"] == 3
    held = list(SIMULATOR.held)
    forged = (held[0][0], {**held[0][1], "Sim-Signature": "0" * 64})
    one_by_one: list[str] = []
    single = payments.book_external_payment
    monkeypatch.setattr(payments, "book_external_payment", lambda **kw: one_by_one.append(kw["order_no"]) or single(**kw))
    with services.as_of(due):
        counts = payments.handle_notifications(SIMULATOR.name, [*held, held[1], forged])
    assert len(one_by_one) == 1, "the three are booked in one batch; only the repeat goes one by one"
    assert counts == {NotificationOutcome.BOOKED: 3, NotificationOutcome.DUPLICATE: 1, NotificationOutcome.BAD_SIGNATURE: 1}
    for loan, first in loans:
        intent = PaymentIntent.objects.get(ref=services.ref_for(loan.pk, withhold_on=due))
        assert intent.state == IntentState.SUCCEEDED and len(booked(intent)) == 1
        assert Installment.objects.get(pk=first.pk).status == Installment.Status.PAID
    finish()

    SIMULATOR.held = []
    second = [(loan, loan.installments.get(period=2)) for loan, _ in loans]
    due = second[0][1].due_date
    with services.as_of(due), django_capture_on_commit_callbacks(execute=True):
        cob.run(due)
    loan, inst = second[0]
    cashier.repay(world.customer(), loan.pk, on=due)  # the borrower paid at the cashier before the answer came
    one_by_one.clear()
    with services.as_of(due):
        counts = payments.handle_notifications(SIMULATOR.name, list(SIMULATOR.held))
    assert len(one_by_one) == 3, "the batch was refused as a whole: each is booked on its own"
    assert counts == {NotificationOutcome.BOOKED: 2, NotificationOutcome.LATE_REFUNDED: 1}
    refused = PaymentIntent.objects.get(ref=services.ref_for(loan.pk, withhold_on=due))
    assert refused.state == IntentState.FAILED and not booked(refused) and refused.refunds.get().late
    assert Repayment.objects.filter(loan=loan, amount_fen=inst.owed_fen).count() == 2  # periods 1 and 2, once each
    finish()
