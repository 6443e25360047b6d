"""Regression guard: booking a repayment costs a fixed number of SQL statements, whatever the number of instalments it pays.

On PostgreSQL the ledger's two hot-path statements (lock the accounts, write transfers and balances) go through a
plain psycopg cursor and are not in Django's query log; on SQLite they are (lock, insert, balance updates).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from carloop.finance import services
from carloop.finance.models import Installment, Loan

from . import cashier
from .conftest import World

pytestmark = pytest.mark.django_db

# Statements of one regular repayment: in its transaction, and with the after-commit delivery of its event (one
# transaction for its subscribers, each in a savepoint, and the delivery mark: two commits in all).
MAX_IN_TRANSACTION = {"postgresql": 14, "sqlite": 17}
MAX_WITH_DELIVERY = {"postgresql": 23, "sqlite": 26}


def _count(world: World, kind: str, loan: Loan, last_period: int, capture: Callable[..., Any]) -> tuple[int, int]:
    """Statements of a repayment of instalments 2..``last_period`` (after one of instalment 1, which fills the
    process caches): in its transaction, and with the delivery of its event after commit."""
    rows = list(Installment.objects.filter(loan=loan, period__lte=last_period).order_by("period"))
    amount = sum(i.owed_fen for i in rows[1:]) - 2_000  # the last one is left partly unpaid
    cashier.receive(rows[0].owed_fen + amount)
    with capture(execute=True):
        services.book_repayment(loan.pk, amount_fen=rows[0].owed_fen, key="warm-up", on=rows[0].due_date, actor=kind)
    with CaptureQueriesContext(connection) as queries, capture(execute=True):
        _, replayed = services.book_repayment(loan.pk, amount_fen=amount, key="counted", on=rows[-1].due_date, actor=kind)
        in_transaction = len(queries.captured_queries)
    assert not replayed
    assert Installment.objects.filter(loan=loan, period__lte=last_period).exclude(paid_interest_fen=0).count() == last_period
    return in_transaction, len(queries.captured_queries)


def test_regular_repayment_stays_within_its_query_budget(world: World,
                                                         django_capture_on_commit_callbacks: Any) -> None:
    in_transaction, total = _count(world, "customer", world.loan(), 2, django_capture_on_commit_callbacks)
    assert in_transaction <= MAX_IN_TRANSACTION[connection.vendor]
    assert total <= MAX_WITH_DELIVERY[connection.vendor]


def test_paying_several_instalments_costs_no_more_queries(world: World,
                                                          django_capture_on_commit_callbacks: Any) -> None:
    single = _count(world, "customer", world.loan(), 2, django_capture_on_commit_callbacks)
    several = _count(world, "other_customer", world.loan(kind="other_customer"), 4, django_capture_on_commit_callbacks)
    assert several == single
