"""PostgreSQL: the one-statement fast path for single transfers and holds answers exactly as the general path.

The parity test runs the same random sequence of operations twice on fresh accounts, once as the service runs
(fast path first) and once with the fast path switched off, and compares every answer, every balance after
every step and the stored transfers in ``seq`` order. The sequences include what must be refused: overdrafts
and limits (accounts with either flag), a missing account, the same account twice, amounts and codes out of
range, long memos, timeouts on plain transfers, ids reused with the same and with different content, and
holds that are posted (fully, partially, too much) and voided.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from typing import Any
from unittest import mock

import psycopg
import pytest
from django.db import connection, transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carloop.core.errors import Problem
from carloop.ledger import engine
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, TransferResult, TransferSpec
from carloop.ledger.models import Transfer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

DR_LIMIT = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CR_LIMIT = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS
FLAGS = (AccountFlags.NONE, DR_LIMIT, CR_LIMIT, DR_LIMIT)
MISSING = len(FLAGS)  # the account index that names no account

accounts_ = st.integers(min_value=0, max_value=MISSING)
# Small amounts, so that balances hit a limit exactly (the boundary a `<` for `<=` would get wrong).
amounts = st.one_of(st.integers(min_value=1, max_value=9), st.sampled_from([0, engine.MAX_AMOUNT_FEN + 1]))
new_transfers = st.tuples(
    st.just("transfer"), accounts_, accounts_, amounts,
    st.sampled_from([1, 7, 0]),  # code; 0 is out of range
    st.booleans(),  # pending
    st.sampled_from([0, 0, 3_600]),  # timeout; on a plain transfer it is refused
    st.sampled_from(["", "memo", "x" * (engine.MAX_MEMO + 1)]),
)
reuses = st.tuples(st.just("reuse"), st.integers(min_value=0), st.sampled_from(["same", "same", "amount", "credit"]))
resolutions = st.tuples(
    st.sampled_from(["post", "void"]), st.integers(min_value=0), st.one_of(st.none(), st.integers(1, 9))
)
deltas = st.sampled_from([-1, 0, 0, 1])
drains = st.one_of(  # from a debit-limited account, or into the credit-limited one
    st.tuples(st.just("drain"), st.sampled_from([1, 3]), accounts_, deltas, st.booleans()),
    st.tuples(st.just("drain"), accounts_, st.just(2), deltas, st.booleans()),
)
operations = st.lists(st.one_of(new_transfers, new_transfers, drains, reuses, resolutions), min_size=1, max_size=14)


def _spec(
    op: tuple[Any, ...], tid: str, done: list[TransferSpec], accounts: list[uuid.UUID], headroom: dict[int, int]
) -> TransferSpec:
    """Operation ``op`` as a spec with the id ``tid``; ``done`` are the specs submitted before it (a reuse or a
    resolution refers to one of them), ``headroom`` what each limited account can still take right now."""
    if op[0] in ("transfer", "drain"):
        if op[0] == "drain":  # exactly the limited side's headroom (or one more or less): the limit's boundary
            _, debit, credit, delta, pending = op
            room = headroom.get(debit, 1) if FLAGS[debit % MISSING] & DR_LIMIT else headroom.get(credit, 1)
            amount, code, timeout, memo = max(1, room + delta), 1, 0, ""
        else:
            _, debit, credit, amount, code, pending, timeout, memo = op
        return TransferSpec(
            id=tid, debit=accounts[debit], credit=accounts[credit], amount_fen=amount, code=code, memo=memo,
            pending=pending, timeout_seconds=timeout, actor="test",
        )
    if not done:
        return TransferSpec(id=tid, debit=accounts[0], credit=accounts[1], amount_fen=1, code=1)
    if op[0] == "reuse":
        earlier = done[op[1] % len(done)]
        if op[2] == "amount":
            return replace(earlier, amount_fen=(earlier.amount_fen or 0) + 1)
        if op[2] == "credit":
            return replace(earlier, credit=accounts[0] if earlier.credit != accounts[0] else accounts[1])
        return earlier
    ref = done[op[1] % len(done)].id
    if op[0] == "post":
        return TransferSpec(id=tid, post_pending_id=ref, amount_fen=op[2])
    return TransferSpec(id=tid, void_pending_id=ref)


def _outcome(result: Callable[[], TransferResult], name: dict[Any, Any]) -> tuple[Any, ...]:
    """What a caller sees, with ids and accounts replaced by run-independent names."""
    try:
        r = result()
    except Problem as exc:
        return ("problem", exc.status, exc.slug, [e.pointer for e in exc.errors], exc.extra)
    return (
        "ok", r.replayed, name[r.id], name[r.debit], name[r.credit], r.amount_fen, r.code, int(r.flags),
        name.get(r.pending_id), r.memo, r.actor, r.expires_at and r.expires_at - r.created_at,
    )


def _run(ops: list[tuple[Any, ...]], *, fast: bool, callers_transaction: bool) -> tuple[Any, ...]:
    ns = uuid.uuid4().hex
    accounts = [
        ledger.open_account(key=f"fast:{ns}:{i}", name=f"fast {i}", code=1999, flags=flags).id
        for i, flags in enumerate(FLAGS)
    ]
    accounts.append(uuid.uuid4())  # MISSING
    name: dict[Any, Any] = {acct: f"a{i}" for i, acct in enumerate(accounts)}
    answered_fast = 0
    real = ledger._fast_single

    def fast_single(spec: TransferSpec) -> TransferResult | None:
        nonlocal answered_fast
        result = real(spec) if fast else None
        answered_fast += result is not None
        return result

    specs: list[TransferSpec] = []
    outcomes, balances = [], []
    headroom: dict[int, int] = {}
    with mock.patch.object(ledger, "_fast_single", fast_single), (
        transaction.atomic() if callers_transaction else nullcontext()
    ):
        for i, op in enumerate(ops):
            spec = _spec(op, f"{ns}:{i}", specs, accounts, headroom)
            specs.append(spec)
            name.setdefault(spec.uuid, f"t{i}")
            outcomes.append(_outcome(lambda spec=spec: ledger.submit(spec), name))
            now = [ledger_q.balances(accounts)[a] for a in accounts[:MISSING]]
            balances.append([(b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending) for b in now])
            headroom = {
                j: b.credits_posted - b.debits_posted - b.debits_pending if b.flags & DR_LIMIT
                else b.debits_posted - b.credits_posted - b.credits_pending
                for j, b in enumerate(now) if b.flags & (DR_LIMIT | CR_LIMIT)
            }
    stored = [
        (name[t.id], name[t.debit_id], name[t.credit_id], t.amount_fen, t.code, t.flags, name.get(t.pending_id),
         t.timeout_seconds, t.expires_at and t.expires_at - t.created_at, t.memo, t.actor, t.debit_balance_after,
         t.credit_balance_after)
        for t in Transfer.objects.filter(pk__in=list({s.uuid for s in specs})).order_by("seq")
    ]
    new_plain_or_holds = sum(
        1 for spec, out in zip(specs, outcomes, strict=True)
        if out[0] == "ok" and not out[1] and spec.kind in ("single", "pending")
    )
    if fast:  # whatever the engine accepts as a new transfer or hold, the statement accepted
        assert answered_fast == new_plain_or_holds
    return outcomes, balances, stored


@pytest.mark.parametrize("callers_transaction", [False, True], ids=["autocommit", "in-callers-transaction"])
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=operations)
def test_the_fast_path_answers_and_books_exactly_as_the_general_path(
    callers_transaction: bool, ops: list[tuple[Any, ...]]
) -> None:
    fast = _run(ops, fast=True, callers_transaction=callers_transaction)
    general = _run(ops, fast=False, callers_transaction=callers_transaction)
    assert fast == general


def _funded() -> tuple[uuid.UUID, uuid.UUID]:
    world = ledger.system_account("external").id
    wallet = ledger.open_account(key="fast:wallet", name="wallet", code=1999, flags=DR_LIMIT).id
    ledger.transfer(id="fast:fund", debit=world, credit=wallet, amount_fen=10_000, code=1)
    return world, wallet


@contextmanager
def _statements() -> Iterator[list[str]]:
    """Every statement psycopg sends on any connection (Django's cursors are psycopg cursors too)."""
    sent: list[str] = []
    real = psycopg.Cursor.execute

    def execute(self: psycopg.Cursor[Any], query: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(str(query))
        return real(self, query, *args, **kwargs)

    with mock.patch.object(psycopg.Cursor, "execute", execute):
        yield sent


def test_a_transfer_outside_a_transaction_is_one_statement_and_nothing_else() -> None:
    world, wallet = _funded()
    with _statements() as sent:
        result = ledger.transfer(id="fast:one", debit=wallet, credit=world, amount_fen=2_500, code=2)
    assert len(sent) == 1 and sent[0].startswith("WITH acct AS MATERIALIZED")
    assert connection.connection.info.transaction_status == psycopg.pq.TransactionStatus.IDLE  # committed
    assert not result.replayed
    assert ledger_q.balance(wallet).balance_fen == 7_500
    line = ledger_q.statement(wallet).lines[0]
    assert (line.transfer_id, line.balance_after_fen) == (result.id, 7_500)


def test_the_statement_is_prepared_after_a_few_uses() -> None:
    world, wallet = _funded()
    for i in range(8):
        ledger.transfer(id=f"fast:prep:{i}", debit=wallet, credit=world, amount_fen=1 + i, code=2)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE 'WITH acct AS MATERIALIZED%%'")
        assert cursor.fetchone()[0] == 1


def test_a_connection_whose_prepared_statements_the_server_lost_is_replaced_and_the_transfer_retried() -> None:
    """The crash probe once saw psycopg's record of prepared statements out of step with the server's
    ("prepared statement … already exists"): such a connection is replaced and the transfer retried, like a lost one."""
    world, wallet = _funded()
    for i in range(8):
        ledger.transfer(id=f"fast:stale:{i}", debit=wallet, credit=world, amount_fen=1, code=2)
    before = connection.connection
    before.pgconn.exec_(b"DEALLOCATE ALL")  # behind psycopg's back: it still thinks the statement is prepared
    result = ledger.transfer(id="fast:stale:after", debit=wallet, credit=world, amount_fen=1, code=2)
    assert not result.replayed and connection.connection is not before
    assert ledger_q.balance(wallet).balance_fen == 10_000 - 9


@pytest.mark.parametrize("callers_transaction", [False, True], ids=["autocommit", "in-callers-transaction"])
def test_a_check_violation_on_the_fast_path_is_a_409_and_the_callers_work_survives(
    monkeypatch: pytest.MonkeyPatch, callers_transaction: bool
) -> None:
    """Should the rendered limits and the CHECK constraints ever disagree, the caller gets a clear 409."""
    world, wallet = _funded()
    monkeypatch.setattr(engine, "SIDES", tuple(replace(side, limit=AccountFlags.NONE) for side in engine.SIDES))
    with transaction.atomic() if callers_transaction else nullcontext():
        with pytest.raises(Problem) as exc:
            ledger.transfer(id="fast:overdraw", debit=wallet, credit=world, amount_fen=10_001, code=2)
        assert (exc.value.status, exc.value.slug) == (409, "insufficient-funds")
        ledger.transfer(id="fast:after", debit=wallet, credit=world, amount_fen=1, code=2)
    assert ledger_q.balance(wallet).balance_fen == 9_999
