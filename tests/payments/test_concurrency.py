"""PostgreSQL: 16 threads pay, re-notify, cancel and refund the same intents (split tenders: points, an e-card
and the simulator) at once. Nothing is booked twice, nothing is lost, every hold resolves, and every intent's
ledger movements equal its state."""

from __future__ import annotations

import random
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from carloop.core.errors import Problem
from carloop.identity import selectors as identity
from carloop.payments import services
from carloop.payments.models import PaymentIntent, Refund, Tender
from carloop.payments.services import TenderRequest
from carloop.payments.simulator import SIMULATOR, deliver
from tests.payments.conftest import KIND, Bills, assert_consistent, fund

THREADS = 16
INTENTS = 1000
OPS_PER_THREAD = 200
EXPECTED = {"intent-closed", "intent-not-paid", "refund-exceeds-paid", "intent-not-confirmable"}


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_pay_refund_cancel_keep_every_invariant(bills: Bills, actors: Any) -> None:
    SIMULATOR.behaviour.refunds = "sync"
    payers = [identity.subject_for_user(actors.user(kind)) for kind in ("customer", "other_customer")]
    for payer in payers:
        assert payer.user_id is not None
        fund("points", payer.user_id, 10**10)
        fund("ecard", payer.user_id, 10**10, "card")
    intents: list[tuple[uuid.UUID, str]] = []
    for n in range(INTENTS):
        payer = payers[n % 2]
        bill = bills.add(payer.user_id, 10_000 + n)
        intent = services.create_intent(kind=KIND, ref=bill.ref, subject=payer, actor=payer.ref)
        intent = services.confirm(intent_id=intent.pk, subject=payer, method="simulator", actor=payer.ref,
                                  tenders=[TenderRequest("points", 1_000), TenderRequest("ecard", 2_000, "card")])
        order_no = intent.tenders.get(kind="external").provider_order_no
        assert order_no
        intents.append((intent.pk, order_no))
    errors: list[str] = []

    def work(seed: int) -> None:
        rng = random.Random(seed)
        try:
            for _ in range(OPS_PER_THREAD):
                intent_id, order_no = rng.choice(intents)
                roll = rng.random()  # float-ok: a probability
                try:
                    if roll < 0.4:
                        SIMULATOR.pay(order_no)
                    elif roll < 0.55:
                        deliver("simulator", *SIMULATOR.payment_notification(order_no))
                    elif roll < 0.7:
                        payer = payers[0] if PaymentIntent.objects.filter(pk=intent_id, payer_id=payers[0].user_id).exists() else payers[1]
                        services.cancel(intent_id=intent_id, subject=payer, actor=payer.ref)
                    else:
                        services.refund(intent_id=intent_id, amount_fen=rng.randint(1, 6_000), reason="并发", actor="test")
                except Problem as exc:
                    if exc.slug not in EXPECTED:
                        errors.append(f"{exc.status} {exc.slug}")
        except Exception as exc:
            errors.append(repr(exc))
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    services.recover_missing_notifications(older_than=timedelta(0))
    services.expire_due(timezone.now() + timedelta(days=5))
    assert not PaymentIntent.objects.filter(state__in=["created", "processing"]).exists()
    assert not Tender.objects.filter(state__in=["held", "awaiting"]).exists()  # every hold resolved
    for intent in PaymentIntent.objects.all():
        bill = bills.bills[intent.ref]
        assert bill.paid == ([intent.amount_fen] if intent.state == "succeeded" else [])
        assert sum(bill.refunded) == intent.refunded_fen <= intent.amount_fen
    assert not Refund.objects.filter(state="pending").exists()
    assert_consistent()
