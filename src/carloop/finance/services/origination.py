"""Loan origination: applications and their decisions, manual and risk review, offers, e-signature,
disbursement to the dealer or the customer, pledge status, and cancellation when a car order is refunded.
Every money movement is a ledger transfer in the same transaction as the change."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from carloop.core import audit, events, orders
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, Forbidden, NotFound, Problem
from carloop.core.money import format_cny
from carloop.core.timeutil import business_date
from carloop.finance import decisions, selectors
from carloop.finance import ledger_accounts as accounts
from carloop.finance.amortization import Method, build_schedule
from carloop.finance.models import Application, ApplicationDecision, Installment, Loan, LoanFunding, LoanProduct, ProductKind
from carloop.finance.services import servicing
from carloop.finance.services.products import BP, _bad, _half_up, current_product, offer_schedule, rate_for_tier
from carloop.ledger import services as ledger
from carloop.ledger.contracts import TransferSpec
from carloop.risk.contracts import DecisionRequest

OFFER_VALID_DAYS = 7
CONSENT = (
    "本人同意 carloop 及其合作放款机构为审核本次贷款申请查询、使用本人的身份、车辆及平台行为数据。",
    "I consent to carloop and its partner lenders using my identity, vehicle and platform data to assess this "
    "loan application.",
)
CONSENT_TEXT = " / ".join(CONSENT)  # what the application records: the applicant saw it in their language
SIGNATURE_STATEMENT = ("本人已阅读并同意借款合同全部条款", "I have read and agree to all terms of the loan contract")


# ------------------------------------------------------------------------------------------------- applications


@dataclass(frozen=True)
class ApplicationInput:
    product: str
    amount_fen: int
    term: int
    consent: bool
    order_ref: str = ""
    merchant_org_id: uuid.UUID | None = None
    car_price_fen: int | None = None
    vehicle_id: uuid.UUID | None = None
    monthly_income_fen: int | None = None
    device_id: str | None = None
    ip: str = ""


def _check_platform_order(customer_id: uuid.UUID, data: ApplicationInput) -> None:
    """An order placed on the platform must be the applicant's, waiting for its balance, at the price stated,
    and the loan may not exceed the balance (the disbursement pays it)."""
    terms = orders.terms(data.order_ref)
    if terms is None or terms.customer_user_id != customer_id or not terms.balance_due_fen:
        raise _bad("invalid-application", "/order_ref", "订单不存在、不属于您或无需支付尾款",
                   "The order does not exist, is not yours, or has no balance to pay")
    if data.car_price_fen != terms.price_fen:
        price = format_cny(terms.price_fen)
        raise _bad("invalid-application", "/car_price", f"车价应与订单一致：{price}", f"The car price must match the order: {price}")
    if data.amount_fen > terms.balance_due_fen:
        due = format_cny(terms.balance_due_fen)
        raise _bad("amount-above-balance", "/amount", f"贷款金额不得超过订单尾款 {due}",
                   f"The loan may not exceed the order's balance of {due}")


def _collateral(product: LoanProduct, customer_id: uuid.UUID, data: ApplicationInput, as_of: date) -> int | None:
    if product.kind in (ProductKind.PURCHASE, ProductKind.TRADE_IN):
        if not data.order_ref or data.merchant_org_id is None or not data.car_price_fen:
            raise _bad("invalid-application", "/order_ref", "购车/置换分期须提供订单号、经销商和车价",
                       "Purchase and trade-in finance need the order reference, the dealer and the car price")
        from carloop.identity import selectors as identity

        merchant = identity.get_organisation(data.merchant_org_id)
        if merchant is None or merchant.kind not in ("dealer", "store"):
            raise _bad("invalid-application", "/merchant_org_id", "经销商不存在", "Unknown dealer")
        if orders.known_prefix(data.order_ref):
            _check_platform_order(customer_id, data)
        if data.amount_fen > data.car_price_fen * (1 - product.min_down_payment):
            raise _bad("down-payment-too-low", "/amount", f"首付不得低于车价的 {product.min_down_payment:.0%}",
                       f"The down payment must be at least {product.min_down_payment:.0%} of the car price")
        return data.car_price_fen
    if data.vehicle_id is None:
        raise _bad("invalid-application", "/vehicle_id", "请选择车辆", "Choose the vehicle")
    from carloop.vehicles import selectors as vehicles_q
    from carloop.vehicles import services as vehicles

    if vehicles_q.get_owned_vehicle(customer_id, data.vehicle_id) is None:
        raise _bad("invalid-application", "/vehicle_id", "车辆不存在或不属于您", "The vehicle is not in your garage")
    return int(vehicles.value(data.vehicle_id, as_of).value_fen)


@transaction.atomic
def apply(subject: Subject, data: ApplicationInput, *, on: date | None = None) -> Application:
    """Submit an application with consent and decide it at once (approve with an offer, decline, or refer)."""
    customer_id = subject.require_customer("只有个人客户可以申请贷款", "Only customers can apply for a loan")
    product = current_product(data.product)
    if not data.consent:
        raise _bad("consent-required", "/consent", "须同意数据使用授权", "Consent to the use of your data is required")
    if not product.min_amount_fen <= data.amount_fen <= product.max_amount_fen:
        raise _bad("amount-out-of-range", "/amount",
                   f"金额须在 {product.min_amount_fen / 100:.2f} 到 {product.max_amount_fen / 100:.2f} 元之间",  # float-ok: display
                   f"Amount must be {product.min_amount_fen / 100:.2f} to {product.max_amount_fen / 100:.2f} yuan")  # float-ok
    if data.term not in product.terms:
        raise _bad("term-not-offered", "/term", f"可选期数：{product.terms}", f"Terms offered: {product.terms}")
    as_of = on or business_date()
    collateral = _collateral(product, customer_id, data, as_of)
    app = Application.objects.create(
        customer_id=customer_id, product=product, amount_fen=data.amount_fen, term=data.term,
        order_ref=data.order_ref, merchant_id=data.merchant_org_id, car_price_fen=data.car_price_fen,
        vehicle_id=data.vehicle_id, collateral_value_fen=collateral, monthly_income_fen=data.monthly_income_fen,
        consent_text=CONSENT_TEXT, consent_at=timezone.now(), consent_ip=data.ip,
    )
    request = DecisionRequest(
        application_ref=f"finance:application:{app.pk}", product_kind=product.kind,
        customer_user_id=str(customer_id), amount_fen=data.amount_fen, term_months=data.term, as_of=as_of,
        product_limits={"min_amount_fen": product.min_amount_fen, "max_amount_fen": product.max_amount_fen,
                        "max_ltv": str(product.max_ltv), "min_down_payment": str(product.min_down_payment)},
        collateral_value_fen=collateral, monthly_income_fen=data.monthly_income_fen, device_id=data.device_id,
        ip=data.ip or None,
    )
    observed = decisions.observe(request)
    provider, result = decisions.decide(request, observed)
    ApplicationDecision.objects.create(application=app, provider=provider, outcome=result.outcome,
                            request=decisions.jsonable(request) | {"observed": observed},
                            result=decisions.jsonable(result))
    if result.outcome == "approve":
        app.approve()
        _make_offer(app, result.approved_amount_fen or data.amount_fen, result.price_tier, as_of)
    elif result.outcome == "refer":
        app.refer()
    else:
        app.decline()
        app.decline_reasons = [{"code": r.code, "zh": r.zh, "en": r.en} for r in result.reasons]
    app.save()
    audit.record(subject.ref, f"finance.application.{app.state}", "finance.application", app.pk,
                 {"provider": provider, "decision_id": result.decision_id})
    _publish_decided(app, subject.ref)
    return app


def _make_offer(app: Application, amount_fen: int, tier: str | None, as_of: date) -> None:
    product = app.product
    amount = min(amount_fen, app.amount_fen)
    rate = rate_for_tier(product, tier)
    apr, effective = offer_schedule(product, amount, app.term, rate, as_of).apr_pair()
    if apr > product.apr_cap:
        raise Problem(422, "apr-above-cap", f"该报价年化利率 {apr:.2%} 超过上限 {product.apr_cap:.2%}，不能发出",
                      f"The offer's APR {apr:.2%} exceeds the cap of {product.apr_cap:.2%} and cannot be made",
                      extra={"apr": str(apr), "apr_cap": str(product.apr_cap)})
    app.price_tier = tier or decisions.DEFAULT_TIER
    app.offer_amount_fen, app.offer_term, app.offer_rate = amount, app.term, rate
    app.offer_apr, app.offer_apr_effective = apr, effective
    app.offer_expires_on = as_of + timedelta(days=OFFER_VALID_DAYS)


def _publish_decided(app: Application, actor: str) -> None:
    events.publish("finance.application.decided", f"finance:application:{app.pk}", {
        "application_id": str(app.pk), "customer_user_id": str(app.customer_id), "product_kind": app.product.kind,
        "outcome": app.state, "amount_fen": app.amount_fen, "term": app.term, "price_tier": app.price_tier,
        "offer_amount_fen": app.offer_amount_fen, "apr": str(app.offer_apr) if app.offer_apr is not None else None,
        "reasons": [r["code"] for r in app.decline_reasons],
    }, actor=actor)


@transaction.atomic
def review(subject: Subject, application_id: uuid.UUID, approve: bool, note: str = "", *, on: date | None = None) -> Application:
    """Manual review of a referred application (risk analysts and ops)."""
    subject.require_authenticated()
    app = (selectors.applications_readable_by(subject).select_for_update(of=("self",))
           .filter(pk=application_id).first())
    if app is None:
        raise NotFound()
    if not selectors.reviews(subject):
        raise Forbidden()
    if app.state != Application.State.REFERRED:
        raise Conflict("not-referred", "该申请不在人工审核队列中", "This application is not waiting for review")
    _settle_referral(app, approve, app.amount_fen, decisions.DEFAULT_TIER, note, subject.ref, "manual", on or business_date())
    return app


@transaction.atomic
def apply_risk_review(application_ref: str, outcome: str, approved_amount_fen: int | None, price_tier: str | None,
                      actor: str, *, on: date | None = None) -> bool:
    """A risk analyst's decision on a referred application (event ``risk.review.decided``). Idempotent: an
    application no longer waiting for review is left alone. Returns whether it changed."""
    prefix = "finance:application:"
    if not application_ref.startswith(prefix) or outcome not in ("approve", "decline"):
        return False
    try:
        application_id = uuid.UUID(application_ref.removeprefix(prefix))
    except ValueError:
        return False
    app = Application.objects.select_for_update(of=("self",)).select_related("product").filter(pk=application_id).first()
    if app is None or app.state != Application.State.REFERRED:
        return False
    _settle_referral(app, outcome == "approve", approved_amount_fen or app.amount_fen, price_tier, "", actor,
                     "risk-review", on or business_date())
    return True


def _settle_referral(app: Application, approve: bool, amount_fen: int, tier: str | None, note: str, actor: str,
                     provider: str, as_of: date) -> None:
    if approve:
        app.approve_manually()
        _make_offer(app, amount_fen, tier, as_of)
    else:
        app.decline_manually()
        app.decline_reasons = [{"code": "manual_review", "zh": note or "人工审核未通过", "en": note or "Declined on manual review"}]
    app.save()
    ApplicationDecision.objects.create(application=app, provider=provider, outcome="approve" if approve else "decline",
                            request={"note": note}, result={"reviewer": actor}, actor=actor)
    audit.record(actor, f"finance.application.reviewed.{app.state}", "finance.application", app.pk, {"note": note})
    _publish_decided(app, actor)


CANCELLABLE = (Application.State.SUBMITTED, Application.State.REFERRED, Application.State.APPROVED)


def _cancel(app: Application, actor: str, reason: str) -> None:
    app.cancel()
    app.save()
    audit.record(actor, "finance.application.cancelled", "finance.application", app.pk, {"reason": reason})
    events.publish("finance.application.cancelled", f"finance:application:{app.pk}", {
        "application_id": str(app.pk), "customer_user_id": str(app.customer_id), "reason": reason}, actor=actor)


@transaction.atomic
def order_refunded(order_ref: str, reason: str, actor: str, *, on: date | None = None) -> tuple[int, int]:
    """A car order was refunded (event ``commerce.order.refunded``, checked with the app that owns the order): its
    open applications are cancelled and the loans that paid its balance are unwound (退车退贷). Returns
    (applications cancelled, loans unwound); a replay finds nothing left to do."""
    terms = orders.terms(order_ref) if order_ref else None
    if terms is None or not terms.refunded:
        return 0, 0
    apps = list(Application.objects.select_for_update().filter(order_ref=order_ref, state__in=CANCELLABLE))
    for app in apps:
        _cancel(app, actor, "order_refunded")
    loans = list(Loan.objects.select_for_update().filter(order_ref=order_ref,
                                                         state__in=(Loan.State.ACTIVE, Loan.State.CLOSED)))
    for loan in loans:
        servicing.unwind(loan, reason=reason, actor=actor, on=on or business_date())
    return len(apps), len(loans)


# ------------------------------------------------------------------------------------------- signing, disbursing


def contract_digest(app: Application) -> str:
    """SHA-256 of the key terms the customer signs (amount, term, rate, APR, product version)."""
    terms = {
        "application": str(app.pk), "product": f"{app.product.code} v{app.product.version}",
        "amount_fen": app.offer_amount_fen, "term": app.offer_term, "rate": str(app.offer_rate),
        "apr": str(app.offer_apr), "apr_effective": str(app.offer_apr_effective), "method": app.product.method,
        "monthly_fee_rate": str(app.product.monthly_fee_rate), "penalty_rate": str(app.product.penalty_rate),
    }
    return hashlib.sha256(json.dumps(terms, sort_keys=True).encode()).hexdigest()


@transaction.atomic
def accept_offer(subject: Subject, application_id: uuid.UUID, *, agree: bool, ip: str = "", user_agent: str = "",
                 on: date | None = None) -> Loan:
    """E-sign the offer: records the signature consent, creates the contract (loan) and disburses it."""
    subject.require_authenticated()
    app = (selectors.applications_readable_by(subject).select_for_update(of=("self",))
           .select_related("product", "product__funding_plan").filter(pk=application_id).first())
    if app is None:
        raise NotFound()
    if subject.kind != "customer" or app.customer_id != subject.user_id:
        raise Forbidden("只有申请人本人可以签约", "Only the applicant can sign")
    if not agree:
        raise _bad("signature-required", "/agree", "须确认同意合同条款方可签约", "You must agree to the contract terms to sign")
    if app.state != Application.State.APPROVED:
        raise Conflict("no-open-offer", "该申请没有可接受的报价", "This application has no offer to accept")
    if orders.known_prefix(app.order_ref):
        terms = orders.terms(app.order_ref)
        if terms is None or not terms.balance_due_fen or (app.offer_amount_fen or 0) > terms.balance_due_fen:
            raise Conflict("order-not-payable", "该订单已取消或尾款已付，无法签约放款",
                           "The order was cancelled or its balance is already paid: the loan cannot be signed")
    today = on or business_date()
    if app.offer_expires_on and today > app.offer_expires_on:
        raise Conflict("offer-expired", "报价已过期，请重新申请", "The offer has expired; please apply again")
    product = app.product
    amount, term, rate = app.offer_amount_fen, app.offer_term, app.offer_rate
    if amount is None or term is None or rate is None or app.offer_apr is None or app.offer_apr_effective is None:
        raise Conflict("no-open-offer", "该申请没有可接受的报价", "This application has no offer to accept")
    app.accept()
    app.save()
    now = timezone.now()
    loan = Loan.objects.create(
        contract_no=f"CL{today:%Y%m%d}{uuid.uuid4().hex[:10].upper()}", application=app, customer_id=app.customer_id,
        product=product, principal_fen=amount, term=term, method=product.method,
        annual_rate=Decimal(0) if product.method == Method.MONTHLY_FEE else rate,
        monthly_fee_rate=product.monthly_fee_rate, upfront_fee_fen=_half_up(product.upfront_fee_rate * amount),
        penalty_rate=min(product.penalty_rate, product.apr_cap), apr=app.offer_apr, apr_effective=app.offer_apr_effective,
        outstanding_principal_fen=amount, vehicle_id=app.vehicle_id, merchant_id=app.merchant_id,
        order_ref=app.order_ref, signed_at=now,
        pledge_status=Loan.Pledge.PENDING if product.kind == ProductKind.CAR_SECURED else Loan.Pledge.NONE,
        signature={"signer": subject.ref, "signed_at": now.isoformat(), "ip": ip, "user_agent": user_agent[:200],
                   "document_sha256": contract_digest(app), "statement": " / ".join(SIGNATURE_STATEMENT)},
    )
    audit.record(subject.ref, "finance.loan.signed", "finance.loan", loan.pk, {"document_sha256": loan.signature["document_sha256"]})
    events.publish("finance.loan.signed", f"finance:loan:{loan.pk}", {"loan_id": str(loan.pk), "application_id": str(app.pk)},
                   actor=subject.ref)
    disburse(loan, actor=subject.ref, on=today)
    return loan


def _funding_parts(loan: Loan) -> list[tuple[uuid.UUID | None, int, Decimal, int]]:
    """(partner id or None for the platform, share bp, rate, principal) with the platform taking the remainder."""
    parts: list[tuple[uuid.UUID | None, int, Decimal, int]] = []
    plan = loan.product.funding_plan
    given = 0
    if plan is not None:
        for share in plan.shares.order_by("partner_id"):
            amount = _half_up(Decimal(loan.principal_fen * share.share_bp) / BP)
            parts.append((share.partner_id, share.share_bp, share.partner_rate, amount))
            given += amount
    rest_bp = BP - sum(p[1] for p in parts)
    if loan.principal_fen - given > 0 or not parts:
        parts.append((None, rest_bp, loan.annual_rate, loan.principal_fen - given))
    return parts


def disburse(loan: Loan, *, actor: str, on: date) -> Loan:
    """Draw each funder's share from its pool to the dealer (purchase) or the customer (car-secured)."""
    if loan.state != Loan.State.SIGNED:
        raise Conflict("not-signed", "合同未处于待放款状态", "The contract is not waiting for disbursement")
    schedule = build_schedule(loan.principal_fen, loan.annual_rate, loan.term, loan.method, on,
                              monthly_fee_rate=loan.monthly_fee_rate, upfront_fee_fen=loan.upfront_fee_fen)
    Installment.objects.bulk_create([
        Installment(loan=loan, period=r.period, due_date=r.due_date, principal_fen=r.principal_fen,
                    interest_fen=r.interest_fen, fee_fen=r.fee_fen)
        for r in schedule.rows()
    ])
    destination = accounts.settlement(loan.merchant_id) if loan.merchant_id else accounts.payout(loan.customer_id)
    fee_left = loan.upfront_fee_fen
    specs: list[TransferSpec] = []
    for partner, bp, rate, amount in _funding_parts(loan):
        LoanFunding.objects.create(loan=loan, partner_id=partner, share_bp=bp, rate=rate, principal_fen=amount,
                                   outstanding_fen=amount)
        key = accounts.funder_key(partner)
        fee_here = min(fee_left, amount)
        fee_left -= fee_here
        base = f"finance:loan:{loan.pk}:disburse:{key}"
        if amount - fee_here:
            specs.append(TransferSpec(id=base, debit=accounts.pool(key).id, credit=destination.id,
                                      amount_fen=amount - fee_here, code=accounts.T_DISBURSE, memo=loan.contract_no, actor=actor))
        if fee_here:
            specs.append(TransferSpec(id=f"{base}:fee", debit=accounts.pool(key).id, credit=accounts.income().id,
                                      amount_fen=fee_here, code=accounts.T_UPFRONT_FEE, memo=loan.contract_no, actor=actor))
        specs.append(TransferSpec(id=f"{base}:book", debit=accounts.receivable(key).id, credit=accounts.lent(key).id,
                                  amount_fen=amount, code=accounts.T_BOOK, memo=loan.contract_no, actor=actor))
    ledger.transfer_batch(specs)
    loan.start_date = on
    loan.oldest_unpaid_due = schedule.due_dates[0]
    loan.disburse()
    loan.save()
    app = loan.application
    app.mark_disbursed()
    app.save()
    audit.record(actor, "finance.loan.disbursed", "finance.loan", loan.pk, {"amount_fen": loan.principal_fen})
    events.publish("finance.loan.disbursed", f"finance:loan:{loan.pk}", {
        "loan_id": str(loan.pk), "order_ref": loan.order_ref, "amount_fen": loan.principal_fen,
        "merchant_org_id": str(loan.merchant_id) if loan.merchant_id else None,
        "customer_user_id": str(loan.customer_id), "product_kind": loan.product.kind, "term": loan.term,
        "apr": str(loan.apr),
    }, actor=actor)
    return loan


@transaction.atomic
def set_pledge_status(subject: Subject, loan_id: uuid.UUID, status: str) -> Loan:
    """Operations track the registration and release of a car pledge."""
    loan = servicing.loan_acted_on(subject, loan_id, selectors.tracks_pledges)
    if loan.pledge_status == Loan.Pledge.NONE or status not in (Loan.Pledge.REGISTERED, Loan.Pledge.RELEASED):
        raise _bad("invalid-pledge-status", "/status", "抵押状态无效", "Invalid pledge status")
    loan.pledge_status = status
    loan.save(update_fields=["pledge_status", "updated_at"])
    audit.record(subject.ref, f"finance.pledge.{status}", "finance.loan", loan.pk)
    return loan
