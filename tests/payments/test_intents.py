"""Payment intents: the state machine, split tenders as holds (all post or all void), fully internal intents,
expiry, cancel, and the simulator's notifications (late, twice, out of order, forged, never)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from carloop.core import audit
from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.ledger import selectors as ledger_q
from carloop.payments import services
from carloop.payments.models import NotificationOutcome, PaymentIntent, ProviderNotification, SimulatorOrder
from carloop.payments.services import TenderRequest
from carloop.payments.simulator import SIMULATOR, deliver
from tests.payments.conftest import KIND, Bills, assert_consistent, fund

pytestmark = pytest.mark.django_db


def start(bills: Bills, payer: Subject, due_fen: int = 100_000) -> PaymentIntent:
    bill = bills.add(payer.user_id, due_fen)
    return services.create_intent(kind=KIND, ref=bill.ref, subject=payer, actor=payer.ref)


def pay_split(bills: Bills, payer: Subject, *, points: int = 0, ecard: int = 0, due_fen: int = 100_000,
              method: str = "simulator") -> PaymentIntent:
    intent = start(bills, payer, due_fen)
    tenders = []
    if ecard:
        tenders.append(TenderRequest("ecard", ecard, "card-1"))  # stated out of order: the cashier sorts them
    if points:
        tenders.append(TenderRequest("points", points))
    return services.confirm(intent_id=intent.pk, subject=payer, tenders=tenders, method=method, actor=payer.ref)


def order_no(intent: PaymentIntent) -> str:
    tender = intent.tenders.get(kind="external")
    assert tender.provider_order_no
    return tender.provider_order_no


def test_fully_internal_intent_succeeds_without_an_external_step(bills: Bills, payer: Subject) -> None:
    points = fund("points", payer.user_id, 30_000)
    card = fund("ecard", payer.user_id, 80_000, "card-1")
    intent = pay_split(bills, payer, points=30_000, ecard=70_000)
    assert intent.state == "succeeded"
    assert [(t.kind, t.state) for t in intent.tenders.order_by("position")] == [("points", "posted"), ("ecard", "posted")]
    assert ledger_q.balance(points).balance_fen == 0 and ledger_q.balance(card).balance_fen == 10_000
    assert ledger_q.balance(bills.destination).balance_fen == 100_000
    assert bills.bills[intent.ref].paid == [100_000]
    assert [e.action for e in audit.history("payments.intent", intent.pk)] == [
        "payments.intent.created", "payments.intent.succeeded"]
    assert_consistent()


def test_split_tender_holds_then_posts_with_the_external_payment(bills: Bills, payer: Subject,
                                                                 django_capture_on_commit_callbacks: Any) -> None:
    points = fund("points", payer.user_id, 20_000)
    intent = pay_split(bills, payer, points=20_000)
    assert intent.state == "processing"
    assert ledger_q.balance(points).available_fen == 0  # held, not yet moved
    assert ledger_q.balance(bills.destination).balance_fen == 0
    assert_consistent()
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(intent))
    intent.refresh_from_db()
    assert intent.state == "succeeded"
    assert ledger_q.balance(bills.destination).balance_fen == 100_000
    assert ledger_q.balance(points).balance_fen == 0
    assert ledger_q.balance(ledger_q.account_by_key("system:payment_clearing").id).balance_fen == 0  # type: ignore[union-attr]
    assert bills.bills[intent.ref].paid == [100_000]
    assert_consistent()


def test_a_hold_that_cannot_be_placed_leaves_nothing_held(bills: Bills, payer: Subject, monkeypatch: Any) -> None:
    points = fund("points", payer.user_id, 50_000)
    fund("ecard", payer.user_id, 10_000, "card-1")
    intent = start(bills, payer)
    closed: list[str] = []  # the provider's order (created before the holds) is closed at the provider
    monkeypatch.setattr(SIMULATOR, "close", lambda order_no: closed.append(order_no))
    with pytest.raises(Problem) as exc:
        services.confirm(intent_id=intent.pk, subject=payer, tenders=[
            TenderRequest("points", 50_000), TenderRequest("ecard", 20_000, "card-1")], method="simulator", actor=payer.ref)
    assert exc.value.slug == "insufficient-funds" and len(closed) == 1
    intent.refresh_from_db()
    assert intent.state == "created" and not intent.tenders.exists()
    assert ledger_q.balance(points).available_fen == 50_000
    assert_consistent()


def test_tenders_above_the_amount_or_without_a_method_are_refused(bills: Bills, payer: Subject) -> None:
    fund("points", payer.user_id, 500_000)
    intent = start(bills, payer)
    for tenders, method, slug in [([TenderRequest("points", 100_001)], "", "tenders-exceed-amount"),
                                  ([TenderRequest("points", 1)], "", "unknown-method"),
                                  ([], "bank_transfer", "method-not-allowed")]:
        with pytest.raises(Problem) as exc:
            services.confirm(intent_id=intent.pk, subject=payer, tenders=tenders, method=method, actor=payer.ref)
        assert exc.value.slug == slug
    intent.refresh_from_db()
    assert intent.state == "created"
    assert_consistent()


def test_one_open_intent_per_payable_and_only_its_payer_may_pay(bills: Bills, payer: Subject, actors: Any) -> None:
    from carloop.identity import selectors as identity

    bill = bills.add(payer.user_id, 10_000)
    first = services.create_intent(kind=KIND, ref=bill.ref, subject=payer, actor=payer.ref)
    again = services.create_intent(kind=KIND, ref=bill.ref, subject=payer, actor=payer.ref)
    assert first.pk == again.pk
    other = identity.subject_for_user(actors.user("other_customer"))
    with pytest.raises(Problem) as exc:
        services.create_intent(kind=KIND, ref=bill.ref, subject=other, actor=other.ref)
    assert exc.value.status == 404
    with pytest.raises(Problem) as exc:
        services.confirm(intent_id=first.pk, subject=other, tenders=[], method="simulator", actor=other.ref)
    assert exc.value.status == 404


def test_paid_payable_has_nothing_due(bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    intent = pay_split(bills, payer)
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(intent))
    with pytest.raises(Problem) as exc:
        services.create_intent(kind=KIND, ref=intent.ref, subject=payer, actor=payer.ref)
    assert exc.value.slug == "nothing-due"


def test_duplicate_notification_books_once(bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    SIMULATOR.behaviour.notify = "twice"
    intent = pay_split(bills, payer)
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(intent))
    outcomes = list(ProviderNotification.objects.order_by("created_at").values_list("outcome", flat=True))
    assert outcomes == [NotificationOutcome.BOOKED, NotificationOutcome.DUPLICATE]
    assert bills.bills[intent.ref].paid == [100_000]
    assert ledger_q.balance(bills.destination).balance_fen == 100_000
    assert_consistent()


def test_forged_notification_changes_nothing_and_is_logged(bills: Bills, payer: Subject,
                                                           django_capture_on_commit_callbacks: Any) -> None:
    SIMULATOR.behaviour.notify = "bad_signature"
    intent = pay_split(bills, payer)
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(intent))
    intent.refresh_from_db()
    assert intent.state == "processing"
    assert ProviderNotification.objects.get().outcome == NotificationOutcome.BAD_SIGNATURE
    body, headers = SIMULATOR.payment_notification(order_no(intent))
    tampered = body.replace(b'"total":100000', b'"total":1')
    assert deliver("simulator", tampered, headers)[0] == 400
    assert ledger_q.balance(bills.destination).balance_fen == 0
    assert_consistent()


def test_missing_notification_is_recovered_by_the_query_job(bills: Bills, payer: Subject,
                                                            django_capture_on_commit_callbacks: Any) -> None:
    SIMULATOR.behaviour.notify = "never"  # also: a crash between the provider's success and our booking
    intent = pay_split(bills, payer)
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(intent))
    assert services.recover_missing_notifications(older_than=timedelta(0)) == 1
    intent.refresh_from_db()
    assert intent.state == "succeeded"
    assert services.recover_missing_notifications(older_than=timedelta(0)) == 0
    assert_consistent()


def test_late_and_reordered_notifications(bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    SIMULATOR.behaviour.notify = "late"
    first, second = pay_split(bills, payer), pay_split(bills, payer, due_fen=5_000)
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(first))
        SIMULATOR.pay(order_no(second))
    assert services.recover_missing_notifications(older_than=timedelta(hours=1)) == 0
    with django_capture_on_commit_callbacks(execute=True):
        assert SIMULATOR.flush(reverse_order=True) == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.state, second.state) == ("succeeded", "succeeded")
    assert_consistent()


def test_unknown_order_is_answered_and_books_nothing(bills: Bills) -> None:
    SimulatorOrder.objects.create(order_no="nobody", amount_fen=100, description="x", expires_at=timezone.now())
    SIMULATOR.pay("nobody")
    status, _ = deliver("simulator", *SIMULATOR.payment_notification("nobody"))
    assert status == 200
    assert ProviderNotification.objects.get().outcome == NotificationOutcome.UNKNOWN
    assert_consistent()


def test_expiry_closes_the_provider_order_and_voids_the_holds(bills: Bills, payer: Subject) -> None:
    points = fund("points", payer.user_id, 10_000)
    intent = pay_split(bills, payer, points=10_000)
    assert services.expire_due(timezone.now() + timedelta(hours=1)) == 1
    intent.refresh_from_db()
    assert intent.state == "expired"
    assert SimulatorOrder.objects.get(order_no=order_no(intent)).status == "CLOSED"
    assert ledger_q.balance(points).available_fen == 10_000
    assert_consistent()


def test_paid_before_close_is_honoured_at_expiry(bills: Bills, payer: Subject) -> None:
    SIMULATOR.behaviour.notify = "never"
    intent = pay_split(bills, payer)
    SIMULATOR.pay(order_no(intent))
    assert services.expire_due(timezone.now() + timedelta(hours=1)) == 0
    intent.refresh_from_db()
    assert intent.state == "succeeded"
    assert_consistent()


def test_paid_after_expiry_is_refunded_automatically(bills: Bills, payer: Subject,
                                                     django_capture_on_commit_callbacks: Any) -> None:
    points = fund("points", payer.user_id, 10_000)
    intent = pay_split(bills, payer, points=10_000)
    SIMULATOR.behaviour.reachable = False  # the close does not get through: we expire on our side only
    assert services.expire_due(timezone.now() + timedelta(hours=1)) == 1
    SIMULATOR.behaviour.reachable = True
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(intent), even_if_closed=True)
    intent.refresh_from_db()
    assert intent.state == "expired"
    refund = intent.refunds.get()
    assert (refund.late, refund.state, refund.amount_fen) == (True, "succeeded", 90_000)
    assert ProviderNotification.objects.filter(outcome=NotificationOutcome.LATE_REFUNDED).count() == 1
    clearing = ledger_q.account_by_key("system:payment_clearing")
    assert clearing is not None and ledger_q.balance(clearing.id).balance_fen == 0
    assert ledger_q.balance(points).available_fen == 10_000
    assert bills.bills[intent.ref].paid == []
    assert_consistent()


def test_cancel_voids_holds_and_a_later_payment_is_refunded(bills: Bills, payer: Subject,
                                                            django_capture_on_commit_callbacks: Any) -> None:
    fund("points", payer.user_id, 10_000)
    intent = pay_split(bills, payer, points=10_000)
    intent = services.cancel(intent_id=intent.pk, subject=payer, actor=payer.ref)
    assert intent.state == "cancelled"
    with pytest.raises(Problem) as exc:
        services.cancel(intent_id=intent.pk, subject=payer, actor=payer.ref)
    assert exc.value.slug == "intent-closed"
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(intent))  # the order is closed: the provider refuses it
    assert not intent.refunds.exists()
    assert_consistent()


def test_cancel_loses_to_a_payment_the_provider_already_took(bills: Bills, payer: Subject) -> None:
    SIMULATOR.behaviour.notify = "never"
    intent = pay_split(bills, payer)
    SIMULATOR.pay(order_no(intent))
    intent = services.cancel(intent_id=intent.pk, subject=payer, actor=payer.ref)
    assert intent.state == "succeeded"
    assert_consistent()


def test_a_hold_voided_by_the_ledger_fails_the_intent_and_refunds_the_external_money(
        bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    from carloop.ledger import services as ledger

    fund("points", payer.user_id, 10_000)
    intent = pay_split(bills, payer, points=10_000)
    ledger.void_pending(id="backstop", pending_id=f"payments:{intent.pk}:t1:hold")
    with django_capture_on_commit_callbacks(execute=True):
        SIMULATOR.pay(order_no(intent))
    intent.refresh_from_db()
    assert intent.state == "failed"
    assert intent.refunds.get().late
    assert bills.bills[intent.ref].paid == []
    totals = ledger_q.totals()
    assert totals["CNY:debits_posted"] == totals["CNY:credits_posted"]
    tender = intent.tenders.get(kind="points")
    assert tender.state == "voided"
