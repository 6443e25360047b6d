"""A ledger call survives deadlocks, serialization failures and lost connections; constraint violations are problems.

The PostgreSQL tests drive a second session (plain psycopg) against Django's: it holds a row lock the ledger call
needs, waits until the call is blocked on it, then creates the failure (a lock cycle, a concurrent update under
REPEATABLE READ, ``pg_terminate_backend``). Outside a caller's transaction the ledger retries (a transfer
replays safely by its id); inside one it cannot, and says so with a 503 problem.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from django.core.management import call_command
from django.db import close_old_connections, connection, transaction

from carloop.core.errors import Problem
from carloop.ledger import engine
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, TransferSpec

DR_LIMIT = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS


def _accounts() -> tuple[uuid.UUID, uuid.UUID]:
    """Two accounts, in primary-key order (the order a ledger call locks them), the first funded."""
    world = ledger.system_account("external").id
    low, high = sorted(
        ledger.open_account(key=f"res:{i}", name=f"res {i}", code=1999, flags=DR_LIMIT).id for i in range(2)
    )
    ledger.transfer(id="res:fund", debit=world, credit=low, amount_fen=100_000, code=1)
    return low, high


def _session() -> psycopg.Connection[Any]:
    s = connection.settings_dict
    return psycopg.connect(
        dbname=s["NAME"], user=s["USER"], password=s["PASSWORD"] or None, host=s["HOST"] or None,
        port=s["PORT"] or None, autocommit=True,
    )


def _backend_pid() -> int:
    connection.ensure_connection()
    pid: int = connection.connection.info.backend_pid
    return pid


def _wait_until_blocked(watch: psycopg.Connection[Any], pid: int, timeout: float = 10.0) -> None:  # float-ok: seconds
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = watch.execute("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()
        if row and row[0] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


def _wait_until_gone(watch: psycopg.Connection[Any], pid: int) -> None:
    for _ in range(500):
        if watch.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone() is None:
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} is still there")


def _in_background(action: Callable[[], None]) -> Callable[[], None]:
    """Run ``action`` in a thread; the returned join re-raises what it raised."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            action()
        except BaseException as exc:  # re-raised in the test's thread
            failure.append(exc)

    thread = threading.Thread(target=run)
    thread.start()

    def join() -> None:
        thread.join(30)
        assert not thread.is_alive()
        if failure:
            raise failure[0]

    return join


@pytest.fixture
def sessions() -> Iterator[tuple[psycopg.Connection[Any], psycopg.Connection[Any]]]:
    other, watch = _session(), _session()
    yield other, watch
    other.close()
    watch.close()
    connection.close()  # session settings changed by a test must not leak into the next one


def _moved(low: uuid.UUID, high: uuid.UUID, amount: int) -> None:
    assert ledger_q.balance(low).balance_fen == 100_000 - amount
    assert ledger_q.balance(high).balance_fen == amount


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_deadlock_is_retried(sessions: tuple[psycopg.Connection[Any], psycopg.Connection[Any]]) -> None:
    other, watch = sessions
    low, high = _accounts()
    with connection.cursor() as cursor:  # this session detects the cycle (and is the victim), quickly
        cursor.execute("SET deadlock_timeout = '50ms'")
    pid = _backend_pid()
    other.execute("BEGIN")
    other.execute("SET LOCAL deadlock_timeout = '10s'")
    other.execute("SELECT 1 FROM ledger_account WHERE id = %s FOR UPDATE", [high])

    def close_the_cycle() -> None:
        _wait_until_blocked(watch, pid)  # the ledger call holds `low` and waits for `high`
        other.execute("SELECT 1 FROM ledger_account WHERE id = %s FOR UPDATE", [low])
        other.execute("COMMIT")

    join = _in_background(close_the_cycle)
    result = ledger.transfer(id="res:deadlock", debit=low, credit=high, amount_fen=1_000, code=2)
    join()
    assert not result.replayed
    _moved(low, high, 1_000)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_serialization_failure_is_retried(sessions: tuple[psycopg.Connection[Any], psycopg.Connection[Any]]) -> None:
    other, watch = sessions
    low, high = _accounts()
    with connection.cursor() as cursor:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    pid = _backend_pid()
    other.execute("BEGIN")
    other.execute("UPDATE ledger_account SET updated_at = now() WHERE id = %s", [low])

    def commit_under_it() -> None:
        _wait_until_blocked(watch, pid)  # the call's snapshot predates this commit: 40001 when it gets the row
        other.execute("COMMIT")

    join = _in_background(commit_under_it)
    ledger.transfer(id="res:serialization", debit=low, credit=high, amount_fen=2_000, code=2)
    join()
    _moved(low, high, 2_000)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_backend_terminated_mid_call_is_retried_on_a_fresh_connection(
    sessions: tuple[psycopg.Connection[Any], psycopg.Connection[Any]],
) -> None:
    other, watch = sessions
    low, high = _accounts()
    pid = _backend_pid()
    other.execute("BEGIN")
    other.execute("SELECT 1 FROM ledger_account WHERE id = %s FOR UPDATE", [low])

    def terminate() -> None:
        _wait_until_blocked(watch, pid)
        watch.execute("SELECT pg_terminate_backend(%s)", [pid])  # 57P01 admin_shutdown in the waiting call
        other.execute("COMMIT")

    join = _in_background(terminate)
    ledger.transfer(id="res:terminated", debit=low, credit=high, amount_fen=3_000, code=2)
    join()
    assert _backend_pid() != pid
    _moved(low, high, 3_000)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_while_idle_is_retried(
    sessions: tuple[psycopg.Connection[Any], psycopg.Connection[Any]],
) -> None:
    _, watch = sessions
    low, high = _accounts()
    pid = _backend_pid()
    watch.execute("SELECT pg_terminate_backend(%s)", [pid])  # the next statement finds the server gone
    _wait_until_gone(watch, pid)
    ledger.transfer(id="res:idle", debit=low, credit=high, amount_fen=4_000, code=2)
    _moved(low, high, 4_000)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("error", [
    psycopg.DatabaseError('server sent data ("D" message) without prior row description ("T" message)'),
    psycopg.InternalError("got no result from the query"),
], ids=["stray-data", "no-result"])
def test_a_connection_out_of_step_with_the_server_is_replaced_and_the_call_retried(
    monkeypatch: pytest.MonkeyPatch, error: psycopg.Error
) -> None:
    """What the crash probe saw callers get from a connection dying under pg_terminate_backend: client-side
    protocol errors with no SQLSTATE. The connection is replaced and the call retried (its id makes it safe)."""
    low, high = _accounts()
    real, failed = ledger._attempt, []

    def once(specs: Any, batch: bool) -> Any:
        if not failed:
            failed.append(connection.connection)
            with connection.wrap_database_errors:
                raise error
        return real(specs, batch)

    monkeypatch.setattr(ledger, "_attempt", once)
    ledger.transfer(id="res:stray", debit=low, credit=high, amount_fen=4_000, code=2)
    _moved(low, high, 4_000)
    assert connection.connection is not failed[0]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_inside_a_callers_transaction_a_lost_connection_is_a_503_and_the_next_unit_of_work_reconnects(
    sessions: tuple[psycopg.Connection[Any], psycopg.Connection[Any]],
) -> None:
    _, watch = sessions
    low, high = _accounts()
    pid = _backend_pid()
    with pytest.raises(Problem) as exc, transaction.atomic():
        ledger_q.balance(low)  # the caller's own work
        watch.execute("SELECT pg_terminate_backend(%s)", [pid])
        _wait_until_gone(watch, pid)
        ledger.transfer(id="res:in-atomic", debit=low, credit=high, amount_fen=5_000, code=2)
    assert (exc.value.status, exc.value.slug) == (503, "retry-transaction")
    close_old_connections()  # what the worker, the scheduler and every request do between units of work
    _moved(low, high, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_the_scheduler_loop_drops_a_dead_connection(
    sessions: tuple[psycopg.Connection[Any], psycopg.Connection[Any]],
) -> None:
    _, watch = sessions
    pid = _backend_pid()
    watch.execute("SELECT pg_terminate_backend(%s)", [pid])
    _wait_until_gone(watch, pid)
    call_command("scheduler", "--once")
    assert _backend_pid() != pid


@pytest.mark.django_db(transaction=True)
def test_a_check_constraint_violation_is_a_409_problem(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should the rules and the database's CHECK constraints ever disagree, the caller gets a clear 409."""
    low, high = _accounts()
    real = engine.apply_batch

    def without_limits(specs: Any, accounts: Any, pendings: Any, now: Any) -> Any:
        for state in accounts.values():
            state.flags = AccountFlags.NONE
        return real(specs, accounts, pendings, now)

    monkeypatch.setattr(engine, "apply_batch", without_limits)
    with pytest.raises(Problem) as exc:
        ledger.transfer_batch([TransferSpec(id="res:overdraw", debit=low, credit=high, amount_fen=100_001, code=2)])
    assert (exc.value.status, exc.value.slug) == (409, "insufficient-funds")
    _moved(low, high, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_connection_left_inside_a_transaction_does_not_swallow_a_transfer(
    sessions: tuple[psycopg.Connection[Any], psycopg.Connection[Any]],
) -> None:
    """Outside a caller's transaction a transfer's statement commits by itself. A connection that something left
    inside an open transaction (a failed COMMIT, a driver error) must not take it in: the caller would be told
    "ok" for a write that a later termination rolls back (the crash probe saw one acknowledged transfer missing)."""
    _, watch = sessions
    low, high = _accounts()
    raw = connection.connection
    raw.autocommit = False
    raw.execute("SELECT 1")  # an implicit transaction is now open on Django's connection
    ledger.transfer(id="res:left-open", debit=low, credit=high, amount_fen=3_000, code=2)
    seen = watch.execute("SELECT count(*) FROM ledger_transfer WHERE memo = '' AND amount_fen = 3000").fetchone()
    assert seen == (1,)  # committed: another session sees it
