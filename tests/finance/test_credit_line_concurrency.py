"""PostgreSQL: 16 concurrent checkouts on one credit line never draw more than its limit (the ledger's row lock on
the line's available account), and every refused one leaves nothing behind."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection

from carloop.core.errors import Problem
from carloop.finance import credit_line
from carloop.identity import selectors as identity
from carloop.payments.models import IntentState, PaymentIntent, Tender
from tests.payments.conftest import Bills, assert_consistent, bills  # noqa: F401 - the fixture

from .credit import checkout, open_line

THREADS = 16
ROUNDS = 4
PRICE_FEN = 300_000  # 3,000 yuan: a 20,000-yuan line pays 6 of the 64 checkouts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_checkouts_never_exceed_the_limit(actors: Any, settings: Any, bills: Bills) -> None:  # noqa: F811
    settings.CARLOOP_DECISION_PROVIDER = "rules"
    customer = identity.subject_for_user(actors.user("customer"))
    line = open_line(customer, 2_000_000)
    outcomes: list[str] = []
    barrier = threading.Barrier(THREADS)

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(ROUNDS):
                try:
                    outcomes.append(checkout(bills, customer, PRICE_FEN).state)
                except Problem as exc:
                    outcomes.append(exc.slug)
        except Exception as exc:
            outcomes.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(outcomes)) == sorted({IntentState.SUCCEEDED, "insufficient-funds"}), outcomes
    paid = outcomes.count(IntentState.SUCCEEDED)
    assert paid == 2_000_000 // PRICE_FEN
    summary = credit_line.summary(line)
    assert summary.owed_fen == paid * PRICE_FEN and summary.available_fen == 2_000_000 - paid * PRICE_FEN >= 0
    assert Tender.objects.filter(kind="credit_line").count() == paid
    assert PaymentIntent.objects.filter(state=IntentState.SUCCEEDED).count() == paid
    assert_consistent()
