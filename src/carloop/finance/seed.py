"""Demo data: joint-lending plans with the seeded partner banks, three products, capital in the pools, and a
year of purchase-instalment and car-secured loans with realistic repayment behaviour (a few go delinquent; two of
those borrowers bind a card, and today's COB withholds their arrears: one card pays, one is short of money)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import F
from django.utils import timezone

from carloop.core import payables
from carloop.core.errors import Problem
from carloop.core.seeding import SeedContext
from carloop.core.timeutil import business_date
from carloop.finance import cob, services
from carloop.finance.models import CAPITAL_KIND, Application, CapitalCall, Installment, Loan, LoanFunding, Repayment
from carloop.identity import selectors as identity
from carloop.ledger import services as ledger

PARTNER_TERMS = {"招商银行股份有限公司": (7000, Decimal("0.0450")), "中信消费金融有限公司": (5000, Decimal("0.0600"))}



def seed(ctx: SeedContext) -> None:
    partners = {o.name: o for o in identity.organisations_of_kind("funding_partner")}
    plans = {}
    for name, (bp, rate) in PARTNER_TERMS.items():
        if name in partners:
            code = f"joint-{bp // 100}-{'cmb' if '招商' in name else 'citic'}"
            plans[name] = services.create_funding_plan(code, f"{name} {bp // 100}% / 平台 {100 - bp // 100}%",
                                                       [(partners[name].id, bp, rate)])
            _capital(partners[name].id, 2_000_000_000_00)
    _capital(None, 500_000_000_00)
    cmb = plans.get("招商银行股份有限公司")
    citic = plans.get("中信消费金融有限公司")
    services.create_product(
        "car-purchase", kind="purchase_installment", name_zh="京车分期·购车贷", name_en="Car purchase instalment",
        method="equal_installment", min_amount_fen=20_000_00, max_amount_fen=1_000_000_00, min_term=12, max_term=60,
        terms=[12, 24, 36, 48, 60], rate_table={"A": "0.0399", "B": "0.0599", "C": "0.0899", "D": "0.1299"},
        min_down_payment=Decimal("0.15"), grace_days=3, penalty_rate=Decimal("0.1825"),
        prepayment_fee_rate=Decimal("0.01"), min_months_before_prepayment=3, funding_plan=cmb)
    services.create_product(
        "car-secured", kind="car_secured", name_zh="京车贷·车抵贷", name_en="Car-secured loan", method="equal_principal",
        min_amount_fen=10_000_00, max_amount_fen=500_000_00, min_term=6, max_term=36, terms=[6, 12, 24, 36],
        rate_table={"A": "0.0799", "B": "0.1099", "C": "0.1499"}, upfront_fee_rate=Decimal("0.005"),
        max_ltv=Decimal("0.8"), grace_days=0, penalty_rate=Decimal("0.18"), funding_plan=citic)
    services.create_product(
        "trade-in", kind="trade_in", name_zh="置换金融·等本等费", name_en="Trade-in finance (monthly fee)",
        method="monthly_fee", min_amount_fen=20_000_00, max_amount_fen=600_000_00, min_term=12, max_term=36,
        terms=[12, 24, 36], rate_table={"B": "0"}, monthly_fee_rate=Decimal("0.0045"), min_down_payment=Decimal("0.2"),
        grace_days=3, penalty_rate=Decimal("0.18"))
    _seed_loans(ctx)


def _seed_loans(ctx: SeedContext) -> None:
    target = max(30, ctx.count("customers") // 5)
    if Loan.objects.count() >= target:
        return
    dealers = identity.organisations_of_kind("dealer") + identity.organisations_of_kind("store")[:3]
    if not dealers:
        return
    today = business_date()
    users = get_user_model().objects.filter(is_staff=False).order_by("username").values_list("pk", flat=True)
    made = 0
    for user_id in ctx.progress(list(users), "finance loans"):
        if made >= target:
            break
        facts = identity.customer_facts(user_id)
        if facts is None or not facts.kyc_verified or Application.objects.filter(customer_id=user_id).exists():
            continue
        subject = identity.subject_for_user(get_user_model().objects.get(pk=user_id))
        if subject.kind != "customer":
            continue
        disbursed = today - timedelta(days=ctx.rng.randint(20, 360))
        if made % 4 == 2 and _secured_loan(ctx, subject, user_id, disbursed):
            made += 1
            continue
        price = ctx.rng.randrange(80_000, 420_000, 1_000) * 100
        product = "trade-in" if made % 5 == 4 else "car-purchase"
        down = Decimal("0.3") if product == "car-purchase" else Decimal("0.35")
        amount = int(price * (1 - down)) // 100 * 100
        data = services.ApplicationInput(
            product=product, amount_fen=amount, term=ctx.rng.choice([12, 24, 36]), consent=True,
            order_ref=f"JD{disbursed:%Y%m%d}{ctx.rng.randrange(10**6):06d}", merchant_org_id=ctx.rng.choice(dealers).id,
            car_price_fen=price, monthly_income_fen=ctx.rng.randrange(8_000, 40_000, 500) * 100)
        try:
            app = services.apply(subject, data, on=disbursed)
            if app.state != app.State.APPROVED:
                continue
            loan = services.accept_offer(subject, app.pk, agree=True, ip="127.0.0.1", user_agent="seed", on=disbursed)
        except Problem:
            continue
        _repay_history(ctx, loan, today, made)
        made += 1
    _bind_cards(today)
    cob.run(today)
    if made:
        _history_until_yesterday()


def _history_until_yesterday() -> None:
    """The book seeded in this sitting (capital, disbursements, repayments) is the story until yesterday: its ledger
    transfers and the loan records the partners' statements compare them with move back a day, so the statement of
    yesterday (the page's default day) shows the movements and today's starts from its closing balance."""
    until, day = timezone.now(), timedelta(days=1)
    ledger.move_history_back(until=until, by=day)
    LoanFunding.objects.filter(created_at__lt=until).update(created_at=F("created_at") - day)
    Repayment.objects.filter(created_at__lt=until).update(created_at=F("created_at") - day)
    Loan.objects.filter(unwound_at__lt=until).update(unwound_at=F("unwound_at") - day)


DEMO_CARDS = ("6222021234567890128", "6222020000000089995")  # the second never has enough money at the simulator


def _bind_cards(today: date) -> None:
    """Two borrowers behind on their loans bind a bank card for withholding (代扣): today's COB withholds what they
    owe — the first card pays and clears the arrears, the second is short of money and the loan stays overdue."""
    behind = (Loan.objects.filter(state=Loan.State.ACTIVE, debit_agreement_no="",
                                  installments__status__in=services.OPEN, installments__due_date__lt=today)
              .order_by("contract_no").distinct()[:len(DEMO_CARDS)])
    for loan, card in zip(list(behind), DEMO_CARDS, strict=False):
        subject = identity.subject_for_user(get_user_model().objects.get(pk=loan.customer_id))
        services.bind_debit_card(subject, loan.pk, card_no=card)


def _capital(partner_id: Any, amount_fen: int) -> None:
    """The funder's capital, called here and paid by bank transfer: finance operations confirm it at the cashier."""
    call = services.call_capital(partner_id, amount_fen, "seed", actor="seed")
    if call.state == CapitalCall.State.OPEN:
        payables.cashier().confirm_deposit(kind=CAPITAL_KIND, ref=call.ref, bank_txn_id=f"SEED-CAPITAL-{call.pk.hex[:16]}",
                                           value_date=business_date(), actor="seed")


def _secured_loan(ctx: SeedContext, subject: Any, user_id: Any, disbursed: date) -> bool:
    from carloop.vehicles import selectors as vehicles_q
    from carloop.vehicles import services as vehicles

    for vehicle in vehicles_q.garage(user_id):
        if vehicle.registration_date is None or vehicle.registration_date >= disbursed:
            continue  # pledged only after it was registered
        try:
            value = vehicles.value(vehicle.id, disbursed).value_fen
            amount = max(10_000_00, int(value * Decimal("0.5")) // 100_00 * 100_00)
            app = services.apply(subject, services.ApplicationInput(
                product="car-secured", amount_fen=amount, term=ctx.rng.choice([12, 24]), consent=True,
                vehicle_id=vehicle.id), on=disbursed)
            if app.state == app.State.APPROVED:
                loan = services.accept_offer(subject, app.pk, agree=True, ip="127.0.0.1", user_agent="seed", on=disbursed)
                _repay_history(ctx, loan, business_date(), 0)
                return True
        except Problem:
            continue
    return False


def _repay_history(ctx: SeedContext, loan: Loan, today: date, index: int) -> None:
    """Most customers pay on the due date; about one in eight stops paying at some point."""
    stops_after = ctx.rng.randint(1, 8) if ctx.rng.random() < 0.12 else None  # float-ok: a probability
    for inst in Installment.objects.filter(loan=loan, due_date__lt=today).order_by("period"):
        if stops_after is not None and inst.period > stops_after:
            break
        late = ctx.rng.choice([0, 0, 0, 0, 0, 0, 1, 2, 5])
        _paid_by_transfer(loan, services.ref_for(loan.pk, amount_fen=Installment.objects.get(pk=inst.pk).owed_fen),
                          inst.due_date + timedelta(days=late), f"SEED-REPAY-{inst.pk.hex[:20]}")
    if index % 17 == 3 and loan.state == Loan.State.ACTIVE:
        loan.refresh_from_db()
        first_open = Installment.objects.filter(loan=loan, status__in=services.OPEN).order_by("period").first()
        if first_open is not None and first_open.due_date > today:
            try:
                _paid_by_transfer(loan, services.ref_for(loan.pk, amount_fen=loan.outstanding_principal_fen // 5,
                                                         option=services.LOWER_INSTALLMENT),
                                  today, f"SEED-PREPAY-{loan.pk.hex[:20]}")
            except Problem:
                return


def _paid_by_transfer(loan: Loan, ref: str, on: date, bank_txn_id: str) -> None:
    """The borrower's bank transfer for ``ref`` on ``on``, confirmed by finance operations at the cashier (which
    credits the loan)."""
    with services.as_of(on):
        payables.cashier().confirm_deposit(kind=services.REPAYMENT_KIND, ref=ref, bank_txn_id=bank_txn_id,
                                           value_date=on, actor="seed")
