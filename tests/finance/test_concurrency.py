"""Concurrent repayments on PostgreSQL: the loan row lock serializes them; replays stay replays."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from carloop.finance import selectors, servicing
from carloop.finance.models import Loan, Repayment

from .conftest import World


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_repayments_with_one_key_post_once(world: World) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    subject = world.customer()
    results: list[Any] = []

    def pay(key: str) -> None:
        try:
            results.append(servicing.repay(subject, loan.pk, amount_fen=10_000, key=key, on=first.due_date))
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=(k,)) for k in ("same", "same", "same", "other")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4
    assert Repayment.objects.filter(loan=loan).count() == 2
    assert sorted(replayed for _, replayed in results) == [False, False, True, True]
    loan = Loan.objects.get(pk=loan.pk)
    assert loan.installments.get(period=1).paid_interest_fen == 20_000
    assert selectors.reconcile_funders() == []
