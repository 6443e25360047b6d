"""A car order's deposit and balance paid through the cashier's pages: checkout → the provider's scan-to-pay page
→ the result page, which polls until the payment settles. Commerce records the payment; the money is in its
held accounts exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from carloop.commerce import ledger_flows
from carloop.commerce.models import CarOrder, OrderState
from carloop.core.errors import Problem
from carloop.ledger import selectors as ledger_q
from carloop.payments import services
from carloop.payments.models import PaymentIntent, SimulatorOrder
from carloop.payments.simulator import SIMULATOR, Behaviour
from tests.commerce.factories import as_subject, make_trim
from tests.payments.conftest import assert_consistent

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _simulator() -> Any:
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []
    yield
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []


def browser(actors: Any, kind: str) -> Client:
    client = Client()
    client.force_login(actors.user(kind))
    return client


def checkout(client: Client, kind: str, order: CarOrder, capture: Any) -> PaymentIntent:
    page = client.get("/payments/checkout/", {"kind": kind, "ref": order.ref})
    assert page.status_code == 200, page.content[:300]
    intent = PaymentIntent.objects.get(kind=kind, ref=order.ref, state="created")
    paid = client.post(f"/payments/intents/{intent.pk}/pay/", {"method": "simulator"})
    assert paid.status_code == 302 and "/payments/sim/pay/" in paid.url
    provider_page = client.get(paid.url)
    assert provider_page.status_code == 200 and b"<svg" in provider_page.content
    with capture(execute=True):
        assert client.post(paid.url).status_code == 200
    result = client.get(f"/payments/intents/{intent.pk}/status/")
    assert result.status_code == 200
    intent.refresh_from_db()
    return intent


def test_deposit_and_balance_through_the_cashier(actors: Any, django_capture_on_commit_callbacks: Any) -> None:
    trim = make_trim()
    client = browser(actors, "customer")
    client.post(f"/commerce/configure/{trim.pk}/order/", {"colour_code": "white", "deposit_kind": "binding"})
    order = CarOrder.objects.get()
    assert "/payments/checkout/" in client.get(f"/commerce/orders/{order.pk}/").content.decode()
    deposit = checkout(client, "commerce.deposit", order, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert deposit.state == "succeeded" and order.state == OrderState.DEPOSIT_PAID
    balance = checkout(client, "commerce.balance", order, django_capture_on_commit_callbacks)
    order.refresh_from_db()
    assert balance.state == "succeeded" and order.state == OrderState.BALANCE_PAID
    assert order.balance_reference == f"payments:intent:{balance.pk}"
    assert ledger_q.balance(ledger_flows.account_id("deposits_held")).balance_fen == order.deposit_fen
    assert ledger_q.balance(ledger_flows.account_id("balances_held")).balance_fen == order.balance_held_fen
    assert client.get("/payments/checkout/", {"kind": "commerce.deposit", "ref": order.ref}).status_code == 409
    assert browser(actors, "other_customer").get(
        "/payments/checkout/", {"kind": "commerce.balance", "ref": order.ref}).status_code == 404
    assert_consistent()


def test_a_payment_for_an_order_withdrawn_meanwhile_is_refunded(actors: Any, django_capture_on_commit_callbacks: Any) -> None:
    from carloop.commerce import services as commerce
    from carloop.identity import selectors as identity

    trim = make_trim()
    client = browser(actors, "customer")
    client.post(f"/commerce/configure/{trim.pk}/order/", {"colour_code": "white", "deposit_kind": "binding"})
    order = CarOrder.objects.get()
    payer = identity.subject_for_user(actors.user("customer"))
    intent = services.create_intent(kind="commerce.deposit", ref=order.ref, subject=payer, actor=payer.ref)
    intent = services.confirm(intent_id=intent.pk, subject=payer, tenders=[], method="simulator", actor=payer.ref)
    commerce.cancel(payer, order_id=order.pk)  # the buyer withdrew while the payment was under way
    order_no = intent.tenders.get().provider_order_no
    assert order_no
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no)
    intent.refresh_from_db()
    assert intent.state == "failed" and intent.refunds.get().late  # commerce refused it: the money goes back
    assert SimulatorOrder.objects.get(order_no=order_no).status == "SUCCESS"
    assert ledger_q.balance(ledger_flows.account_id("deposits_held")).balance_fen == 0
    assert_consistent()


def _paid_order(actors: Any, *, balance: bool) -> CarOrder:
    from carloop.commerce import services as commerce
    from tests.commerce.factories import pay_balance, pay_deposit

    order = commerce.create_order(as_subject(actors.user("customer")), trim_id=make_trim().pk, colour_code="white")
    pay_deposit(order)
    return pay_balance(order) if balance else order


def _held(name: str) -> int:
    return ledger_q.balance(ledger_flows.account_id(name)).balance_fen


def test_a_cancelled_order_is_refunded_by_the_cashier_from_the_intents_that_paid_it(actors: Any) -> None:
    from carloop.commerce import services as commerce

    order = _paid_order(actors, balance=True)
    SIMULATOR.behaviour = Behaviour(refunds="sync")
    order = commerce.cancel(as_subject(actors.user("customer")), order_id=order.pk)
    deposit = PaymentIntent.objects.get(kind="commerce.deposit", ref=order.ref)
    balance = PaymentIntent.objects.get(kind="commerce.balance", ref=order.ref)
    assert (deposit.refunded_fen, balance.refunded_fen) == (order.deposit_fen, order.balance_due_fen)
    assert order.deposit_refund_fen == order.deposit_fen and order.balance_refund_fen == order.balance_due_fen
    assert {r.state for r in (*deposit.refunds.all(), *balance.refunds.all())} == {"succeeded"}
    assert _held("deposits_held") == 0 and _held("balances_held") == 0
    assert_consistent()


def test_seller_default_refunds_the_deposit_through_the_cashier_and_a_pending_provider_refund_completes_later(
        actors: Any, django_capture_on_commit_callbacks: Any) -> None:
    from carloop.commerce import services as commerce
    from tests.commerce.factories import OPERATIONS

    order = _paid_order(actors, balance=False)
    SIMULATOR.behaviour = Behaviour(refunds="async")
    with django_capture_on_commit_callbacks(execute=True):
        order = commerce.seller_cannot_deliver(OPERATIONS, order_id=order.pk, reason="no stock")
    deposit = PaymentIntent.objects.get(kind="commerce.deposit", ref=order.ref)
    assert deposit.refunded_fen == order.deposit_fen and deposit.refunds.get().state == "succeeded"
    assert order.state == OrderState.REFUNDED and _held("deposits_held") == 0
    assert_consistent()


def test_finance_operations_cannot_refund_a_car_order_payment_around_the_order(actors: Any) -> None:
    order = _paid_order(actors, balance=False)
    deposit = PaymentIntent.objects.get(kind="commerce.deposit", ref=order.ref)
    with pytest.raises(Problem) as info:
        services.refund(intent_id=deposit.pk, amount_fen=100, reason="x", actor="finops")
    assert (info.value.status, info.value.slug) == (409, "refund-through-owner")
    deposit.refresh_from_db()
    assert deposit.refunded_fen == 0 and _held("deposits_held") == order.deposit_fen
    assert_consistent()


def test_a_loan_pays_part_of_the_balance_and_the_down_payment_is_paid_at_the_cashier(actors: Any) -> None:
    from carloop.commerce import services as commerce
    from carloop.identity import selectors as identity
    from carloop.payments.simulator import pay_in_full

    order = _paid_order(actors, balance=False)
    loan_fen = order.balance_due_fen - 2_000_000
    buyer = actors.user("customer")
    assert commerce.record_loan_disbursed(order_ref=order.ref, amount_fen=loan_fen, loan_ref="L1",
                                          customer_user_id=str(buyer.pk))
    assert not commerce.record_loan_disbursed(order_ref=order.ref, amount_fen=loan_fen, loan_ref="L1")  # a replay
    order.refresh_from_db()
    assert order.state == OrderState.DEPOSIT_PAID and order.balance_owed_fen == 2_000_000
    intent = pay_in_full(kind="commerce.balance", ref=order.ref, subject=identity.subject_for_user(buyer))
    order.refresh_from_db()
    assert intent.amount_fen == 2_000_000 and intent.title_en.startswith("Car order down payment")
    assert (order.state, order.balance_method, order.balance_reference) == (OrderState.BALANCE_PAID, "loan", "L1")
    assert order.balance_held_fen == 2_000_000 == _held("balances_held")
    SIMULATOR.behaviour = Behaviour(refunds="sync")
    order = commerce.cancel(as_subject(actors.user("customer")), order_id=order.pk)
    intent.refresh_from_db()
    assert intent.refunded_fen == 2_000_000 and order.balance_refund_fen == 2_000_000 and _held("balances_held") == 0
    assert_consistent()
