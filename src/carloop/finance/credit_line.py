"""Consumer credit lines (issue 15, F2, slice 1): opening by a risk decision, and the cashier tender.

Opening: the customer applies with consent for a limit; the same decision service the auto-loan applications use
(:func:`carloop.finance.decisions.decide`: the risk app, or finance's rules) approves with a limit and a price tier,
refers, or declines with reasons. An approval opens the line at once.

Ledger (finance range 2000–2999):

* ``finance:credit_line:<line>:available`` (code 2500, credit-normal, flagged DEBITS_MUST_NOT_EXCEED_CREDITS):
  the unspent limit. Opening grants the limit into it from the platform's ``finance:credit_lines:commitment``
  (code 2510), transfer code 2501.
* Spending: the line is the ``credit_line`` tender of :mod:`carloop.core.payables`. The cashier holds the
  purchase from the available account to the payable's destination (a pending transfer, posted when the intent
  succeeds); the ledger locks the account row and refuses a hold that would take it below zero, so concurrent
  checkouts can never draw more than the limit (409 ``insufficient-funds``). A refund to the tender credits the
  available account again, so it restores the limit.
* What the customer owes is therefore ``limit − available`` (posted), and the limit still held by open
  checkouts is the account's pending debits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from carloop.core import audit, events, locks, payables
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Invalid, NotFound, Problem
from carloop.core.money import format_cny
from carloop.core.timeutil import business_date
from carloop.finance import decisions
from carloop.finance.models import CreditLine, CreditLineApplication
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, AccountInfo
from carloop.risk.contracts import DecisionRequest

TENDER = "credit_line"
PRODUCT_KIND = "credit_line"
MIN_LIMIT_FEN = 100_000  # 1,000 yuan
MAX_LIMIT_FEN = 5_000_000  # 50,000 yuan
DECISION_TERM_MONTHS = 12  # risk sees a revolving line as a 12-month exposure of its full limit
LATEST_STATEMENT_DAY = 28  # a statement day exists in every month

# ledger account and transfer codes
AVAILABLE, COMMITMENT = 2500, 2510
T_GRANT = 2501

CONSENT = (
    "本人同意 carloop 及其合作机构为审核本次授信申请查询、使用本人的身份及平台行为数据。",
    "I consent to carloop and its partners using my identity and platform data to assess this credit-line "
    "application.",
)
CONSENT_TEXT = " / ".join(CONSENT)


def commitment() -> AccountInfo:
    return ledger.open_account(key="finance:credit_lines:commitment", name="授信额度承诺", code=COMMITMENT,
                               owner="platform")


def _available_account(line_id: uuid.UUID, customer_id: uuid.UUID) -> AccountInfo:
    return ledger.open_account(key=f"finance:credit_line:{line_id}:available", name=f"授信可用额度 {line_id}",
                               code=AVAILABLE, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                               owner=f"user:{customer_id}")


def _bad(slug: str, pointer: str, zh: str, en: str) -> Problem:
    return Invalid(slug, zh, en, [FieldError(pointer, zh, en)])


@transaction.atomic
def apply(subject: Subject, *, requested_limit_fen: int, consent: bool, device_id: str | None = None, ip: str = "",
          on: date | None = None) -> CreditLineApplication:
    """Apply for a credit line and decide it at once: approve (the line opens with the limit and tier risk
    granted), refer, or decline with reasons. One open line per customer (409 ``credit-line-exists``)."""
    customer_id = subject.require_customer("只有个人客户可以申请授信", "Only customers can apply for a credit line")
    if not consent:
        raise _bad("consent-required", "/consent", "须同意数据使用授权", "Consent to the use of your data is required")
    if not MIN_LIMIT_FEN <= requested_limit_fen <= MAX_LIMIT_FEN:
        low, high = format_cny(MIN_LIMIT_FEN), format_cny(MAX_LIMIT_FEN)
        raise _bad("limit-out-of-range", "/requested_limit", f"申请额度须在 {low} 到 {high} 之间",
                   f"The limit asked for must be {low} to {high}")
    locks.serialize(f"finance:credit_line:customer:{customer_id}")
    if CreditLine.objects.filter(customer_id=customer_id).exclude(state=CreditLine.State.CLOSED).exists():
        raise Conflict("credit-line-exists", "您已有授信额度", "You already have a credit line")
    as_of = on or business_date()
    app_id = uuid.uuid4()
    request = DecisionRequest(
        application_ref=f"finance:credit_line_application:{app_id}", product_kind=PRODUCT_KIND,
        customer_user_id=str(customer_id), amount_fen=requested_limit_fen, term_months=DECISION_TERM_MONTHS,
        as_of=as_of, product_limits={"min_amount_fen": MIN_LIMIT_FEN, "max_amount_fen": MAX_LIMIT_FEN},
        device_id=device_id, ip=ip or None,
    )
    observed = decisions.observe(request)
    provider, result = decisions.decide(request, observed)
    app = CreditLineApplication(
        id=app_id, customer_id=customer_id, requested_limit_fen=requested_limit_fen, provider=provider,
        decision={"request": decisions.jsonable(request) | {"observed": observed}, "result": decisions.jsonable(result)},
        consent_text=CONSENT_TEXT, consent_ip=ip,
    )
    if result.outcome == "approve":
        app.state = CreditLineApplication.State.APPROVED
        app.granted_limit_fen = min(result.approved_amount_fen or requested_limit_fen, requested_limit_fen)
        app.price_tier = result.price_tier or decisions.DEFAULT_TIER
    elif result.outcome == "refer":
        app.state = CreditLineApplication.State.REFERRED
    else:
        app.state = CreditLineApplication.State.DECLINED
        app.decline_reasons = [{"code": r.code, "zh": r.zh, "en": r.en} for r in result.reasons]
    app.save()
    if app.granted_limit_fen:
        _open_line(app, as_of, subject.ref)
    audit.record(subject.ref, f"finance.credit_line_application.{app.state}", "finance.credit_line_application",
                 app.pk, {"provider": provider, "decision_id": result.decision_id})
    events.publish("finance.credit_line.decided", f"finance:credit_line_application:{app.pk}", {
        "application_id": str(app.pk), "customer_user_id": str(customer_id), "outcome": app.state,
        "requested_limit_fen": requested_limit_fen, "granted_limit_fen": app.granted_limit_fen,
        "price_tier": app.price_tier, "reasons": [r["code"] for r in app.decline_reasons],
    }, actor=subject.ref)
    return app


def _open_line(app: CreditLineApplication, on: date, actor: str) -> CreditLine:
    assert app.granted_limit_fen is not None
    line_id = uuid.uuid4()
    account = _available_account(line_id, app.customer_id)
    line = CreditLine.objects.create(
        id=line_id, customer_id=app.customer_id, application=app, limit_fen=app.granted_limit_fen,
        price_tier=app.price_tier, statement_day=min(on.day, LATEST_STATEMENT_DAY), opened_on=on,
        available_account_id=account.id,
    )
    ledger.transfer(id=f"finance:credit_line:{line.pk}:grant", debit=commitment().id, credit=account.id,
                    amount_fen=line.limit_fen, code=T_GRANT, memo=f"credit line {line.pk} limit", actor=actor)
    audit.record(actor, "finance.credit_line.opened", "finance.credit_line", line.pk,
                 {"limit_fen": line.limit_fen, "price_tier": line.price_tier})
    return line


@transaction.atomic
def freeze(subject: Subject, line_id: uuid.UUID | str) -> CreditLine:
    """Finance operations or a risk analyst stop a line's spending (open checkouts keep their holds)."""
    subject.require_role("finance_ops", "risk_analyst")
    line = CreditLine.objects.select_for_update().filter(pk=line_id).first()
    if line is None:
        raise NotFound()
    if line.state != CreditLine.State.ACTIVE:
        raise Conflict("credit-line-not-active", "该授信额度不是可用状态", "The credit line is not active")
    line.freeze()
    line.save(update_fields=["state", "updated_at"])
    audit.record(subject.ref, "finance.credit_line.frozen", "finance.credit_line", line.pk)
    return line


# ------------------------------------------------------------------------------------------------------ reads


@dataclass(frozen=True)
class LineSummary:
    line: CreditLine
    limit_fen: int
    available_fen: int  # spendable now: the unspent limit less what open checkouts hold
    held_fen: int  # held by checkouts not yet paid
    owed_fen: int  # drawn and not repaid (limit − posted available); negative: a credit balance


def summary(line: CreditLine) -> LineSummary:
    balance = ledger_q.balance(line.available_account_id)
    held = balance.debits_pending
    return LineSummary(line=line, limit_fen=line.limit_fen, available_fen=balance.available_fen, held_fen=held,
                       owed_fen=line.limit_fen - balance.balance_fen)


def line_of(subject: Subject) -> CreditLine | None:
    """The subject's own line that is not closed (None for anyone without one)."""
    if subject.user_id is None:
        return None
    return CreditLine.objects.filter(customer_id=subject.user_id).exclude(state=CreditLine.State.CLOSED).first()


# ----------------------------------------------------------------------------------------------- the cashier


def tender_account(payer_user_id: uuid.UUID | None, instrument: str) -> uuid.UUID:
    """The cashier's ``credit_line`` tender: the payer's active line's available account. ``instrument`` may name
    the line; another customer's line, or none, is a 404; a frozen line a 409."""
    line = None
    if payer_user_id is not None:
        line = CreditLine.objects.filter(customer_id=payer_user_id).exclude(state=CreditLine.State.CLOSED).first()
    if line is None or (instrument and instrument != str(line.pk)):
        raise NotFound("没有可用的授信额度", "No credit line to pay with")
    if line.state != CreditLine.State.ACTIVE:
        raise Conflict("credit-line-frozen", "授信额度已冻结，不能使用", "The credit line is frozen and cannot be used")
    return line.available_account_id


def register() -> None:
    payables.register_tender(payables.TenderSource(TENDER, "授信额度", "Credit line", tender_account))
