"""The cashier's JSON API, mounted at /api/v1/payments/: intents (create, read, confirm with tenders, cancel),
refunds, provider notifications, and for finance operations bank-statement import and matching and confirmed
deposits; merchant settlement and payouts."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Query, Router, Schema, Status

from carloop.core.errors import Problem
from carloop.core.http import PUBLIC, PUBLIC_DOC
from carloop.core.i18n import t
from carloop.core.idempotency import idempotent, service_key
from carloop.core.money import Yuan, parse_yuan, yuan_str
from carloop.core.pagination import Page
from carloop.core.timeutil import BusinessDate
from carloop.identity.selectors import staff_names, subject_of
from carloop.payments import payouts, selectors, services, settlement
from carloop.payments.bank_transfer import receiving_account
from carloop.payments.models import (
    BankStatementLine,
    PaymentIntent,
    Payout,
    PayoutBatch,
    Refund,
    SettlementContract,
    SettlementStatement,
)

router = Router(tags=["payments"])


class IntentIn(Schema):
    kind: str
    ref: str


class TenderIn(Schema):
    kind: str
    amount: Yuan
    instrument: str = ""


class ConfirmIn(Schema):
    tenders: list[TenderIn] = []
    method: str = ""


class TenderOut(Schema):
    position: int
    kind: str
    amount: str
    refunded: str
    state: str
    provider: str
    pay_url: str


class RefundPartOut(Schema):
    tender_position: int
    tender_kind: str
    amount: str
    state: str


class RefundOut(Schema):
    id: uuid.UUID
    amount: str
    reason: str
    state: str
    late: bool
    parts: list[RefundPartOut]


class IntentOut(Schema):
    id: uuid.UUID
    kind: str
    ref: str
    title: str
    amount: str
    refunded: str
    state: str
    method: str
    expires_at: datetime
    succeeded_at: datetime | None
    tenders: list[TenderOut]
    refunds: list[RefundOut]
    bank_transfer: dict[str, str] | None


def refund_out(refund: Refund) -> dict[str, Any]:
    return {"id": refund.pk, "amount": yuan_str(refund.amount_fen), "reason": refund.reason, "state": refund.state,
            "late": refund.late,
            "parts": [{"tender_position": p.tender.position, "tender_kind": p.tender.kind, "amount": yuan_str(p.amount_fen),
                       "state": p.state} for p in refund.parts.select_related("tender").order_by("created_at")]}


def intent_out(intent: PaymentIntent) -> dict[str, Any]:
    bank = None
    if intent.method == "bank_transfer" and intent.reference:
        bank = {"receiving_account": receiving_account(), "reference": intent.reference}
    return {
        "id": intent.pk, "kind": intent.kind, "ref": intent.ref, "title": t(intent.title_zh, intent.title_en),
        "amount": yuan_str(intent.amount_fen), "refunded": yuan_str(intent.refunded_fen), "state": intent.state,
        "method": intent.method, "expires_at": intent.expires_at, "succeeded_at": intent.succeeded_at,
        "tenders": [{"position": tr.position, "kind": tr.kind, "amount": yuan_str(tr.amount_fen),
                     "refunded": yuan_str(tr.refunded_fen), "state": tr.state, "provider": tr.provider,
                     "pay_url": tr.pay_url} for tr in intent.tenders.order_by("position")],
        "refunds": [refund_out(r) for r in intent.refunds.order_by("created_at")],
        "bank_transfer": bank,
    }


@router.post("/intents", response={201: IntentOut}, summary="Start paying a payable (returns the open intent if any)")
@idempotent
def create_intent(request: HttpRequest, body: IntentIn) -> Any:
    subject = subject_of(request)
    subject.require_authenticated()
    intent = services.create_intent(kind=body.kind, ref=body.ref, subject=subject, actor=subject.ref)
    return Status(201, IntentOut(**intent_out(intent)))


@router.get("/intents", response=list[IntentOut], summary="My payment intents (finance operations: all)")
def list_intents(request: HttpRequest, state: str = "") -> list[dict[str, Any]]:
    subject = subject_of(request)
    subject.require_authenticated()
    qs = selectors.readable_by(subject).order_by("-created_at")
    if state:
        qs = qs.filter(state=state)
    return [intent_out(i) for i in qs[:100]]


@router.get("/intents/{intent_id}", response=IntentOut)
def get_intent(request: HttpRequest, intent_id: uuid.UUID) -> dict[str, Any]:
    subject = subject_of(request)
    subject.require_authenticated()
    return intent_out(selectors.get_intent(subject, intent_id))


@router.post("/intents/{intent_id}/confirm", response=IntentOut,
             summary="Pay: internal tenders (coupons → points → e-cards → credit line) and one external method")
@idempotent
def confirm_intent(request: HttpRequest, intent_id: uuid.UUID, body: ConfirmIn) -> Any:
    subject = subject_of(request)
    subject.require_authenticated()
    tenders = services.parse_tenders([tr.dict() for tr in body.tenders])
    intent = services.confirm(intent_id=intent_id, subject=subject, tenders=tenders, method=body.method, actor=subject.ref)
    return IntentOut(**intent_out(intent))


@router.post("/intents/{intent_id}/cancel", response=IntentOut,
             summary="Cancel an open intent (a payment the provider already took wins)")
@idempotent
def cancel_intent(request: HttpRequest, intent_id: uuid.UUID) -> Any:
    subject = subject_of(request)
    subject.require_authenticated()
    return IntentOut(**intent_out(services.cancel(intent_id=intent_id, subject=subject, actor=subject.ref)))


class RefundIn(Schema):
    amount: Yuan
    reason: str


@router.post("/intents/{intent_id}/refunds", response={201: RefundOut},
             summary="Refund part or all of a paid intent (finance operations)")
@idempotent
def create_refund(request: HttpRequest, intent_id: uuid.UUID, body: RefundIn) -> Any:
    subject = subject_of(request)
    subject.require_authenticated()
    refund = services.refund_for(subject, intent_id=intent_id, amount_fen=parse_yuan(body.amount, field="amount"),
                                 reason=body.reason)
    return Status(201, RefundOut(**refund_out(refund)))


@router.post("/notify/{provider}", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response={200: dict[str, str], 400: dict[str, str]},
             summary="Asynchronous notification from a payment provider (signed)")
def notify(request: HttpRequest, provider: str) -> HttpResponse:
    return _provider_answer(services.handle_notification(provider, request.body, request.headers))


def _provider_answer(result: tuple[int, dict[str, str]]) -> HttpResponse:
    status, answer = result
    if status >= 400:  # providers read only the status; the answer body rides along in the problem
        raise Problem(status, "notification-rejected", "通知未通过校验或无法处理，已记录",
                      "The notification did not verify or could not be processed; it was logged", extra=answer)
    return HttpResponse(json.dumps(answer, ensure_ascii=False), status=status, content_type="application/json")


class ImportIn(Schema):
    csv: str


class ImportOut(Schema):
    imported: int
    matched: int
    unmatched: int
    duplicates: int


@router.post("/bank-statements", response={201: ImportOut},
             summary="Import a bank statement (CSV) and match incoming transfers (finance operations)")
@idempotent
def import_statement(request: HttpRequest, body: ImportIn) -> Any:
    result = services.import_bank_statement_for(subject_of(request), csv_text=body.csv)
    return Status(201, ImportOut(imported=result.imported, matched=result.matched, unmatched=result.unmatched,
                                 duplicates=result.duplicates))


class BankLineOut(Schema):
    id: uuid.UUID
    bank_txn_id: str
    value_date: Any
    amount: str
    reference: str
    payer_name: str
    state: str
    intent_id: uuid.UUID | None


def bank_line_out(line: BankStatementLine) -> dict[str, Any]:
    return {"id": line.pk, "bank_txn_id": line.bank_txn_id, "value_date": line.value_date,
            "amount": yuan_str(line.amount_fen), "reference": line.reference, "payer_name": line.payer_name,
            "state": line.state, "intent_id": line.intent_id}


@router.get("/bank-lines", response=list[BankLineOut], summary="Imported bank statement lines (finance operations)")
def list_bank_lines(request: HttpRequest, state: str = "") -> list[dict[str, Any]]:
    qs = selectors.bank_lines(subject_of(request)).order_by("-value_date", "bank_txn_id")
    if state:
        qs = qs.filter(state=state)
    return [bank_line_out(line) for line in qs[:200]]


class MatchIn(Schema):
    intent_id: uuid.UUID


@router.post("/bank-lines/{line_id}/match", response=BankLineOut,
             summary="Match a statement line to a bank-transfer intent by hand (finance operations)")
@idempotent
def match_line(request: HttpRequest, line_id: uuid.UUID, body: MatchIn) -> Any:
    line = services.match_bank_line_for(subject_of(request), line_id=line_id, intent_id=body.intent_id)
    return BankLineOut(**bank_line_out(line))


class DepositIn(Schema):
    kind: str
    ref: str
    bank_txn_id: str = Field(min_length=1, max_length=64)
    value_date: BusinessDate


@router.post("/deposits", response={201: IntentOut},
             summary="Confirm money that reached our bank account for a payable, e.g. a funder's capital (finance operations)")
@idempotent
def confirm_deposit(request: HttpRequest, body: DepositIn) -> Any:
    intent = services.confirm_deposit_for(subject_of(request), kind=body.kind, ref=body.ref, bank_txn_id=body.bank_txn_id,
                                          value_date=body.value_date)
    return Status(201, intent_out(intent))


# ------------------------------------------------------------------------------------------ settlement


class SettlementContractIn(Schema):
    merchant_id: uuid.UUID
    commission_bps: int = Field(ge=0, le=10_000, description="Commission in basis points of each line (100 = 1 %)")
    cycle_days: int = Field(description="Settlement cycle: 1 (T+1) or 7 (T+7)")
    minimum_payout: Yuan = "0"


class SettlementContractOut(Schema):
    merchant_id: uuid.UUID
    merchant: str
    commission_bps: int
    cycle_days: int
    minimum_payout: str


def contract_out(contract: SettlementContract, names: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {"merchant_id": contract.merchant_id, "merchant": names.get(contract.merchant_id, ""),
            "commission_bps": contract.commission_bps, "cycle_days": contract.cycle_days,
            "minimum_payout": yuan_str(contract.minimum_payout_fen)}


@router.put("/settlement/contracts", response=SettlementContractOut,
            summary="Set a merchant's settlement contract: commission, cycle, minimum payout (finance operations)")
def put_contract(request: HttpRequest, body: SettlementContractIn) -> Any:
    contract = settlement.set_contract(
        subject_of(request), merchant_id=body.merchant_id, commission_bps=body.commission_bps,
        cycle_days=body.cycle_days, minimum_payout_fen=parse_yuan(body.minimum_payout, field="minimum_payout",
                                                                  allow_zero=True))
    return contract_out(contract, selectors.merchant_names({contract.merchant_id}))


@router.get("/settlement/contracts", response=list[SettlementContractOut],
            summary="Settlement contracts (a merchant's staff: their own)")
def list_contracts(request: HttpRequest, page: Query[Page]) -> list[dict[str, Any]]:
    subject = subject_of(request)
    rows = list(page.slice(selectors.contracts_readable_by(subject).order_by("created_at")))
    names = selectors.merchant_names({c.merchant_id for c in rows})
    return [contract_out(c, names) for c in rows]


class SettlementLineOut(Schema):
    occurred_at: datetime
    kind: str
    kind_label: str
    code: int
    memo: str
    amount: str
    commission: str


class SettlementStatementOut(Schema):
    id: uuid.UUID
    merchant_id: uuid.UUID
    merchant: str
    period_start: date
    period_end: date
    commission_bps: int
    cycle_days: int
    gross: str
    refunds: str
    commission: str
    net: str
    state: str
    state_label: str
    lines: list[SettlementLineOut] | None = None


def statement_out(statement: SettlementStatement, names: dict[uuid.UUID, str], lines: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": statement.pk, "merchant_id": statement.merchant_id, "merchant": names.get(statement.merchant_id, ""),
        "period_start": statement.period_start, "period_end": statement.period_end,
        "commission_bps": statement.commission_bps, "cycle_days": statement.cycle_days,
        "gross": yuan_str(statement.gross_fen), "refunds": yuan_str(statement.refunds_fen),
        "commission": yuan_str(statement.fees_fen), "net": yuan_str(statement.net_fen), "state": statement.state,
        "state_label": str(statement.get_state_display()), "lines": None}
    if lines:
        out["lines"] = [{"occurred_at": line.occurred_at, "kind": line.kind, "kind_label": str(line.get_kind_display()),
                         "code": line.code, "memo": line.memo, "amount": yuan_str(line.amount_fen),
                         "commission": yuan_str(line.fee_fen)} for line in statement.lines.order_by("occurred_at", "pk")]
    return out


class SettlementRunIn(Schema):
    run_date: BusinessDate
    merchant_id: uuid.UUID | None = None


@router.post("/settlement/runs", response={201: list[SettlementStatementOut]},
             summary="Run settlement for a day: one merchant, or every merchant with a contract (finance operations)")
@idempotent
def run_settlement(request: HttpRequest, body: SettlementRunIn) -> Any:
    made = settlement.run_settlement(subject_of(request), run_date=body.run_date, merchant_id=body.merchant_id)
    names = selectors.merchant_names({s.merchant_id for s in made})
    return Status(201, [statement_out(s, names) for s in made])


@router.get("/settlement/statements", response=list[SettlementStatementOut],
            summary="Settlement statements, newest first (a merchant's staff: their own)")
def list_statements(request: HttpRequest, page: Query[Page], state: str = "") -> list[dict[str, Any]]:
    qs = selectors.statements_readable_by(subject_of(request)).order_by("-period_end", "pk")
    return _merchant_rows(qs, page, state, statement_out)


def _merchant_rows(qs: Any, page: Page, state: str, out: Any) -> list[dict[str, Any]]:
    """A page of a merchant-owned list (statements, payouts), filtered by state, each with its merchant's name."""
    if state:
        qs = qs.filter(state=state)
    rows = list(page.slice(qs))
    names = selectors.merchant_names({row.merchant_id for row in rows})
    return [out(row, names) for row in rows]


@router.get("/settlement/statements/{statement_id}", response=SettlementStatementOut)
def get_statement(request: HttpRequest, statement_id: uuid.UUID) -> Any:
    subject = subject_of(request)
    statement = selectors.get_statement(subject, statement_id)
    return statement_out(statement, selectors.merchant_names({statement.merchant_id}), lines=True)


@router.get("/settlement/statements/{statement_id}/csv", summary="A settlement statement as CSV")
def statement_csv(request: HttpRequest, statement_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    return settlement.statement_csv(selectors.get_statement(subject, statement_id))


# --------------------------------------------------------------------------------------------- payouts


class PayoutOut(Schema):
    id: uuid.UUID
    batch_id: uuid.UUID
    merchant_id: uuid.UUID
    merchant: str
    amount: str
    state: str
    state_label: str
    payout_no: str
    failure: str
    statement_ids: list[uuid.UUID]
    completed_at: datetime | None


class PayoutBatchOut(Schema):
    id: uuid.UUID
    state: str
    state_label: str
    prepared_by: str
    approved_by: str
    rejection: str
    created_at: datetime
    approved_at: datetime | None
    completed_at: datetime | None
    total: str
    payouts: list[PayoutOut] | None = None


class PayoutBatchIn(Schema):
    merchant_ids: list[uuid.UUID] | None = Field(None, description="Only these merchants (default: every merchant owed)")


def payout_out(payout: Payout, names: dict[uuid.UUID, str]) -> dict[str, Any]:
    return {"id": payout.pk, "batch_id": payout.batch_id, "merchant_id": payout.merchant_id,
            "merchant": names.get(payout.merchant_id, ""), "amount": yuan_str(payout.amount_fen), "state": payout.state,
            "state_label": str(payout.get_state_display()), "payout_no": payout.payout_no, "failure": payout.failure,
            "statement_ids": [s.pk for s in payout.statements.order_by("period_end")],
            "completed_at": payout.completed_at}


def batch_out(batch: PayoutBatch, with_payouts: bool = False) -> dict[str, Any]:
    people = staff_names([u for u in (batch.prepared_by_id, batch.approved_by_id) if u])
    out: dict[str, Any] = {
        "id": batch.pk, "state": batch.state, "state_label": str(batch.get_state_display()),
        "prepared_by": people.get(batch.prepared_by_id, ""),
        "approved_by": people.get(batch.approved_by_id, "") if batch.approved_by_id else "",
        "rejection": batch.rejection, "created_at": batch.created_at, "approved_at": batch.approved_at, "completed_at": batch.completed_at,
        "total": yuan_str(batch.total_fen), "payouts": None}
    if with_payouts:
        rows = list(batch.payouts.order_by("merchant_id"))
        names = selectors.merchant_names({p.merchant_id for p in rows})
        out["payouts"] = [payout_out(p, names) for p in rows]
    return out


@router.get("/payouts/batches", response=list[PayoutBatchOut], summary="Payout batches, newest first (operations)")
def list_batches(request: HttpRequest, page: Query[Page], state: str = "") -> list[dict[str, Any]]:
    qs = selectors.batches_readable_by(subject_of(request)).order_by("-created_at")
    if state:
        qs = qs.filter(state=state)
    return [batch_out(b) for b in page.slice(qs)]


@router.post("/payouts/batches", response={201: PayoutBatchOut},
             summary="Prepare a payout batch of unpaid settlement statements (finance operations)")
@idempotent
def prepare_batch(request: HttpRequest, body: PayoutBatchIn) -> Any:
    batch = payouts.prepare(subject_of(request), merchant_ids=body.merchant_ids, key=service_key(request))
    return Status(201, batch_out(batch, with_payouts=True))


@router.get("/payouts/batches/{batch_id}", response=PayoutBatchOut)
def get_batch(request: HttpRequest, batch_id: uuid.UUID) -> Any:
    return batch_out(selectors.get_batch(subject_of(request), batch_id), with_payouts=True)


@router.post("/payouts/batches/{batch_id}/approve", response=PayoutBatchOut,
             summary="Approve a prepared batch and pay out (finance operations; not whoever prepared it)")
@idempotent
def approve_batch(request: HttpRequest, batch_id: uuid.UUID) -> Any:
    return batch_out(payouts.approve(subject_of(request), batch_id=batch_id), with_payouts=True)


class PayoutBatchRejectIn(Schema):
    reason: str = Field(max_length=200)


@router.post("/payouts/batches/{batch_id}/reject", response=PayoutBatchOut,
             summary="Send a prepared batch back unpaid; its statements are unpaid again (finance operations)")
@idempotent
def reject_batch(request: HttpRequest, batch_id: uuid.UUID, body: PayoutBatchRejectIn) -> Any:
    return batch_out(payouts.reject(subject_of(request), batch_id=batch_id, reason=body.reason), with_payouts=True)


@router.get("/payouts", response=list[PayoutOut], summary="Payouts, newest first (a merchant's staff: their own)")
def list_payouts(request: HttpRequest, page: Query[Page], state: str = "") -> list[dict[str, Any]]:
    qs = selectors.payouts_readable_by(subject_of(request)).order_by("-created_at")
    return _merchant_rows(qs, page, state, payout_out)


@router.get("/payouts/{payout_id}", response=PayoutOut)
def get_payout(request: HttpRequest, payout_id: uuid.UUID) -> Any:
    payout = selectors.get_payout(subject_of(request), payout_id)
    return payout_out(payout, selectors.merchant_names({payout.merchant_id}))


@router.post("/payouts/notify/{provider}", auth=PUBLIC, openapi_extra=PUBLIC_DOC,
             response={200: dict[str, str], 400: dict[str, str]},
             summary="Asynchronous result of a payout from the payout provider (signed)")
def notify_payout(request: HttpRequest, provider: str) -> HttpResponse:
    return _provider_answer(payouts.handle_notification(provider, request.body, request.headers))
