"""Wallet fixtures: card products, customers (real-name verified by the harness), a merchant's bill to spend on, and
the wallet's cashier hooks registered (the payments tests register their own ``ecard`` tender for a while)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from carloop.core import payables
from carloop.core.authz import Subject
from carloop.identity import selectors as identity
from carloop.ledger import selectors as ledger_q
from carloop.payments.models import IntentState
from carloop.payments.simulator import SIMULATOR, Behaviour, pay_in_full
from carloop.wallet import services
from carloop.wallet.models import Card, CardKind, CardProduct
from tests.payments.conftest import KIND, Bills


@pytest.fixture(autouse=True)
def _wallet_hooks() -> Iterator[None]:
    services.register()
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []
    yield
    services.register()


@pytest.fixture
def products(db: None) -> dict[str, CardProduct]:
    return {
        "named": CardProduct.objects.create(code="named-2000", kind=CardKind.NAMED, name_zh="车生活记名卡 2000 元",
                                            name_en="Car life named card 2,000 yuan", face_value_fen=200_000),
        "bearer": CardProduct.objects.create(code="gift-500", kind=CardKind.BEARER, name_zh="保养礼品卡 500 元",
                                             name_en="Service gift card 500 yuan", face_value_fen=50_000),
    }


@pytest.fixture
def buyer(actors: Any) -> Subject:
    return identity.subject_for_user(actors.user("customer"))


@pytest.fixture
def friend(actors: Any) -> Subject:
    return identity.subject_for_user(actors.user("other_customer"))


@pytest.fixture
def bills(db: None) -> Iterator[Bills]:
    registry = Bills()
    payables.register_kind(payables.PayableKind(KIND, "测试账单", "Test bill", registry.lookup, registry.on_paid,
                                                registry.on_refunded))
    yield registry
    payables.unregister(KIND)


def bought(subject: Subject, product: CardProduct, code: str | None = None) -> Card:
    """``subject`` buys one card of ``product`` and pays for it at the cashier (the simulator)."""
    load = services.buy(subject, product_code=product.code, actor=subject.ref, code=code)
    intent = pay_in_full(kind=services.LOAD_KIND, ref=load.ref, subject=subject)
    assert intent.state == IntentState.SUCCEEDED, (intent.state, intent.failure)
    return Card.objects.get(pk=load.card_id)


def balance(card: Card) -> int:
    return ledger_q.balance(card.account_id).balance_fen


def assert_ledger_holds() -> None:
    totals = ledger_q.totals()
    assert totals.get("CNY:debits_posted", 0) == totals.get("CNY:credits_posted", 0)
    assert totals.get("CNY:debits_pending", 0) == totals.get("CNY:credits_pending", 0)
    for card in Card.objects.all():
        b = ledger_q.balance(card.account_id)
        assert 0 <= b.available_fen <= b.balance_fen <= card.limit_fen
