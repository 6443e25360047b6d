"""Application → decision → offer → e-signature → disbursement → repayments → payoff, against the ledger."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from carloop.core.errors import Problem
from carloop.core.models import Event
from carloop.finance import ledger_accounts as accounts
from carloop.finance import selectors, services, servicing
from carloop.finance.models import Application, Decision, Installment, Loan
from carloop.ledger import selectors as ledger_q

from .conftest import DISBURSED_ON, World

pytestmark = pytest.mark.django_db


def pool_balance(world: World, partner: bool) -> int:
    key = str(world.partner.pk) if partner else accounts.PLATFORM
    return ledger_q.balance(accounts.pool(key).id).balance_fen


def test_purchase_loan_disburses_shares_to_the_dealer(world: World) -> None:
    before_partner, before_platform = pool_balance(world, True), pool_balance(world, False)
    loan = world.loan()
    assert loan.state == Loan.State.ACTIVE
    assert loan.application.state == Application.State.DISBURSED
    assert loan.apr == Decimal("0.069900") and loan.annual_rate == Decimal("0.0699")
    assert Decision.objects.get(application=loan.application).request["amount_fen"] == 10_000_000
    assert pool_balance(world, True) == before_partner - 7_000_000
    assert pool_balance(world, False) == before_platform - 3_000_000
    assert ledger_q.balance(accounts.settlement(world.dealer.pk).id).balance_fen == 10_000_000
    rows = list(loan.installments.order_by("period"))
    assert len(rows) == 36 and rows[0].due_date == date(2026, 2, 15)
    assert sum(r.principal_fen for r in rows) == 10_000_000
    event = Event.objects.get(type="finance.loan.disbursed")
    assert event.payload["order_ref"] == "ORD-2026-0001" and event.payload["amount_fen"] == 10_000_000
    assert event.payload["merchant_org_id"] == str(world.dealer.pk)
    assert selectors.reconcile_funders() == []


def test_declined_application_has_readable_reasons(world: World) -> None:
    subject = world.customer()
    with pytest.raises(Problem) as err:
        services.apply(subject, world.purchase_input(amount_fen=14_000_000), on=DISBURSED_ON)
    assert err.value.slug == "down-payment-too-low"
    assert not Application.objects.exists()


def test_regular_repayment_allocates_and_splits(world: World) -> None:
    loan = world.loan()
    first = loan.installments.get(period=1)
    due = first.due_date
    subject = world.customer()
    rep, replayed = servicing.repay(subject, loan.pk, amount_fen=first.owed_fen, key="k1", on=due)
    assert not replayed and rep.principal_fen == first.principal_fen and rep.interest_fen == first.interest_fen
    first.refresh_from_db()
    assert first.status == Installment.Status.PAID
    again, replayed = servicing.repay(subject, loan.pk, amount_fen=first.principal_fen + first.interest_fen, key="k1", on=due)
    assert replayed and again.pk == rep.pk
    with pytest.raises(Problem) as err:
        servicing.repay(subject, loan.pk, amount_fen=1, key="k1", on=due)
    assert err.value.slug == "idempotency-key-reused"
    partner = rep.split[str(world.partner.pk)]
    assert partner["principal"] == round(first.principal_fen * 0.7)  # float-ok: test arithmetic on small ints
    assert selectors.reconcile_funders() == []


def test_cob_penalty_buckets_and_idempotence(world: World) -> None:
    from carloop.finance import cob

    loan = world.loan()
    first = loan.installments.get(period=1)
    for k in range(0, 12):
        stats = cob.run(first.due_date + timedelta(days=k))
    loan.refresh_from_db()
    assert loan.bucket == "1-30"
    first.refresh_from_db()
    assert first.status == Installment.Status.OVERDUE
    # grace 3 days: penalty for days 4..11 on the overdue principal at 18%/360
    daily = round(first.principal_fen * 0.18 / 360)  # float-ok: test arithmetic
    assert first.penalty_fen == 8 * daily
    again = cob.run(first.due_date + timedelta(days=11))
    assert again.get("replayed") is True
    first.refresh_from_db()
    assert first.penalty_fen == 8 * daily
    assert stats["business_date"] == (first.due_date + timedelta(days=11)).isoformat()
    assert Event.objects.filter(type="finance.installment.overdue").count() == 1
    # pay everything due: penalty first
    rep, _ = servicing.repay(world.customer(), loan.pk, amount_fen=first.owed_fen, key="late", on=first.due_date + timedelta(days=11))
    assert rep.penalty_fen == 8 * daily and rep.days_past_due == 11
    loan.refresh_from_db()
    assert loan.bucket == "current"


def test_prepayment_lower_installment_and_payoff(world: World) -> None:
    loan = world.loan()
    subject = world.customer()
    first = loan.installments.get(period=1)
    servicing.repay(subject, loan.pk, amount_fen=first.owed_fen, key="p1", on=first.due_date)
    old_second = loan.installments.get(period=2)
    servicing.repay(subject, loan.pk, amount_fen=2_020_000, key="pre", on=first.due_date + timedelta(days=1),
                    prepayment_option="lower_installment")
    loan.refresh_from_db()
    second = loan.installments.get(period=2)
    assert second.principal_fen + second.interest_fen < old_second.principal_fen + old_second.interest_fen
    assert loan.installments.count() == 36
    open_principal = sum(i.principal_fen - i.paid_principal_fen for i in loan.installments.all())
    assert open_principal == loan.outstanding_principal_fen
    quote = servicing.payoff_quote(subject, loan.pk, second.due_date - timedelta(days=10))
    servicing.repay(subject, loan.pk, amount_fen=quote.total_fen, key="payoff", on=quote.valid_on, kind="payoff")
    loan.refresh_from_db()
    assert loan.state == Loan.State.CLOSED and loan.outstanding_principal_fen == 0
    assert selectors.reconcile_funders() == []
    with pytest.raises(Problem) as err:
        servicing.repay(subject, loan.pk, amount_fen=100, key="after", on=quote.valid_on)
    assert err.value.status == 409


def test_shorter_term_prepayment(world: World) -> None:
    loan = world.loan()
    subject = world.customer()
    first = loan.installments.get(period=1)
    servicing.repay(subject, loan.pk, amount_fen=first.owed_fen, key="p1", on=first.due_date)
    servicing.repay(subject, loan.pk, amount_fen=3_030_000, key="pre", on=first.due_date + timedelta(days=1),
                    prepayment_option="shorter_term")
    loan.refresh_from_db()
    assert loan.installments.count() < 36
    second = loan.installments.get(period=2)
    assert second.principal_fen + second.interest_fen <= first.principal_fen + first.interest_fen
    assert selectors.reconcile_funders() == []


def test_write_off(world: World, actors: Any) -> None:
    from carloop.identity import selectors as identity

    loan = world.loan()
    ops = identity.subject_for_user(actors.user("finance_ops"))
    servicing.write_off(ops, loan.pk, "客户失联超过 180 天", DISBURSED_ON + timedelta(days=200))
    loan.refresh_from_db()
    assert loan.state == Loan.State.WRITTEN_OFF and loan.written_off_fen == 10_000_000
    assert selectors.reconcile_funders() == []
