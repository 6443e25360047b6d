"""Loan repayments at the cashier (payable kind ``finance.repayment``): the loan is credited only when the provider's
verified notification (or a confirmed bank transfer) books the intent; partial payments, overpayments, payoffs
and a late notification for what was settled meanwhile; payment clearing never goes below zero."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import pytest

from carloop.core.errors import Problem
from carloop.finance import ledger_accounts as accounts
from carloop.finance import selectors, services
from carloop.finance.models import Installment, Loan, Repayment
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.payments import services as payments
from carloop.payments.models import IntentState, PaymentIntent
from carloop.payments.simulator import SIMULATOR, Behaviour, deliver
from tests.ledger.invariants import assert_ledger_invariants
from tests.payments.conftest import assert_consistent

from . import cashier
from .conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _simulator_behaves() -> Iterator[None]:
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []
    yield
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []


def clearing_holds() -> int:
    """What payment clearing holds (credits − debits): money the provider confirmed and not yet passed on."""
    balance = ledger_q.balance(ledger.system_account("payment_clearing").id)
    return balance.credits_posted - balance.debits_posted


def open_and_confirm(world: World, loan: Loan, ref: str, on: date) -> PaymentIntent:
    subject = world.customer()
    with services.as_of(on):
        intent = payments.create_intent(kind=services.REPAYMENT_KIND, ref=ref, subject=subject, actor=subject.ref)
        return payments.confirm(intent_id=intent.pk, subject=subject, tenders=[], method="simulator", actor=subject.ref)


def order_no(intent: PaymentIntent) -> str:
    no = intent.tenders.get(kind="external").provider_order_no
    assert no is not None
    return no


def finish(intent: PaymentIntent) -> PaymentIntent:
    intent.refresh_from_db()
    assert_consistent()
    assert_ledger_invariants()
    assert clearing_holds() >= 0
    assert selectors.reconcile_funders() == []
    return intent


def test_the_loan_is_credited_only_when_the_provider_confirms(world: World) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    SIMULATOR.behaviour = Behaviour(notify="never")
    intent = open_and_confirm(world, loan, services.ref_for(loan.pk), first.due_date)
    assert intent.amount_fen == first.owed_fen and intent.payer_id == loan.customer_id
    SIMULATOR.pay(order_no(intent))
    assert not Repayment.objects.exists(), "the customer paid, but no notification yet: nothing is booked"
    with services.as_of(first.due_date):
        assert payments.recover_missing_notifications(older_than=timedelta(0)) == 1  # the query job asks the provider
    rep = Repayment.objects.get(key=f"payments:intent:{intent.pk}")
    assert rep.amount_fen == first.owed_fen and rep.business_date == first.due_date
    assert Installment.objects.get(pk=first.pk).status == Installment.Status.PAID
    assert finish(intent).state == IntentState.SUCCEEDED
    assert ledger_q.balance(accounts.received().id).balance_fen == 0  # passed on to the funders and the platform


def test_a_forged_or_replayed_notification_books_nothing_twice(world: World) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    SIMULATOR.behaviour = Behaviour(notify="bad_signature")
    intent = open_and_confirm(world, loan, services.ref_for(loan.pk), first.due_date)
    SIMULATOR.pay(order_no(intent))
    assert not Repayment.objects.exists()
    SIMULATOR.behaviour = Behaviour(notify="twice")
    with services.as_of(first.due_date):
        SIMULATOR.send(SIMULATOR.payment_notification(order_no(intent)))
    assert Repayment.objects.count() == 1
    assert finish(intent).state == IntentState.SUCCEEDED


def test_partial_payment_and_overpayment(world: World) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    rep = cashier.repay(world.customer(), loan.pk, amount_fen=first.owed_fen - 10_000, on=first.due_date)
    first.refresh_from_db()
    assert rep.amount_fen == first.principal_fen + first.interest_fen - 10_000 and first.owed_fen == 10_000
    assert first.status != Installment.Status.PAID
    second = loan.installments.get(period=2)
    with pytest.raises(Problem) as err:  # more than what is due and the next instalment: prepay or pay off instead
        cashier.repay(world.customer(), loan.pk, amount_fen=10_000 + second.owed_fen + 1, on=first.due_date)
    assert err.value.slug == "amount-exceeds-due"
    assert not PaymentIntent.objects.filter(state=IntentState.PROCESSING).exists()
    with pytest.raises(Problem) as err:
        cashier.repay(world.customer(), loan.pk, amount_fen=5_000, on=first.due_date, option="shorter_term")
    assert err.value.slug == "overdue-first"
    assert clearing_holds() == 0


def test_a_late_notification_for_what_was_settled_meanwhile_is_refunded(world: World) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    SIMULATOR.behaviour = Behaviour(refunds="sync")
    late = open_and_confirm(world, loan, services.ref_for(loan.pk), first.due_date)
    SIMULATOR.pay(order_no(late))  # paid; its notification comes late
    cashier.repay(world.customer(), loan.pk, amount_fen=first.owed_fen, on=first.due_date)  # settled another way
    with services.as_of(first.due_date):
        deliver(SIMULATOR.name, *SIMULATOR.payment_notification(order_no(late)))
    late = finish(late)
    assert late.state == IntentState.FAILED and late.failure == "repayment-no-longer-due"
    assert late.refunds.get().late and late.refunds.get().amount_fen == first.owed_fen  # back to the borrower
    assert Repayment.objects.count() == 1 and not Repayment.objects.filter(key=f"payments:intent:{late.pk}").exists()
    assert clearing_holds() == 0


def test_payoff_at_the_cashier_and_a_quote_of_another_day(world: World) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    cashier.repay(world.customer(), loan.pk, amount_fen=first.owed_fen, on=first.due_date)
    quote_day = first.due_date + timedelta(days=5)
    SIMULATOR.behaviour = Behaviour(refunds="sync")
    stale = open_and_confirm(world, loan, services.ref_for(loan.pk, payoff=True), quote_day)
    SIMULATOR.pay(order_no(stale))
    with services.as_of(quote_day + timedelta(days=1)):  # the money is confirmed the next day: another quote
        deliver(SIMULATOR.name, *SIMULATOR.payment_notification(order_no(stale)))
    stale = finish(stale)
    assert stale.state == IntentState.FAILED and stale.refunds.get().amount_fen == stale.amount_fen
    quote = services.payoff_quote(world.customer(), loan.pk, quote_day)
    rep = cashier.repay(world.customer(), loan.pk, on=quote_day, payoff=True)
    assert rep.kind == Repayment.Kind.PAYOFF and rep.amount_fen == quote.total_fen
    loan.refresh_from_db()
    assert loan.state == Loan.State.CLOSED and loan.outstanding_principal_fen == 0
    with pytest.raises(Problem) as err:
        cashier.repay(world.customer(), loan.pk, amount_fen=100, on=quote_day)
    assert err.value.status == 409  # nothing is due on a closed loan
    assert clearing_holds() == 0
    assert_consistent()


def test_only_the_borrower_pays_and_booking_needs_money_received(world: World, actors: Any) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    with pytest.raises(Problem) as err:
        payments.create_intent(kind=services.REPAYMENT_KIND, ref=services.ref_for(loan.pk), actor="x",
                               subject=world.customer("other_customer"))
    assert err.value.status == 404
    with pytest.raises(Problem) as err:  # no money arrived: booking cannot overdraw repayments received
        services.book_repayment(loan.pk, amount_fen=first.owed_fen, key="no-money", on=first.due_date, actor="test")
    assert err.value.slug == "insufficient-funds"
    assert not Repayment.objects.exists() and clearing_holds() == 0
