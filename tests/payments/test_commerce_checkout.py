"""A car order's deposit and balance paid through the cashier's pages: checkout → the provider's scan-to-pay page
→ the result page, which polls until the payment settles. Commerce records the payment; the money is in its
held accounts exactly once."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from carloop.commerce import ledger_flows
from carloop.commerce.models import CarOrder, OrderState
from carloop.ledger import selectors as ledger_q
from carloop.payments import services
from carloop.payments.models import PaymentIntent, SimulatorOrder
from carloop.payments.simulator import SIMULATOR, Behaviour
from tests.commerce.factories import make_trim
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
