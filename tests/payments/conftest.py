"""Payments fixtures: a throwaway payable kind (``test.bill``) with bills in memory, two internal tender sources
(points and e-cards, flagged ledger accounts funded per payer), and the simulator reset to behave."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from carloop.core import payables
from carloop.core.authz import Subject
from carloop.core.errors import NotFound
from carloop.identity import selectors as identity
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags
from carloop.payments import selectors
from carloop.payments.models import PaymentIntent
from carloop.payments.simulator import SIMULATOR, Behaviour

KIND = "test.bill"
HELD = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


@dataclass
class Bill:
    ref: str
    payer: uuid.UUID | None
    due_fen: int
    payer_org: uuid.UUID | None = None
    paid: list[int] = field(default_factory=list)
    refunded: list[int] = field(default_factory=list)


class Bills:
    def __init__(self) -> None:
        self.bills: dict[str, Bill] = {}
        self.destination = ledger.open_account(key="test:bills", name="test bills", code=3999).id

    def add(self, payer: uuid.UUID | None, due_fen: int, payer_org: uuid.UUID | None = None) -> Bill:
        bill = Bill(ref=f"test:bill:{uuid.uuid4()}", payer=payer, due_fen=due_fen, payer_org=payer_org)
        self.bills[bill.ref] = bill
        return bill

    def lookup(self, ref: str) -> payables.Payable | None:
        bill = self.bills.get(ref)
        if bill is None:
            return None
        return payables.Payable(ref=ref, amount_due_fen=bill.due_fen - sum(bill.paid), destination_account=self.destination,
                                payer_user_id=bill.payer, payer_org_id=bill.payer_org, title_zh="测试账单", title_en="Test bill")

    def on_paid(self, paid: payables.Paid) -> None:
        self.bills[paid.ref].paid.append(paid.amount_fen)

    def on_refunded(self, refunded: payables.Refunded) -> None:
        self.bills[refunded.ref].refunded.append(refunded.amount_fen)


def tender_account(kind: str, payer: uuid.UUID | None, instrument: str = "") -> uuid.UUID:
    key = f"test:{kind}:{payer}:{instrument}"
    acct = ledger_q.account_by_key(key)
    if acct is None:
        raise NotFound()
    return acct.id


def fund(kind: str, payer: uuid.UUID, amount_fen: int, instrument: str = "") -> uuid.UUID:
    acct = ledger.open_account(key=f"test:{kind}:{payer}:{instrument}", name=f"{kind} of {payer}", code=4999, flags=HELD).id
    ledger.transfer(id=f"test:fund:{acct}:{uuid.uuid4()}", debit=ledger.system_account("external").id, credit=acct,
                    amount_fen=amount_fen, code=4999)
    return acct


CURRENT: list[Bills] = []  # the bills of the running test, for the authorization cases' setup functions


@pytest.fixture
def bills(db: None) -> Iterator[Bills]:
    registry = Bills()
    CURRENT[:] = [registry]
    real = {kind: payables.tender_source(kind) for kind in ("points", "ecard")}  # the wallet registers the e-card
    payables.register_kind(payables.PayableKind(KIND, "测试账单", "Test bill", registry.lookup, registry.on_paid,
                                                registry.on_refunded))
    for kind in ("points", "ecard"):
        payables.register_tender(payables.TenderSource(kind, kind, kind, lambda payer, inst, k=kind: tender_account(k, payer, inst)))
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []
    yield registry
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []
    for kind in (KIND, "points", "ecard"):
        payables.unregister(kind)
    for source in real.values():
        if source is not None:
            payables.register_tender(source)


@pytest.fixture
def payer(actors: Any) -> Subject:
    return identity.subject_for_user(actors.user("customer"))


def assert_consistent() -> None:
    """The ledger invariants, and every intent's ledger movements equal its state."""
    totals = ledger_q.totals()
    assert totals.get("CNY:debits_posted", 0) == totals.get("CNY:credits_posted", 0)
    assert totals.get("CNY:debits_pending", 0) == totals.get("CNY:credits_pending", 0)
    for intent in PaymentIntent.objects.all():
        assert selectors.ledger_discrepancies(intent) == [], intent.state
