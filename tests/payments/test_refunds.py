"""Refunds go back to the tenders that paid, external method first (the reverse of the tender order), each part
with its own state; partial refunds add up to the total and never beyond. Bank transfers are matched from an
imported statement."""

from __future__ import annotations

from typing import Any

import pytest

from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.ledger import selectors as ledger_q
from carloop.payments import services
from carloop.payments.models import BankStatementLine, PaymentIntent, Refund
from carloop.payments.services import TenderRequest
from carloop.payments.simulator import SIMULATOR
from tests.payments.conftest import KIND, Bills, assert_consistent, fund

pytestmark = pytest.mark.django_db


def paid_split(bills: Bills, payer: Subject, capture: Any) -> PaymentIntent:
    """¥1,000.00 paid as 200 points, 300 on an e-card and 500 through the simulator."""
    fund("points", payer.user_id, 20_000)
    fund("ecard", payer.user_id, 30_000, "card-1")
    bill = bills.add(payer.user_id, 100_000)
    intent = services.create_intent(kind=KIND, ref=bill.ref, subject=payer, actor=payer.ref)
    intent = services.confirm(intent_id=intent.pk, subject=payer, method="simulator", actor=payer.ref,
                              tenders=[TenderRequest("points", 20_000), TenderRequest("ecard", 30_000, "card-1")])
    order_no = intent.tenders.get(kind="external").provider_order_no
    assert order_no
    with capture(execute=True):
        SIMULATOR.pay(order_no)
    intent.refresh_from_db()
    assert intent.state == "succeeded"
    return intent


def parts(refund: Refund) -> list[tuple[str, int, str]]:
    return [(p.tender.kind, p.amount_fen, p.state) for p in refund.parts.select_related("tender").order_by("created_at")]


def test_partial_refunds_go_back_in_reverse_tender_order_and_sum_to_the_total(
        bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    intent = paid_split(bills, payer, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        first = services.refund(intent_id=intent.pk, amount_fen=60_000, reason="部分退款", actor="user:finops")
    first.refresh_from_db()
    assert parts(first) == [("external", 50_000, "succeeded"), ("ecard", 10_000, "succeeded")]
    assert first.state == "succeeded"
    with django_capture_on_commit_callbacks(execute=True):
        second = services.refund(intent_id=intent.pk, amount_fen=40_000, reason="余款", actor="user:finops")
    assert parts(second) == [("ecard", 20_000, "succeeded"), ("points", 20_000, "succeeded")]
    intent.refresh_from_db()
    assert intent.refunded_fen == intent.amount_fen
    assert bills.bills[intent.ref].refunded == [60_000, 40_000]
    assert ledger_q.balance(bills.destination).balance_fen == 0
    with pytest.raises(Problem) as exc:
        services.refund(intent_id=intent.pk, amount_fen=1, reason="多退", actor="user:finops")
    assert exc.value.slug == "refund-exceeds-paid"
    assert_consistent()


def test_external_refund_is_pending_until_the_provider_confirms_once(
        bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    intent = paid_split(bills, payer, django_capture_on_commit_callbacks)
    SIMULATOR.behaviour.notify = "late"
    with django_capture_on_commit_callbacks(execute=True):
        refund = services.refund(intent_id=intent.pk, amount_fen=50_000, reason="退款", actor="user:finops")
    refund.refresh_from_db()
    assert refund.state == "pending" and parts(refund) == [("external", 50_000, "pending")]
    assert bills.bills[intent.ref].refunded == []
    assert_consistent()
    SIMULATOR.behaviour.notify = "twice"
    SIMULATOR.held[:] = SIMULATOR.held * 2  # and the provider repeats itself
    with django_capture_on_commit_callbacks(execute=True):
        assert SIMULATOR.flush() == 2
    refund.refresh_from_db()
    assert refund.state == "succeeded"
    assert bills.bills[intent.ref].refunded == [50_000]
    clearing = ledger_q.account_by_key("system:payment_clearing")
    assert clearing is not None and ledger_q.balance(clearing.id).balance_fen == 0
    assert_consistent()


def test_refund_request_that_does_not_reach_the_provider_is_retried(
        bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    from datetime import timedelta

    intent = paid_split(bills, payer, django_capture_on_commit_callbacks)
    SIMULATOR.behaviour.reachable = False
    refund = services.refund(intent_id=intent.pk, amount_fen=10_000, reason="退款", actor="user:finops")
    assert refund.state == "pending"
    SIMULATOR.behaviour.reachable, SIMULATOR.behaviour.refunds = True, "sync"
    assert services.retry_pending_refunds(older_than=timedelta(0)) == 1
    refund.refresh_from_db()
    assert refund.state == "succeeded"
    assert_consistent()


def test_only_paid_intents_are_refunded(bills: Bills, payer: Subject) -> None:
    bill = bills.add(payer.user_id, 10_000)
    intent = services.create_intent(kind=KIND, ref=bill.ref, subject=payer, actor=payer.ref)
    with pytest.raises(Problem) as exc:
        services.refund(intent_id=intent.pk, amount_fen=100, reason="x", actor="user:finops")
    assert exc.value.slug == "intent-not-paid"


STATEMENT = "bank_txn_id,value_date,amount,reference,payer_name\n{rows}"


def bank_intent(bills: Bills, actors: Any, due_fen: int = 2_000_000) -> PaymentIntent:
    from carloop.identity import selectors as identity

    admin = identity.subject_for_user(actors.user("enterprise_admin"))
    bill = bills.add(None, due_fen, payer_org=actors.org("enterprise_admin").pk)
    intent = services.create_intent(kind=KIND, ref=bill.ref, subject=admin, actor=admin.ref)
    return services.confirm(intent_id=intent.pk, subject=admin, tenders=[], method="bank_transfer", actor=admin.ref)


def test_bank_transfer_is_booked_when_the_statement_line_matches(bills: Bills, actors: Any) -> None:
    intent = bank_intent(bills, actors)
    assert intent.state == "processing" and intent.reference
    rows = (f"B100,2026-12-01,20000.00,货款 {intent.reference},北京某某科技有限公司\n"
            "B101,2026-12-01,5.00,unknown,someone\n")
    result = services.import_bank_statement(csv_text=STATEMENT.format(rows=rows), actor="user:finops")
    assert (result.imported, result.matched, result.unmatched, result.duplicates) == (2, 1, 1, 0)
    intent.refresh_from_db()
    assert intent.state == "succeeded"
    assert ledger_q.balance(bills.destination).balance_fen == 2_000_000
    again = services.import_bank_statement(csv_text=STATEMENT.format(rows=rows), actor="user:finops")
    assert (again.imported, again.duplicates) == (0, 2)
    assert_consistent()


def test_finance_ops_match_a_line_by_hand_and_wrong_amounts_are_refused(bills: Bills, actors: Any) -> None:
    intent = bank_intent(bills, actors, due_fen=1_000)
    services.import_bank_statement(csv_text=STATEMENT.format(rows="B1,2026-12-01,9.99,no ref,x\nB2,2026-12-02,10.00,no ref,x\n"),
                                   actor="user:finops")
    wrong, right = BankStatementLine.objects.get(bank_txn_id="B1"), BankStatementLine.objects.get(bank_txn_id="B2")
    with pytest.raises(Problem) as exc:
        services.match_bank_line(line_id=wrong.pk, intent_id=intent.pk, actor="user:finops")
    assert exc.value.slug == "bank-line-not-matching"
    line = services.match_bank_line(line_id=right.pk, intent_id=intent.pk, actor="user:finops")
    assert line.state == "matched"
    intent.refresh_from_db()
    assert intent.state == "succeeded"
    assert_consistent()


def test_bad_statements_are_refused_whole(bills: Bills) -> None:
    for text, slug in [("a,b\n1,2\n", "statement-columns"),
                       (STATEMENT.format(rows="B1,yesterday,1.00,,\n"), "statement-row"),
                       (STATEMENT.format(rows="B1,2026-12-01,12.345,,\n"), "invalid-amount")]:
        with pytest.raises(Problem) as exc:
            services.import_bank_statement(csv_text=text, actor="user:finops")
        assert exc.value.slug == slug
    assert not BankStatementLine.objects.exists()
