"""The reconciliation overview: payment clearing holds only refunds the provider has not confirmed, each merchant's
settlement accounts hold what its statements owe plus what is not settled yet (and exactly its payouts in progress
held), the day's flows, and the latest provider reconciliation — on a finance-ops page, with the demo's mismatch."""

from __future__ import annotations

import io
import uuid
from typing import Any

import pytest
from django.test import Client

from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.core.seeding import SeedContext
from carloop.core.timeutil import business_date
from carloop.identity import selectors as identity
from carloop.ledger import services as ledger
from carloop.payments import payouts, positions, reconcile, services, settlement
from carloop.payments import seed as payments_seed
from carloop.payments.simulator import PAYOUT_SIMULATOR, SIMULATOR, Behaviour
from tests.harness import Actors
from tests.payments.conftest import Bills, assert_consistent
from tests.payments.test_payouts import finops, owed, pay_batch
from tests.payments.test_reconcile import paid

pytestmark = pytest.mark.django_db

TODAY = business_date()


def test_clearing_holds_exactly_the_refunds_the_provider_has_not_confirmed(
        bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    intent = paid(bills, payer, 50_000, django_capture_on_commit_callbacks)
    assert positions.clearing() == positions.ClearingPosition(0, 0, 0, 0)
    services.refund(intent_id=intent, amount_fen=20_000, reason="部分退款", actor="user:finops")  # provider not yet
    now = positions.clearing()
    assert (now.held_fen, now.pending_fen, now.refunds_pending_fen, now.difference_fen) == (0, 20_000, 20_000, 0)

    late = bills.add(payer.user_id, 7_000)
    opened = services.create_intent(kind="test.bill", ref=late.ref, subject=payer, actor=payer.ref)
    opened = services.confirm(intent_id=opened.pk, subject=payer, tenders=[], method="simulator", actor=payer.ref)
    services.cancel(intent_id=opened.pk, subject=payer, actor=payer.ref)
    order_no = opened.tenders.get().provider_order_no
    SIMULATOR.pay(order_no, even_if_closed=True)  # taken while our close was under way; its refund waits
    services.book_external_payment(provider="simulator", order_no=order_no, amount_fen=7_000, txn_id="late", actor="t")
    now = positions.clearing()
    assert (now.held_fen, now.late_refunds_fen, now.difference_fen) == (7_000, 7_000, 0)

    ledger.transfer(id=uuid.uuid4(), debit=ledger.system_account("external").id,
                    credit=ledger.system_account("payment_clearing").id, amount_fen=1, code=6001)
    assert positions.clearing().difference_fen == 1  # money booked into clearing outside the cashier shows


def test_merchant_accounts_hold_what_is_owed_plus_what_is_not_settled_yet(
        actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 100_000)  # statement: 99,000 net
    PAYOUT_SIMULATOR.behaviour = Behaviour(notify="never")
    try:
        pay_batch(django_capture_on_commit_callbacks)
    finally:
        PAYOUT_SIMULATOR.behaviour = Behaviour()
    owed(dealer.pk, 30_000)  # a second statement, unpaid: 29,700
    acct = ledger.open_account(key=f"test:merchant:{dealer.pk}:settlement", name="dealer", code=2300,
                               owner=f"org:{dealer.pk}").id
    ledger.transfer(id=uuid.uuid4(), debit=ledger.system_account("external").id, credit=acct, amount_fen=5_000,
                    code=2101, memo="disbursed after the statement")
    position = positions.merchant(dealer.pk)
    assert (position.owed_fen, position.unsettled_fen, position.in_payout_fen) == (99_000 + 29_700, 5_000, 99_000)
    assert position.balance_fen == 99_000 + 29_700 + 5_000 and position.difference_fen == 0
    assert position.held_fen == 99_000 and position.problems() == []
    assert {a.app for a in position.accounts} == {"payments", "test"}

    ledger.transfer(id=uuid.uuid4(), debit=settlement.merchant_account(dealer.pk),
                    credit=ledger.system_account("external").id, amount_fen=300, code=6210, memo="paid by hand")
    assert positions.merchant(dealer.pk).difference_fen == -300  # a payout outside a batch shows
    assert positions.merchant_discrepancies(dealer.pk) != []


def test_the_days_flows(bills: Bills, payer: Subject, actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    SIMULATOR.behaviour.refunds = "sync"
    intent = paid(bills, payer, 100_000, django_capture_on_commit_callbacks)
    paid(bills, payer, 20_000, django_capture_on_commit_callbacks)
    services.refund(intent_id=intent, amount_fen=10_000, reason="部分退款", actor="user:finops")
    reconcile.reconcile(provider="simulator", day=TODAY, statement=SIMULATOR.statement(TODAY), actor="t")
    dealer, store = actors.org("dealer_staff"), actors.org("store_manager")
    owed(dealer.pk, 50_000)
    owed(store.pk, 10_000)
    PAYOUT_SIMULATOR.behaviour = Behaviour(payouts="fail")
    try:
        pay_batch(django_capture_on_commit_callbacks, preparer=finops())
    finally:
        PAYOUT_SIMULATOR.behaviour = Behaviour()
    pay_batch(django_capture_on_commit_callbacks)
    day = positions.flows(TODAY)
    assert (day.money_in_fen, day.refunds_fen) == (120_000, 10_000)
    assert (day.settled_fen, day.commission_fen) == (49_500 + 9_900, 500 + 100)
    assert (day.paid_out_fen, day.payouts_failed_fen) == (59_400, 59_400)
    assert day.provider_fees_fen == 600 + 120
    assert positions.flows(TODAY.replace(year=TODAY.year - 1)).money_in_fen == 0
    assert_consistent()


def test_the_reconciliation_page_for_finance_ops(
        bills: Bills, payer: Subject, actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    paid(bills, payer, 10_000, django_capture_on_commit_callbacks)
    paid(bills, payer, 20_000, django_capture_on_commit_callbacks)
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    finops("finops")
    payments_seed._reconciliation(SeedContext(scale="demo", stdout=io.StringIO(), quiet=True))  # the demo's mismatch
    run = positions.overview(finops(), TODAY).run
    assert run is not None and (run.matched, run.mismatched) == (1, 1) and run.difference_fen == 100
    browser = Client()
    browser.force_login(actors.user("finance_ops"))
    page = browser.get("/payments/reconciliation/?lang=en").content.decode()
    for text in ("Payment clearing", "Merchant settlement accounts", dealer.name, "Amounts differ", "¥99.00",
                 "Money in", "¥300.00", "Cashier settlement account"):
        assert text in page, text
    zh = browser.get("/payments/reconciliation/?lang=zh-hans&day=2001-01-01").content.decode()
    assert "金额不符" in zh and "2001-01-01" in zh
    for who in ("ops", "dealer_staff", "customer"):
        other = Client()
        other.force_login(actors.user(who))
        assert other.get("/payments/reconciliation/").status_code == 403
        with pytest.raises(Problem):
            positions.overview(identity.subject_for_user(actors.user(who)), TODAY)
    assert Client().get("/payments/reconciliation/").status_code == 302


def test_payouts_keep_each_merchant_reconciled(actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 40_000)
    batch = payouts.prepare(finops())
    assert positions.merchant(dealer.pk).problems() == []
    with django_capture_on_commit_callbacks(execute=True):
        payouts.approve(finops(), batch_id=batch.pk)
    position = positions.merchant(dealer.pk)
    assert position.problems() == [] and position.balance_fen == position.owed_fen == 0
