"""COB works the book in chunks of loans, each in its own transaction, and resumes after a crash without booking
anything twice; a payoff quote reads without row locks."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import OperationalError, connection, transaction

from carloop.core.models import Event
from carloop.finance import cob
from carloop.finance.models import CobRun, Installment, Loan
from carloop.finance.services import servicing
from tests.finance import cashier

from .conftest import World


def _book(world: World, n: int = 3) -> list[Loan]:
    kinds = ["customer", "other_customer"]
    return sorted((world.loan(kind=kinds[k % 2]) for k in range(n)), key=lambda loan: loan.pk)


def _late_day(loan: Loan) -> Any:
    return loan.installments.get(period=1).due_date + timedelta(days=5)  # overdue, past the 3 grace days


def _penalties(loans: list[Loan]) -> list[int]:
    return [Installment.objects.get(loan=loan, period=1).penalty_fen for loan in loans]


def test_each_chunk_of_loans_is_closed_for_the_day(world: World) -> None:
    loans = _book(world)
    first_due = loans[0].installments.get(period=1).due_date
    for k in range(6):
        stats = cob.run(first_due + timedelta(days=k), chunk_size=2)
    assert stats["loans"] == 3 and stats["chunks"] == 2
    assert stats["buckets"]["1-30"] == 3 and stats["became_overdue"] == 0
    assert all(p > 0 for p in _penalties(loans))
    assert set(Loan.objects.values_list("cob_through", flat=True)) == {first_due + timedelta(days=5)}


def test_a_rerun_after_a_crash_mid_way_continues_and_books_nothing_twice(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    loans = _book(world)
    day = _late_day(loans[0])
    cob.run(day - timedelta(days=1), chunk_size=1)
    charged_before = _penalties(loans)
    process = cob._process_chunk
    calls = {"n": 0}

    def crashing(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OperationalError("server closed the connection unexpectedly")  # the process or server died
        return process(*args, **kwargs)

    monkeypatch.setattr(cob, "_process_chunk", crashing)
    with pytest.raises(OperationalError):
        cob.run(day, chunk_size=1)
    monkeypatch.setattr(cob, "_process_chunk", process)
    run = CobRun.objects.get(business_date=day)
    assert run.finished_at is None and run.stats["loans"] == 1  # the first chunk committed, the second rolled back
    done = Loan.objects.filter(cob_through=day).values_list("pk", flat=True)
    assert list(done) == [loans[0].pk]
    stats = cob.run(day, chunk_size=1)
    assert stats["loans"] == 3 and "replayed" not in stats
    daily = [after - before for before, after in zip(charged_before, _penalties(loans), strict=True)]
    assert all(d > 0 for d in daily) and len(set(daily)) == 1  # one day of penalty each: same principal
    assert stats["penalty_fen"] == sum(daily)
    assert cob.run(day, chunk_size=1)["replayed"] is True
    assert _penalties(loans) == [before + daily[0] for before in charged_before]
    assert Event.objects.filter(type="finance.installment.overdue").count() == 3


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_running_chunk_blocks_only_its_own_loans(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chunk holds its loans' row locks until it commits: a repayment of a loan in another chunk goes through
    meanwhile, and the payoff quote of a loan in the running chunk is read without waiting."""
    held, other = _book(world, 2)  # chunk size 1: ``held`` (lower id) is the first chunk
    day = _late_day(held)
    locked, released = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    mark_overdue = cob._mark_overdue

    def pausing(on: Any, loans: Any) -> int:
        if held.pk in list(loans):
            locked.set()
            released.wait(timeout=15)
        return mark_overdue(on, loans)

    monkeypatch.setattr(cob, "_mark_overdue", pausing)

    def run_cob() -> None:
        try:
            cob.run(day, chunk_size=1)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    runner = threading.Thread(target=run_cob)
    runner.start()
    try:
        assert locked.wait(timeout=15)
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '3s'")
        first = other.installments.get(period=1)
        repayment = cashier.repay(world.customer("other_customer"), other.pk, amount_fen=first.owed_fen, on=day)
        quote = servicing.payoff_quote(world.customer(), held.pk, day)
        assert repayment.amount_fen == first.owed_fen and quote.total_fen > 0
    finally:
        released.set()
        runner.join(timeout=30)
        connection.close()
    assert not errors, errors
    assert CobRun.objects.get(business_date=day).finished_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_payoff_quote_takes_no_row_locks(world: World) -> None:
    loan = world.loan()
    with transaction.atomic():  # SELECT … FOR UPDATE takes a RowShareLock on each table it locks rows of
        servicing.payoff_quote(world.customer(), loan.pk, loan.installments.get(period=1).due_date)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND mode = 'RowShareLock'")
            assert cursor.fetchone()[0] == 0
