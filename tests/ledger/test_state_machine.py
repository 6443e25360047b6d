"""Random operations against the database ledger and a simple in-memory model must agree at every step."""

from __future__ import annotations

import uuid

import pytest
from django.db import transaction
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test

from carloop.core.errors import Problem
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, TransferSpec
from tests.ledger.model import ModelAccount, ModelLedger

FLAGS = [
    AccountFlags.NONE,
    AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
]
amounts = st.integers(min_value=1, max_value=5_000)


class LedgerMachine(RuleBasedStateMachine):
    accounts = Bundle("accounts")

    def __init__(self) -> None:
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.model = ModelLedger()
        self.counter = 0

    def teardown(self) -> None:
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def next_id(self) -> str:
        self.counter += 1
        return f"sm:{self.counter}"

    @initialize(target=accounts)
    def source(self) -> uuid.UUID:
        acct = ledger.system_account("external").id
        self.model.accounts[acct] = ModelAccount(0)
        return acct

    @rule(target=accounts, flags=st.sampled_from(FLAGS))
    def open_account(self, flags: AccountFlags) -> uuid.UUID:
        acct = ledger.open_account(key=f"sm:acct:{len(self.model.accounts)}", name="x", code=1999, flags=flags).id
        self.model.accounts[acct] = ModelAccount(int(flags))
        return acct

    @rule(debit=accounts, credit=accounts, amount=amounts, pending=st.booleans())
    def transfer(self, debit: uuid.UUID, credit: uuid.UUID, amount: int, pending: bool) -> None:
        tid = self.next_id()
        try:
            result = ledger.transfer(id=tid, debit=debit, credit=credit, amount_fen=amount, code=1, pending=pending)
        except Problem as exc:
            expected = "same-account" if debit == credit else "insufficient-funds"
            assert exc.slug == expected
            assert debit == credit or not self.model.can(debit, credit, amount)
            return
        assert debit != credit and self.model.can(debit, credit, amount)
        self.model.apply(result.id, "pending" if pending else "single", debit, credit, amount)

    @rule(data=st.data())
    def linked_batch(self, data: st.DataObject) -> None:
        ids = list(self.model.accounts)
        n = data.draw(st.integers(min_value=2, max_value=4))
        legs = [
            (data.draw(st.sampled_from(ids)), data.draw(st.sampled_from(ids)), data.draw(amounts)) for _ in range(n)
        ]
        specs = [TransferSpec(id=self.next_id(), debit=d, credit=c, amount_fen=a, code=1) for d, c, a in legs]
        trial = ModelLedger(
            accounts={k: ModelAccount(v.flags, v.dp, v.cp, v.dpe, v.cpe) for k, v in self.model.accounts.items()}
        )
        feasible = True
        for spec in specs:
            assert spec.debit is not None and spec.credit is not None and spec.amount_fen is not None
            if spec.debit == spec.credit or not trial.can(spec.debit, spec.credit, spec.amount_fen):
                feasible = False
                break
            trial.apply(spec.uuid, "single", spec.debit, spec.credit, spec.amount_fen)
        try:
            ledger.transfer_batch(specs)
        except Problem:
            assert not feasible
            return
        assert feasible
        for spec in specs:
            assert spec.debit is not None and spec.credit is not None and spec.amount_fen is not None
            self.model.apply(spec.uuid, "single", spec.debit, spec.credit, spec.amount_fen)

    @rule(data=st.data(), partial=st.booleans(), void=st.booleans())
    def resolve(self, data: st.DataObject, partial: bool, void: bool) -> None:
        if not self.model.open_pendings:
            return
        pid = data.draw(st.sampled_from(sorted(self.model.open_pendings)))
        held = self.model.transfers[pid][3]
        tid = self.next_id()
        if void:
            voided = ledger.void_pending(id=tid, pending_id=pid)
            assert voided.amount_fen == held
            self.model.resolve(voided.id, pid, None)
            return
        amount = data.draw(st.integers(min_value=1, max_value=held)) if partial else None
        result = ledger.post_pending(id=tid, pending_id=pid, amount_fen=amount)
        assert result.amount_fen == (amount or held)
        self.model.resolve(result.id, pid, result.amount_fen)
        with pytest.raises(Problem, match="pending-already-resolved"):
            ledger.void_pending(id=self.next_id(), pending_id=pid)

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        singles = [(tid, t) for tid, t in self.model.transfers.items() if t[0] == "single"]
        if not singles:
            return
        tid, (_, debit, credit, amount) = data.draw(st.sampled_from(singles))
        stored = ledger_q.get_transfer(tid)
        assert stored is not None
        again = ledger.transfer(id=tid, debit=debit, credit=credit, amount_fen=amount, code=stored.code)
        assert again.replayed and again.created_at == stored.created_at
        with pytest.raises(Problem, match="transfer-id-reused"):
            ledger.transfer(id=tid, debit=debit, credit=credit, amount_fen=amount + 1, code=stored.code)

    @invariant()
    def balances_match_the_model(self) -> None:
        got = ledger_q.balances(list(self.model.accounts))
        for acct, m in self.model.accounts.items():
            b = got[acct]
            assert (b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending) == (m.dp, m.cp, m.dpe, m.cpe)
            if m.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
                assert b.debits_posted + b.debits_pending <= b.credits_posted
            if m.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS:
                assert b.credits_posted + b.credits_pending <= b.debits_posted
        totals = ledger_q.totals()
        assert totals["CNY:debits_posted"] == totals["CNY:credits_posted"]
        assert totals["CNY:debits_pending"] == totals["CNY:credits_pending"]


@pytest.mark.django_db
def test_ledger_agrees_with_the_model() -> None:
    run_state_machine_as_test(
        LedgerMachine,
        settings=settings(
            max_examples=25, stateful_step_count=30, deadline=None, suppress_health_check=list(HealthCheck)
        ),
    )
