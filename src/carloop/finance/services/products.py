"""Loan products (versioned; signed loans keep their version), funding plans of joint lending, the rate and
schedule an offer is made at, and the capital funders put into their lending pools."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from carloop.core import audit, payables
from carloop.core.errors import Conflict, FieldError, Invalid, NotFound, Problem
from carloop.finance import decisions
from carloop.finance import ledger_accounts as accounts
from carloop.finance.amortization import Method, Schedule, ScheduleInputError, build_schedule
from carloop.finance.models import CAPITAL_KIND, CAPITAL_REF_PREFIX, CapitalCall, FundingPlan, FundingShare, LoanProduct, ProductKind

BP = 10_000


def _half_up(numerator: Decimal) -> int:
    return int(numerator.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _bad(slug: str, pointer: str, zh: str, en: str) -> Problem:
    return Invalid(slug, zh, en, errors=[FieldError(pointer, zh, en)])


def create_funding_plan(code: str, name: str, shares: list[tuple[uuid.UUID, int, Decimal]]) -> FundingPlan:
    """``shares``: (partner organisation id, share in basis points, partner annual rate); the platform funds the rest."""
    if sum(bp for _, bp, _ in shares) > BP or any(bp <= 0 for _, bp, _ in shares):
        raise _bad("invalid-funding-plan", "/shares", "合作方份额须为正且合计不超过 100%", "Shares must be positive and total at most 100%")
    plan, _ = FundingPlan.objects.get_or_create(code=code, defaults={"name": name})
    for partner, bp, rate in shares:
        FundingShare.objects.update_or_create(plan=plan, partner_id=partner, defaults={"share_bp": bp, "partner_rate": rate})
    return plan


PRODUCT_FIELDS = {
    "kind", "name_zh", "name_en", "method", "min_amount_fen", "max_amount_fen", "min_term", "max_term", "terms",
    "rate_table", "monthly_fee_rate", "upfront_fee_rate", "min_down_payment", "max_ltv", "grace_days",
    "penalty_rate", "prepayment_fee_rate", "min_months_before_prepayment", "apr_cap", "funding_plan",
}


def _validate_product(p: LoanProduct) -> None:
    errors = []
    if p.kind not in ProductKind.values:
        errors.append(FieldError("/kind", "产品类型无效", "Unknown product kind"))
    if p.method not in Method.__members__.values():
        errors.append(FieldError("/method", "还款方式无效", "Unknown repayment method"))
    if not 0 < p.min_amount_fen <= p.max_amount_fen:
        errors.append(FieldError("/min_amount_fen", "金额范围无效", "Invalid amount range"))
    if not p.terms or any(not p.min_term <= t <= p.max_term for t in p.terms):
        errors.append(FieldError("/terms", "期数须在产品期限范围内", "Terms must lie within the term range"))
    rates = [Decimal(str(r)) for r in p.rate_table.values()]
    if not rates or any(r < 0 or r > p.apr_cap for r in rates):
        errors.append(FieldError("/rate_table", "费率表须非空且不超过年化上限", "Rate table must be non-empty and within the APR cap"))
    if p.method == Method.MONTHLY_FEE and (p.monthly_fee_rate <= 0 or any(rates)):
        errors.append(FieldError("/monthly_fee_rate", "按月收费产品须设月费率且利率为 0", "Monthly-fee products need a fee rate and zero rates"))
    if p.penalty_rate > p.apr_cap:
        errors.append(FieldError("/penalty_rate", "罚息利率不得超过年化上限", "Penalty rate must not exceed the APR cap"))
    if not 0 < p.max_ltv <= 1 or not 0 <= p.min_down_payment < 1:
        errors.append(FieldError("/max_ltv", "抵押率或首付比例无效", "Invalid LTV or down payment"))
    if errors:
        raise Invalid("invalid-product", "贷款产品配置无效", "Invalid loan product", errors)


@transaction.atomic
def create_product(code: str, **fields: Any) -> LoanProduct:
    """Version 1 of a product, or the current version when it already exists (idempotent for seeding)."""
    existing = LoanProduct.objects.filter(code=code, is_current=True).first()
    if existing is not None:
        return existing
    product = LoanProduct(code=code, version=1, **{k: v for k, v in fields.items() if k in PRODUCT_FIELDS})
    _validate_product(product)
    product.save()
    return product


@transaction.atomic
def new_product_version(code: str, actor: str, **changes: Any) -> LoanProduct:
    """A new version with ``changes``; loans already signed keep the version they were signed under."""
    current = LoanProduct.objects.select_for_update().filter(code=code, is_current=True).first()
    if current is None:
        raise NotFound("贷款产品不存在", "Loan product not found")
    unknown = set(changes) - PRODUCT_FIELDS
    if unknown:
        raise _bad("invalid-product", f"/{sorted(unknown)[0]}", "未知字段", "Unknown field")
    product = LoanProduct(code=code, version=current.version + 1,
                          **{f: getattr(current, f) for f in PRODUCT_FIELDS} | changes)
    _validate_product(product)
    current.is_current = False
    current.save(update_fields=["is_current", "updated_at"])
    product.save()
    audit.record(actor, "finance.product.versioned", "finance.product", product.pk, {"code": code, "version": product.version})
    return product


def current_product(code: str) -> LoanProduct:
    product = LoanProduct.objects.filter(code=code, is_current=True).select_related("funding_plan").first()
    if product is None:
        raise _bad("unknown-product", "/product", "贷款产品不存在", "Unknown loan product")
    return product


def rate_for_tier(product: LoanProduct, tier: str | None) -> Decimal:
    """The product's rate for a price tier; no tier means the default tier, a tier the table lacks its highest rate."""
    table = product.rate_table
    highest = max(table.values(), key=lambda r: Decimal(str(r)))
    return Decimal(str(table.get(tier or decisions.DEFAULT_TIER, highest)))


def offer_schedule(product: LoanProduct, amount_fen: int, term: int, rate: Decimal, start: date) -> Schedule:
    upfront = _half_up(product.upfront_fee_rate * amount_fen)
    try:
        return build_schedule(amount_fen, Decimal(0) if product.method == Method.MONTHLY_FEE else rate, term,
                              product.method, start, monthly_fee_rate=product.monthly_fee_rate, upfront_fee_fen=upfront)
    except ScheduleInputError as err:
        raise _bad("invalid-application", err.field, err.zh, err.en) from None


@transaction.atomic
def call_capital(partner_id: uuid.UUID | None, amount_fen: int, key: str, actor: str = "system") -> CapitalCall:
    """A funder is to put ``amount_fen`` into its lending pool: the call the cashier's bank transfer pays (finance
    operations confirm the money in our bank account; the pool is credited then, never here). ``key`` makes it
    idempotent per funder."""
    if amount_fen <= 0:
        raise _bad("invalid-amount", "/amount", "金额须大于零", "The amount must be greater than zero")
    call, created = CapitalCall.objects.get_or_create(partner_id=partner_id, key=key, defaults={
        "amount_fen": amount_fen, "created_by": actor})
    if not created and call.amount_fen != amount_fen:
        raise Invalid("idempotency-key-reused", "该键已用于不同金额的注资", "This key was used for a different capital call")
    if created:
        audit.record(actor, "finance.capital.called", "finance.funder", accounts.funder_key(partner_id),
                     {"amount_fen": amount_fen, "key": key, "call_id": str(call.pk)})
    return call


def capital_payable(ref: str) -> payables.Payable | None:
    """The cashier's view of a capital call: due until received, into the funder's pool."""
    call = _capital_call(ref, lock=False)
    if call is None:
        return None
    funder = accounts.funder_key(call.partner_id)
    return payables.Payable(ref=ref, amount_due_fen=call.amount_fen if call.state == CapitalCall.State.OPEN else 0,
                            destination_account=accounts.pool(funder).id, payer_org_id=call.partner_id,
                            title_zh=f"资金方注资 {funder}", title_en=f"Funder capital {funder}")


def capital_received(paid: payables.Paid) -> None:
    """The cashier booked the call's money into the pool (inside its transaction): record it."""
    call = _capital_call(paid.ref, lock=True)
    if call is None or call.state != CapitalCall.State.OPEN or paid.amount_fen != call.amount_fen:
        raise Conflict("capital-not-due", "该注资不在待到账状态", "This capital call is not awaiting its money")
    call.state, call.received_at, call.reference = CapitalCall.State.RECEIVED, timezone.now(), f"payments:intent:{paid.intent_id}"
    call.save(update_fields=["state", "received_at", "reference", "updated_at"])
    audit.record(paid.actor, "finance.capital.added", "finance.funder", accounts.funder_key(call.partner_id),
                 {"amount_fen": call.amount_fen, "key": call.key, "intent_id": str(paid.intent_id)})


def _refuse_capital_refund(refunded: payables.Refunded) -> None:
    raise Conflict("capital-not-refundable", "注资不能退款", "Capital is not refunded")


def _capital_call(ref: str, *, lock: bool) -> CapitalCall | None:
    if not ref.startswith(CAPITAL_REF_PREFIX):
        return None
    try:
        call_id = uuid.UUID(ref.removeprefix(CAPITAL_REF_PREFIX))
    except ValueError:
        return None
    qs = CapitalCall.objects.select_for_update() if lock else CapitalCall.objects
    return qs.filter(pk=call_id).first()


def register_payables() -> None:
    payables.register_kind(payables.PayableKind(CAPITAL_KIND, "资金方注资", "Funder capital", capital_payable,
                                                capital_received, _refuse_capital_refund, refunded_by_owner=True))
