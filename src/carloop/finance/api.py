"""Finance JSON API, mounted at /api/v1/finance/."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from carloop.core.http import PUBLIC, PUBLIC_DOC
from carloop.core.i18n import t
from carloop.core.idempotency import idempotent
from carloop.core.money import Yuan, parse_yuan, yuan_str
from carloop.core.timeutil import BusinessDate, business_date
from carloop.finance import selectors, services
from carloop.finance.models import Application, Installment, Loan, LoanProduct
from carloop.finance.quotes import build_quote, parse_quote_request, schedule_json
from carloop.identity.selectors import subject_of

router = Router(tags=["finance"])
APR_LABEL = ("年化利率（IRR×12，单利口径）", "APR (periodic IRR × 12, as disclosed in China)")
class LoanQuoteIn(Schema):
    principal: Yuan
    annual_rate: str | int | float | None = None  # float-ok: JSON numbers are re-read exactly from the body
    term: int | str
    method: str
    monthly_fee_rate: str | int | float | None = None  # float-ok: as above
    start: BusinessDate | None = None
    product: str | None = Field(None, description="a current product's code: its APR cap applies, else the platform's")


class LoanQuoteRowOut(Schema):
    period: int
    due_date: date
    principal: str
    interest: str
    fee: str
    payment: str
    balance: str


class LoanQuoteOut(Schema):
    principal: str
    term: int
    method: str
    schedule: list[LoanQuoteRowOut]
    total_interest: str
    total_fees: str
    total_payment: str
    apr: str
    apr_effective: str


@router.post("/quotes", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=LoanQuoteOut, summary="Quote a schedule with its APR (calculator)")
def create_quote(request: HttpRequest, body: LoanQuoteIn) -> dict[str, Any]:
    # Rates may come as JSON numbers: read them exactly as written ("0.06"), never as binary floats.  # float-ok
    exact = json.loads(request.body, parse_float=Decimal)  # float-ok: JSON numbers become Decimals
    quote = parse_quote_request(
        principal=body.principal,
        annual_rate=exact.get("annual_rate"),
        term=body.term,
        method=body.method,
        monthly_fee_rate=exact.get("monthly_fee_rate"),
        start=body.start,
        product=body.product,
        today=business_date(),
    )
    return schedule_json(build_quote(quote))


# --------------------------------------------------------------------------------------------------- products


class ProductOut(Schema):
    code: str
    version: int
    kind: str
    name: str
    method: str
    min_amount: str
    max_amount: str
    terms: list[int]
    rate_table: dict[str, str]
    monthly_fee_rate: str
    upfront_fee_rate: str
    min_down_payment: str
    max_ltv: str
    penalty_rate: str
    apr_cap: str


def product_out(p: LoanProduct) -> dict[str, Any]:
    return {"code": p.code, "version": p.version, "kind": p.kind, "name": t(p.name_zh, p.name_en), "method": p.method,
            "min_amount": yuan_str(p.min_amount_fen), "max_amount": yuan_str(p.max_amount_fen), "terms": p.terms,
            "rate_table": {k: str(v) for k, v in p.rate_table.items()}, "monthly_fee_rate": str(p.monthly_fee_rate),
            "upfront_fee_rate": str(p.upfront_fee_rate), "min_down_payment": str(p.min_down_payment),
            "max_ltv": str(p.max_ltv), "penalty_rate": str(p.penalty_rate), "apr_cap": str(p.apr_cap)}


@router.get("/products", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=list[ProductOut], summary="Loan products on offer (current versions)")
def list_products(request: HttpRequest) -> list[dict[str, Any]]:
    return [product_out(p) for p in selectors.current_products()]


# ----------------------------------------------------------------------------------------------- applications


class ApplicationIn(Schema):
    product: str
    amount: Yuan
    term: int
    consent: bool
    order_ref: str = ""
    merchant_org_id: uuid.UUID | None = None
    car_price: Yuan | None = None
    vehicle_id: uuid.UUID | None = None
    monthly_income: Yuan | None = None
    device_id: str | None = None


class OfferOut(Schema):
    amount: str
    term: int
    annual_rate: str
    apr: str
    apr_effective: str
    apr_label: str
    expires_on: date | None
    first_payment: str


class DeclineReasonOut(Schema):
    code: str
    text: str


class ApplicationOut(Schema):
    id: uuid.UUID
    state: str
    product: str
    product_version: int
    amount: str
    term: int
    order_ref: str
    offer: OfferOut | None
    decline_reasons: list[DeclineReasonOut]
    loan_id: uuid.UUID | None
    created_at: Any


def application_out(app: Application) -> dict[str, Any]:
    offer = None
    if app.offer_apr is not None and app.offer_amount_fen and app.offer_term and app.offer_rate is not None:
        schedule = services.offer_schedule(app.product, app.offer_amount_fen, app.offer_term, app.offer_rate,
                                           business_date())
        offer = {"amount": yuan_str(app.offer_amount_fen), "term": app.offer_term, "annual_rate": str(app.offer_rate),
                 "apr": str(app.offer_apr), "apr_effective": str(app.offer_apr_effective), "apr_label": t(*APR_LABEL),
                 "expires_on": app.offer_expires_on, "first_payment": yuan_str(schedule.payments[0])}
    loan = selectors.loan_id_of(app)
    return {"id": app.pk, "state": app.state, "product": app.product.code, "product_version": app.product.version,
            "amount": yuan_str(app.amount_fen), "term": app.term, "order_ref": app.order_ref, "offer": offer,
            "decline_reasons": [{"code": r["code"], "text": t(r["zh"], r["en"])} for r in app.decline_reasons],
            "loan_id": loan, "created_at": app.created_at}


def _optional_yuan(value: str | None, field: str) -> int | None:
    return None if value is None else parse_yuan(value, field=field)


@router.post("/applications", response={201: ApplicationOut}, summary="Apply (with consent); decided at once")
def create_application(request: HttpRequest, body: ApplicationIn) -> Any:
    subject = subject_of(request)
    subject.require_authenticated()
    data = services.ApplicationInput(
        product=body.product, amount_fen=parse_yuan(body.amount, field="amount"), term=body.term, consent=body.consent,
        order_ref=body.order_ref, merchant_org_id=body.merchant_org_id,
        car_price_fen=_optional_yuan(body.car_price, "car_price"), vehicle_id=body.vehicle_id,
        monthly_income_fen=_optional_yuan(body.monthly_income, "monthly_income"), device_id=body.device_id,
        ip=request.META.get("REMOTE_ADDR", ""),
    )
    return Status(201, application_out(services.apply(subject, data)))


@router.get("/applications", response=list[ApplicationOut], summary="My applications (operators: the queue)")
def list_applications(request: HttpRequest, state: str = "") -> list[dict[str, Any]]:
    subject = subject_of(request)
    subject.require_authenticated()
    qs = selectors.applications_readable_by(subject)
    if state:
        qs = qs.filter(state=state)
    return [application_out(a) for a in qs[:200]]


@router.get("/applications/{application_id}", response=ApplicationOut)
def get_application(request: HttpRequest, application_id: uuid.UUID) -> dict[str, Any]:
    subject = subject_of(request)
    subject.require_authenticated()
    return application_out(selectors.get_application(subject, application_id))


class ReviewIn(Schema):
    approve: bool
    note: str = ""


@router.post("/applications/{application_id}/review", response=ApplicationOut, summary="Manual review of a referral")
def review_application(request: HttpRequest, application_id: uuid.UUID, body: ReviewIn) -> dict[str, Any]:
    return application_out(services.review(subject_of(request), application_id, body.approve, body.note))


# ------------------------------------------------------------------------------------------------------ loans


class InstallmentOut(Schema):
    period: int
    due_date: date
    principal: str
    interest: str
    fee: str
    penalty: str
    payment: str
    paid: str
    owed: str
    status: str


class LoanOut(Schema):
    id: uuid.UUID
    contract_no: str
    state: str
    product: str
    product_version: int
    principal: str
    outstanding_principal: str
    term: int
    method: str
    annual_rate: str
    apr: str
    apr_effective: str
    apr_label: str
    start_date: date | None
    bucket: str
    days_past_due: int
    pledge_status: str
    order_ref: str
    schedule: list[InstallmentOut]


def installment_out(i: Installment) -> dict[str, Any]:
    paid = i.paid_principal_fen + i.paid_interest_fen + i.paid_fee_fen + i.paid_penalty_fen
    return {"period": i.period, "due_date": i.due_date, "principal": yuan_str(i.principal_fen),
            "interest": yuan_str(i.interest_fen), "fee": yuan_str(i.fee_fen), "penalty": yuan_str(i.penalty_fen),
            "payment": yuan_str(i.principal_fen + i.interest_fen + i.fee_fen + i.penalty_fen), "paid": yuan_str(paid),
            "owed": yuan_str(i.owed_fen), "status": i.status}


def loan_out(loan: Loan, with_schedule: bool = True) -> dict[str, Any]:
    today = business_date()
    dpd = (today - loan.oldest_unpaid_due).days if loan.oldest_unpaid_due and loan.oldest_unpaid_due < today else 0
    return {"id": loan.pk, "contract_no": loan.contract_no, "state": loan.state, "product": loan.product.code,
            "product_version": loan.product.version, "principal": yuan_str(loan.principal_fen),
            "outstanding_principal": yuan_str(loan.outstanding_principal_fen), "term": loan.term, "method": loan.method,
            "annual_rate": str(loan.annual_rate), "apr": str(loan.apr), "apr_effective": str(loan.apr_effective),
            "apr_label": t(*APR_LABEL), "start_date": loan.start_date, "bucket": loan.bucket,
            "days_past_due": dpd if loan.state == Loan.State.ACTIVE else 0, "pledge_status": loan.pledge_status,
            "order_ref": loan.order_ref,
            "schedule": [installment_out(i) for i in selectors.installments(loan)] if with_schedule else []}


class AcceptIn(Schema):
    agree: bool


@router.post("/applications/{application_id}/accept", response={201: LoanOut},
             summary="E-sign the offer: creates the contract and disburses (Idempotency-Key)")
@idempotent
def accept_offer(request: HttpRequest, application_id: uuid.UUID, body: AcceptIn) -> Any:
    loan = services.accept_offer(subject_of(request), application_id, agree=body.agree, ip=request.META.get("REMOTE_ADDR", ""),
                                 user_agent=request.headers.get("User-Agent", ""))
    return Status(201, loan_out(loan))



@router.get("/loans", response=list[LoanOut], summary="Loans I may see (customers: mine; partners: funded by us)")
def list_loans(request: HttpRequest, state: str = "", bucket: str = "") -> list[dict[str, Any]]:
    subject = subject_of(request)
    subject.require_authenticated()
    qs = selectors.loans_readable_by(subject)
    if state:
        qs = qs.filter(state=state)
    if bucket:
        qs = qs.filter(bucket=bucket)
    return [loan_out(loan, with_schedule=False) for loan in qs[:200]]


@router.get("/loans/{loan_id}", response=LoanOut)
def get_loan(request: HttpRequest, loan_id: uuid.UUID) -> dict[str, Any]:
    subject = subject_of(request)
    subject.require_authenticated()
    return loan_out(selectors.get_loan(subject, loan_id))


class RepaymentIn(Schema):
    amount: Yuan
    prepayment_option: Literal["", "shorter_term", "lower_installment"] = ""


@router.post("/loans/{loan_id}/repayments",
             summary="Repayments are paid at the cashier: answers 409 pay-at-cashier with the cashier's kind and ref")
def create_repayment(request: HttpRequest, loan_id: uuid.UUID, body: RepaymentIn) -> None:
    raise services.pay_at_cashier(subject_of(request), loan_id, amount_fen=parse_yuan(body.amount, field="amount"),
                                  option=body.prepayment_option)


class DebitCardIn(Schema):
    card_no: str = Field(..., max_length=40, description="the borrower's bank card number (16–19 digits)")


class DebitCardOut(Schema):
    loan_id: uuid.UUID
    agreement_no: str
    card: str = Field(..., description="the bound card, masked")


@router.post("/loans/{loan_id}/debit-card", response=DebitCardOut,
             summary="Bind a bank card for withholding (代扣): the COB debits what falls due (borrower, Idempotency-Key)")
@idempotent
def bind_debit_card(request: HttpRequest, loan_id: uuid.UUID, body: DebitCardIn) -> DebitCardOut:
    loan = services.bind_debit_card(subject_of(request), loan_id, card_no=body.card_no)
    return DebitCardOut(loan_id=loan.pk, agreement_no=loan.debit_agreement_no, card=loan.debit_card_masked)


class PayoffOut(Schema):
    valid_on: date
    overdue: str
    principal: str
    accrued_interest: str
    prepayment_fee: str
    total: str


@router.get("/loans/{loan_id}/payoff", response=PayoffOut, summary="Payoff quote, valid for one business date")
def get_payoff(request: HttpRequest, loan_id: uuid.UUID) -> dict[str, Any]:
    q = services.payoff_quote(subject_of(request), loan_id, business_date())
    return {"valid_on": q.valid_on, "overdue": yuan_str(q.overdue_fen), "principal": yuan_str(q.principal_fen),
            "accrued_interest": yuan_str(q.accrued_interest_fen), "prepayment_fee": yuan_str(q.prepayment_fee_fen),
            "total": yuan_str(q.total_fen)}


class PayoffIn(Schema):
    amount: Yuan


@router.post("/loans/{loan_id}/payoff",
             summary="A payoff is paid at the cashier: answers 409 pay-at-cashier with the cashier's kind and ref")
def pay_off(request: HttpRequest, loan_id: uuid.UUID, body: PayoffIn) -> None:
    parse_yuan(body.amount, field="amount")
    raise services.pay_at_cashier(subject_of(request), loan_id, payoff=True)


class WriteOffIn(Schema):
    reason: str


@router.post("/loans/{loan_id}/write-off", response=LoanOut, summary="Write a loan off (finance ops, with reason)")
def write_off(request: HttpRequest, loan_id: uuid.UUID, body: WriteOffIn) -> dict[str, Any]:
    return loan_out(services.write_off(subject_of(request), loan_id, body.reason, business_date()))


class PledgeIn(Schema):
    status: Literal["registered", "released"]


@router.post("/loans/{loan_id}/pledge", response=LoanOut, summary="Track the car pledge registration (ops)")
def set_pledge(request: HttpRequest, loan_id: uuid.UUID, body: PledgeIn) -> dict[str, Any]:
    return loan_out(services.set_pledge_status(subject_of(request), loan_id, body.status))


# --------------------------------------------------------------------------------------------------- partners


class PortfolioOut(Schema):
    partner_id: uuid.UUID
    loans: int
    principal: str
    outstanding: str
    buckets: dict[str, str]
    vintages: list[dict[str, Any]]


@router.get("/partners/{org_id}/portfolio", response=PortfolioOut, summary="A funding partner's portfolio")
def partner_portfolio(request: HttpRequest, org_id: uuid.UUID) -> dict[str, Any]:
    p = selectors.portfolio(selectors.readable_partner(subject_of(request), org_id))
    return {"partner_id": p.partner_id, "loans": p.loans, "principal": yuan_str(p.principal_fen),
            "outstanding": yuan_str(p.outstanding_fen), "buckets": {k: yuan_str(v) for k, v in p.buckets.items()},
            "vintages": [{**{k: v for k, v in row.items() if not k.endswith("_fen")},
                          **{k[:-4]: yuan_str(v) for k, v in row.items() if k.endswith("_fen")}} for row in p.vintages]}


class PartnerStatementOut(Schema):
    partner_id: uuid.UUID
    day: date
    opening: str
    closing: str
    ledger: dict[str, str]
    loans: dict[str, str]
    reconciled: bool
    lines: list[dict[str, Any]]
    receivable_opening: str  # outstanding principal owed to the partner at the start of the day
    receivable_closing: str
    receivable_moves: dict[str, str]  # lent, repaid (principal repaid or unwound), written_off


@router.get("/partners/{org_id}/statements/{day}", response=PartnerStatementOut,
            summary="A partner's daily statement, reconciled to the ledger")
def partner_statement(request: HttpRequest, org_id: uuid.UUID, day: BusinessDate) -> dict[str, Any]:
    s = selectors.daily_statement(selectors.readable_partner(subject_of(request), org_id), day)
    return {"partner_id": s.partner_id, "day": s.day, "opening": yuan_str(s.opening_fen), "closing": yuan_str(s.closing_fen),
            "ledger": {k: yuan_str(v) for k, v in s.ledger.items()}, "loans": {k: yuan_str(v) for k, v in s.loans.items()},
            "reconciled": s.reconciled, "receivable_opening": yuan_str(s.receivable_opening_fen),
            "receivable_closing": yuan_str(s.receivable_closing_fen),
            "receivable_moves": {k: yuan_str(v) for k, v in s.receivable_moves.items()},
            "lines": [{**line, "amount": yuan_str(line.pop("amount_fen")), "balance_after": yuan_str(line.pop("balance_after_fen"))}
                      for line in s.lines]}
