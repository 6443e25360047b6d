"""Daily reconciliation against the simulator's statement: missing, extra and mismatched rows with totals; the
fees of matched payments are booked once."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.core.management import call_command

from carloop.core.authz import Subject
from carloop.core.timeutil import business_date
from carloop.ledger import selectors as ledger_q
from carloop.payments import reconcile, services
from carloop.payments.simulator import SIMULATOR
from tests.payments.conftest import KIND, Bills, assert_consistent

pytestmark = pytest.mark.django_db


def paid(bills: Bills, payer: Subject, due_fen: int, capture: Any) -> str:
    bill = bills.add(payer.user_id, due_fen)
    intent = services.create_intent(kind=KIND, ref=bill.ref, subject=payer, actor=payer.ref)
    intent = services.confirm(intent_id=intent.pk, subject=payer, tenders=[], method="simulator", actor=payer.ref)
    order_no = intent.tenders.get().provider_order_no
    assert order_no
    with capture(execute=True):
        SIMULATOR.pay(order_no)
    return str(intent.pk)


def test_reconcile_reports_missing_extra_and_mismatched_and_books_fees_once(
        bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    SIMULATOR.behaviour.refunds = "sync"
    first = paid(bills, payer, 100_000, django_capture_on_commit_callbacks)
    paid(bills, payer, 50_000, django_capture_on_commit_callbacks)
    third = paid(bills, payer, 20_000, django_capture_on_commit_callbacks)
    services.refund(intent_id=first, amount_fen=30_000, reason="部分退款", actor="user:finops")
    day = business_date()
    clean = SIMULATOR.statement(day)
    run = reconcile.reconcile(provider="simulator", day=day, statement=clean, actor="test")
    assert (run.matched, run.missing, run.extra, run.mismatched) == (4, 0, 0, 0)
    assert run.ours_fen == run.theirs_fen == 140_000
    assert run.fees_fen == 600 + 300 + 120
    lines = clean.splitlines()
    third_no = services.Tender.objects.get(intent_id=third).provider_order_no
    assert third_no
    tampered = [line for line in lines if third_no not in line]  # the provider lost one payment
    tampered = [line.replace(",500.00,", ",499.99,") for line in tampered]  # and misstates another
    tampered.append("2026-12-01T10:00:00+08:00,nobody,4200x,SUCCESS,1.00,,0.00,0.01")
    again = reconcile.reconcile(provider="simulator", day=day, statement="\n".join(tampered) + "\n", actor="test")
    assert (again.matched, again.missing, again.extra, again.mismatched) == (2, 1, 1, 1)
    assert {(r["status"], r["kind"]) for r in again.rows} == {("missing", "payment"), ("extra", "payment"),
                                                               ("mismatched", "payment")}
    fees = ledger_q.account_by_key("payments:provider_fees")
    assert fees is not None and ledger_q.balance(fees.id).debits_posted == 1_020  # booked once across reruns
    assert_consistent()


def test_reconcile_command_writes_the_statement_and_prints_the_run(
        bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any, capsys: Any, tmp_path: Any,
        settings: Any) -> None:
    settings.VAR_DIR = tmp_path
    paid(bills, payer, 10_000, django_capture_on_commit_callbacks)
    day = business_date().isoformat()
    call_command("payments", "reconcile", "--date", day, "--json")
    out = json.loads(capsys.readouterr().out)
    assert (out["matched"], out["missing"], out["extra"], out["mismatched"], out["fees"]) == (1, 0, 0, 0, "0.60")
    assert (tmp_path / "statements" / f"simulator-{day}.csv").exists()


def test_finance_ops_page_shows_runs_and_clearing(bills: Bills, actors: Any) -> None:
    from django.test import Client

    reconcile.reconcile(provider="simulator", day=business_date(), statement=SIMULATOR.statement(business_date()), actor="t")
    browser = Client()
    browser.force_login(actors.user("finance_ops"))
    page = browser.get("/payments/ops/")
    assert page.status_code == 200 and "system:payment_clearing" in page.content.decode()
    outsider = Client()
    outsider.force_login(actors.user("customer"))
    assert outsider.get("/payments/ops/").status_code == 302
