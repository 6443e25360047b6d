"""退车退贷: a refunded car order unwinds the purchase loan that paid its balance."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from carloop.commerce import services as commerce
from carloop.commerce.models import CarOrder, OrderState
from carloop.core.errors import Problem
from carloop.core.models import AuditEntry, Event
from carloop.core.timeutil import business_date
from carloop.finance import ledger_accounts as accounts
from carloop.finance import selectors, services
from carloop.finance.models import Application, Installment, Loan, LoanFunding
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.payments.models import PaymentIntent, RefundState
from tests.commerce.factories import OPERATIONS, pay_balance
from tests.finance import cashier
from tests.finance.conftest import DISBURSED_ON
from tests.finance.test_pages import login
from tests.ledger.invariants import assert_ledger_invariants
from tests.payments.conftest import assert_consistent


def _balances(world: Any) -> dict[str, int]:
    keys = {"partner_pool": accounts.pool(accounts.funder_key(world.partner.pk)).id,
            "platform_pool": accounts.pool(accounts.PLATFORM).id, "income": accounts.income().id,
            "settlement": accounts.settlement(world.dealer.pk).id, "clearing": ledger.system_account("payment_clearing").id,
            "received": accounts.received().id,
            "partner_receivable": accounts.receivable(accounts.funder_key(world.partner.pk)).id,
            "platform_receivable": accounts.receivable(accounts.PLATFORM).id}
    return {name: ledger_q.balance(acct).balance_fen for name, acct in keys.items()}


@pytest.fixture
def loop(world: Any, django_capture_on_commit_callbacks: Any) -> Any:
    """An order whose balance a 36-month purchase loan (with a 1 % upfront fee) paid."""
    services.new_product_version("car-purchase", "user:ops", upfront_fee_rate=Decimal("0.01"))
    subject = world.customer()
    before = _balances(world)
    order, app = world.order_with_offer(subject)
    with django_capture_on_commit_callbacks(execute=True):
        loan = services.accept_offer(subject, app.pk, agree=True, on=DISBURSED_ON)
    return subject, order, loan, before, world


def test_a_refunded_order_unwinds_its_loan_and_refunds_what_was_repaid(loop: Any, actors: Any,
                                                                      django_capture_on_commit_callbacks: Any) -> None:
    subject, order, loan, before, world = loop
    assert loan.upfront_fee_fen > 0
    first = loan.installments.get(period=1)
    repayment = cashier.repay(subject, loan.pk, amount_fen=first.owed_fen, on=first.due_date)
    repaid = first.owed_fen
    with django_capture_on_commit_callbacks(execute=True):  # the provider confirms the refund after commit
        commerce.seller_cannot_deliver(OPERATIONS, order_id=order.pk, reason="停产")
    loan.refresh_from_db()
    assert loan.state == Loan.State.UNWOUND and loan.outstanding_principal_fen == 0
    assert loan.unwind["customer_refund_fen"] == loan.unwind["refunded_through_cashier_fen"] == repaid
    # The repayment goes back to the borrower through the cashier's refund of the intent that paid it.
    intent = PaymentIntent.objects.get(pk=repayment.key.removeprefix("payments:intent:"))
    [refund] = intent.refunds.all()
    assert (refund.amount_fen, refund.state, refund.late) == (repaid, RefundState.SUCCEEDED, False)
    assert intent.refunded_fen == repaid and intent.tenders.get().refunded_fen == repaid
    [part] = refund.parts.all()
    out = ledger_q.get_transfer(f"payments:refund:{part.pk}:out")  # the provider paid it back to the borrower
    assert out is not None and out.amount_fen == repaid and out.credit == ledger.system_account("external").id
    assert AuditEntry.objects.filter(action="finance.loan.repayment_refunded", object_id=str(loan.pk)).exists()
    assert_consistent()
    assert_ledger_invariants()
    assert not loan.installments.filter(status__in=services.OPEN).exists()
    assert loan.installments.filter(status=Installment.Status.CANCELLED).count() == 35
    assert set(LoanFunding.objects.filter(loan=loan).values_list("outstanding_fen", flat=True)) == {0}
    after = _balances(world)
    # Every funder, the platform's income and the dealer are back where they were before the loan; the customer's
    # repayment passed through repayments received and payment clearing back out to them.
    assert {k: after[k] - before[k] for k in after} == dict.fromkeys(after, 0)
    partner_key = accounts.funder_key(world.partner.pk)
    assert loan.unwind[partner_key]["returned"] == LoanFunding.objects.get(loan=loan, partner__isnull=False).principal_fen
    assert Event.objects.filter(type="finance.loan.unwound", subject=f"finance:loan:{loan.pk}").exists()
    assert CarOrder.objects.get(pk=order.pk).state == OrderState.REFUNDED
    client = login(actors, "customer")
    page = client.get(f"/finance/loans/{loan.pk}/").content.decode()
    assert "已退车退贷" in page and "无需继续还款" in page
    assert "当期应还" not in page and "未还" not in page, "a cancelled loan shows nothing due and nothing owed"
    order_page = client.get(f"/commerce/orders/{order.pk}/").content.decode()
    assert f'href="/finance/loans/{loan.pk}/"' in order_page and "退车退贷" in order_page


def test_unwinding_reconciles_in_the_partners_daily_statement(loop: Any, django_capture_on_commit_callbacks: Any) -> None:
    subject, order, loan, _, world = loop
    first = loan.installments.get(period=1)
    cashier.repay(subject, loan.pk, amount_fen=first.owed_fen, on=first.due_date)
    with django_capture_on_commit_callbacks(execute=True):
        commerce.cancel(subject, order_id=order.pk)
    statement = selectors.daily_statement(world.partner.pk, business_date())
    assert statement.reconciled, (statement.ledger, statement.loans)
    assert statement.ledger["unwound"] == statement.ledger["disbursed"] > 0
    assert statement.ledger["refunded"] == statement.ledger["principal"] + statement.ledger["interest"] > 0


def test_unwinding_is_replay_safe(loop: Any) -> None:
    order = loop[1]
    assert services.order_refunded(order.ref, "seller_default", "user:ops") == (0, 0)  # the order is not refunded
    commerce.seller_cannot_deliver(OPERATIONS, order_id=order.pk, reason="停产")
    assert services.order_refunded(order.ref, "seller_default", "user:ops") == (0, 1)
    assert services.order_refunded(order.ref, "seller_default", "user:ops") == (0, 0)


def test_a_refunded_order_cancels_its_open_applications(world: Any, django_capture_on_commit_callbacks: Any) -> None:
    subject = world.customer()
    order, app = world.order_with_offer(subject)
    assert app.state == Application.State.APPROVED
    with django_capture_on_commit_callbacks(execute=True):
        commerce.cancel(subject, order_id=order.pk)
    app.refresh_from_db()
    assert app.state == Application.State.CANCELLED
    assert Event.objects.filter(type="finance.application.cancelled", subject=f"finance:application:{app.pk}").exists()
    with pytest.raises(Problem):
        services.accept_offer(subject, app.pk, agree=True, on=DISBURSED_ON)


def test_an_offer_for_an_order_paid_meanwhile_cannot_be_signed(world: Any) -> None:
    subject = world.customer()
    order, app = world.order_with_offer(subject)
    pay_balance(order)
    with pytest.raises(Problem) as info:
        services.accept_offer(subject, app.pk, agree=True, on=DISBURSED_ON)
    assert info.value.slug == "order-not-payable"
    assert not Loan.objects.filter(application=app).exists()
