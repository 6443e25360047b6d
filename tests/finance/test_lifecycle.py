"""Application → decision → offer → e-signature → disbursement → repayments → payoff, against the ledger."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest

from carloop.core.errors import Problem
from carloop.core.models import Event
from carloop.finance import ledger_accounts as accounts
from carloop.finance import selectors, services
from carloop.finance.models import Application, ApplicationDecision, Installment, Loan
from carloop.ledger import selectors as ledger_q
from tests.finance import cashier

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
    assert ApplicationDecision.objects.get(application=loan.application).request["amount_fen"] == 10_000_000
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
    rep = cashier.repay(subject, loan.pk, amount_fen=first.owed_fen, on=due)
    assert rep.principal_fen == first.principal_fen and rep.interest_fen == first.interest_fen
    first.refresh_from_db()
    assert first.status == Installment.Status.PAID
    # Booking is idempotent by its key (the cashier's intent): the same request is the stored repayment.
    again, replayed = services.book_repayment(loan.pk, amount_fen=first.owed_fen + first.principal_fen + first.interest_fen,
                                              key=rep.key, on=due, actor="test")
    assert replayed and again.pk == rep.pk
    with pytest.raises(Problem) as err:
        services.book_repayment(loan.pk, amount_fen=1, key=rep.key, on=due, actor="test")
    assert err.value.slug == "idempotency-key-reused"
    partner = rep.split[str(world.partner.pk)]
    assert partner["principal"] == (first.principal_fen * 7 * 2 + 10) // 20  # 70 %, rounded half up
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
    rep = cashier.repay(world.customer(), loan.pk, amount_fen=first.owed_fen, on=first.due_date + timedelta(days=11))
    assert rep.penalty_fen == 8 * daily and rep.days_past_due == 11
    loan.refresh_from_db()
    assert loan.bucket == "current"


def test_prepayment_lower_installment_and_payoff(world: World) -> None:
    loan = world.loan()
    subject = world.customer()
    first = loan.installments.get(period=1)
    cashier.repay(subject, loan.pk, amount_fen=first.owed_fen, on=first.due_date)
    old_second = loan.installments.get(period=2)
    cashier.repay(subject, loan.pk, amount_fen=2_020_000, on=first.due_date + timedelta(days=1),
                    option="lower_installment")
    loan.refresh_from_db()
    second = loan.installments.get(period=2)
    assert second.principal_fen + second.interest_fen < old_second.principal_fen + old_second.interest_fen
    assert loan.installments.count() == 36
    open_principal = sum(i.principal_fen - i.paid_principal_fen for i in loan.installments.all())
    assert open_principal == loan.outstanding_principal_fen
    quote = services.payoff_quote(subject, loan.pk, second.due_date - timedelta(days=10))
    cashier.repay(subject, loan.pk, amount_fen=quote.total_fen, on=quote.valid_on, payoff=True)
    loan.refresh_from_db()
    assert loan.state == Loan.State.CLOSED and loan.outstanding_principal_fen == 0
    assert selectors.reconcile_funders() == []
    with pytest.raises(Problem) as err:
        cashier.repay(subject, loan.pk, amount_fen=100, on=quote.valid_on)
    assert err.value.status == 409


def test_regular_repayments_keep_the_oldest_unpaid_due_and_close_the_loan(world: World) -> None:
    loan = world.loan(term=12)
    subject = world.customer()
    rows = list(loan.installments.order_by("period"))
    cashier.repay(subject, loan.pk, amount_fen=rows[0].owed_fen - 100, on=rows[0].due_date)
    loan.refresh_from_db()
    assert loan.oldest_unpaid_due == rows[0].due_date and loan.bucket == "current"
    late = rows[1].due_date + timedelta(days=5)  # the rest of 1 is 36 days late, 2 is 5 days late
    cashier.repay(subject, loan.pk, amount_fen=100, on=late)
    loan.refresh_from_db()
    assert loan.oldest_unpaid_due == rows[1].due_date and loan.bucket == "1-30"
    cashier.repay(subject, loan.pk, amount_fen=rows[1].owed_fen + rows[2].owed_fen, on=late)
    loan.refresh_from_db()  # 2 and the next one (3) paid in full: 4 is now the oldest open instalment
    assert loan.oldest_unpaid_due == rows[3].due_date and loan.bucket == "current"
    for row in rows[3:]:
        assert loan.state == Loan.State.ACTIVE
        cashier.repay(subject, loan.pk, amount_fen=row.owed_fen, on=row.due_date)
        loan.refresh_from_db()
    assert loan.state == Loan.State.CLOSED and loan.closed_on == rows[-1].due_date
    assert loan.outstanding_principal_fen == 0 and loan.oldest_unpaid_due is None
    assert not loan.installments.exclude(status=Installment.Status.PAID).exists()
    assert selectors.reconcile_funders() == []


def test_shorter_term_prepayment(world: World) -> None:
    loan = world.loan()
    subject = world.customer()
    first = loan.installments.get(period=1)
    cashier.repay(subject, loan.pk, amount_fen=first.owed_fen, on=first.due_date)
    cashier.repay(subject, loan.pk, amount_fen=3_030_000, on=first.due_date + timedelta(days=1),
                    option="shorter_term")
    loan.refresh_from_db()
    assert loan.installments.count() < 36
    second = loan.installments.get(period=2)
    assert second.principal_fen + second.interest_fen <= first.principal_fen + first.interest_fen
    assert selectors.reconcile_funders() == []


def test_write_off(world: World, actors: Any) -> None:
    from carloop.identity import selectors as identity

    loan = world.loan()
    ops = identity.subject_for_user(actors.user("finance_ops"))
    services.write_off(ops, loan.pk, "客户失联超过 180 天", DISBURSED_ON + timedelta(days=200))
    loan.refresh_from_db()
    assert loan.state == Loan.State.WRITTEN_OFF and loan.written_off_fen == 10_000_000
    assert selectors.reconcile_funders() == []


def _register_car(world: World, kind: str = "customer") -> Any:
    from carloop.vehicles import services as vehicles

    return vehicles.register_vehicle(owner_user_id=world.actors.user(kind).pk, vin="LSVAU218XN2183294",
                                     registration_date=date(2024, 5, 1), brand_name="大众", model_name="帕萨特",
                                     powertrain="ICE", reference_price_fen=22_000_000, odometer_km=30_000)


def test_car_secured_loan_checks_ltv_and_pays_the_customer(world: World) -> None:
    from carloop.vehicles import services as vehicles

    car = _register_car(world)
    value = vehicles.value(car.id, DISBURSED_ON).value_fen
    subject = world.customer()
    too_much = services.ApplicationInput(product="car-secured", amount_fen=min(50_000_000, int(value * 0.9)) // 100 * 100,  # float-ok
                                         term=12, consent=True, vehicle_id=car.id)
    declined = services.apply(subject, too_much, on=DISBURSED_ON)
    assert declined.state == Application.State.DECLINED
    assert [r["code"] for r in declined.decline_reasons] == ["ltv_exceeded"]
    ok = services.ApplicationInput(product="car-secured", amount_fen=int(value * 0.5) // 100 * 100, term=12,  # float-ok
                                   consent=True, vehicle_id=car.id)
    app = services.apply(subject, ok, on=DISBURSED_ON)
    loan = services.accept_offer(subject, app.pk, agree=True, on=DISBURSED_ON)
    assert loan.pledge_status == Loan.Pledge.PENDING and loan.method == "equal_principal"
    assert ledger_q.balance(accounts.payout(loan.customer_id).id).balance_fen == loan.principal_fen
    other = services.ApplicationInput(product="car-secured", amount_fen=1_000_000, term=12, consent=True, vehicle_id=car.id)
    with pytest.raises(Problem) as err:
        services.apply(world.customer("other_customer"), other, on=DISBURSED_ON)
    assert err.value.errors[0].pointer == "/vehicle_id"


def test_offer_above_the_apr_cap_is_refused(world: World) -> None:
    services.new_product_version("car-purchase", "user:test", upfront_fee_rate=Decimal("0.2"), apr_cap=Decimal("0.24"))
    with pytest.raises(Problem) as err:
        services.apply(world.customer(), world.purchase_input(term=12), on=DISBURSED_ON)
    assert err.value.slug == "apr-above-cap" and err.value.status == 422
    assert not Application.objects.exists()


def test_loans_keep_the_product_version_they_were_signed_on(world: World) -> None:
    loan = world.loan()
    v2 = services.new_product_version("car-purchase", "user:ops", rate_table={"B": "0.0899"})
    assert v2.version == 2
    loan.refresh_from_db()
    assert loan.product.version == 1 and loan.annual_rate == Decimal("0.0699")
    later = world.loan(kind="other_customer")
    assert later.product.version == 2 and later.annual_rate == Decimal("0.0899")


def test_rules_provider_declines_unverified_customers(world: World, actors: Any) -> None:
    from carloop.identity import selectors as identity
    from carloop.identity import services as identity_services

    user = identity_services.register_customer(phone="13912345678", password="Tr0ub4dour&3x", display_name="未认证")
    subject = identity.subject_for_user(user)
    app = services.apply(subject, world.purchase_input(), on=DISBURSED_ON)
    assert app.state == Application.State.DECLINED
    assert app.decline_reasons[0]["code"] == "kyc_not_verified" and app.decline_reasons[0]["zh"]
    decided = Event.objects.filter(type="finance.application.decided").last()
    assert decided is not None and decided.payload["outcome"] == "declined"
    from carloop.finance import decisions

    stored = ApplicationDecision.objects.get(application=app)
    replayed = decisions.replay(stored.request, stored.request["observed"])
    assert replayed.outcome == stored.outcome == "decline"
    assert replayed.rule_hits == stored.result["rule_hits"]


def test_partner_daily_statement_reconciles_to_the_ledger(world: World) -> None:
    from carloop.core.timeutil import business_date

    loan = world.loan()
    first = loan.installments.get(period=1)
    cashier.repay(world.customer(), loan.pk, amount_fen=first.owed_fen, on=first.due_date)
    statement = selectors.daily_statement(world.partner.pk, business_date())
    assert statement.reconciled, (statement.ledger, statement.loans, statement.opening_fen, statement.closing_fen)
    assert statement.ledger["disbursed"] == 7_000_000
    assert statement.ledger["principal"] == statement.loans["principal"] > 0
    assert statement.closing_fen == statement.opening_fen + statement.ledger["capital"] - 7_000_000 + \
        statement.ledger["principal"] + statement.ledger["interest"]
    portfolio = selectors.portfolio(world.partner.pk)
    assert portfolio.loans == 1 and portfolio.outstanding_fen == 7_000_000 - statement.ledger["principal"]
