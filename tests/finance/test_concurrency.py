"""Concurrent repayments on PostgreSQL: the loan row lock serializes them; replays stay replays."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from carloop.finance import selectors
from carloop.finance.models import Loan, Repayment
from carloop.finance.services import servicing

from . import cashier
from .conftest import World


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_repayments_with_one_key_post_once(world: World) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    results: list[Any] = []
    cashier.receive(20_000)

    def pay(key: str) -> None:
        try:
            results.append(servicing.book_repayment(loan.pk, amount_fen=10_000, key=key, on=first.due_date, actor="test"))
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_repayments_of_one_product_do_not_wait_for_each_other(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the loan row is locked, not its product: a repayment that holds its transaction open (here, paused
    after locking its loan) does not block one on another loan of the same product."""
    held, other = world.loan(), world.loan(kind="other_customer")
    cashier.receive(20_000)
    assert held.product_id == other.product_id
    locked, other_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []
    open_installments = servicing._open_installments

    def pausing(loan: Loan, due_on: Any = None) -> list[Any]:
        if loan.pk == held.pk:
            locked.set()
            other_done.wait(timeout=10)
        return open_installments(loan, due_on)

    monkeypatch.setattr(servicing, "_open_installments", pausing)

    def pay(loan: Loan, kind: str) -> None:
        try:
            if loan.pk == other.pk:
                locked.wait(timeout=10)
                with connection.cursor() as cursor:
                    cursor.execute("SET lock_timeout = '3s'")
            first = loan.installments.get(period=1)
            servicing.book_repayment(loan.pk, amount_fen=10_000, key="k", on=first.due_date, actor=kind)
        except BaseException as exc:
            errors.append(exc)
        finally:
            if loan.pk == other.pk:
                other_done.set()
            connection.close()

    threads = [threading.Thread(target=pay, args=(held, "customer")),
               threading.Thread(target=pay, args=(other, "other_customer"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Repayment.objects.filter(loan__in=[held, other]).count() == 2
    assert selectors.reconcile_funders() == []
