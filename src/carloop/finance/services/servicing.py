"""Loan servicing: repayments (idempotent; penalty → fees → interest → principal, oldest instalment first),
partial prepayment (shorter term or lower instalment), payoff quotes and payoff, write-off, and unwinding a loan
whose car order was refunded."""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

from django.db import connection, transaction
from django.db.models import Model, Q
from django.utils import timezone

from carloop.core import audit, events, notifications, payables
from carloop.core.authz import Subject
from carloop.core.bulk import update_rows
from carloop.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Problem
from carloop.core.money import format_cny
from carloop.finance import ledger_accounts as accounts
from carloop.finance import selectors
from carloop.finance.amortization import Method, _annuity_factors, _half_up_div, add_months, build_schedule
from carloop.finance.models import Installment, Loan, LoanFunding, Repayment
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import TransferSpec

SHORTER_TERM = "shorter_term"
LOWER_INSTALLMENT = "lower_installment"
OPEN = (Installment.Status.PENDING, Installment.Status.DUE, Installment.Status.OVERDUE)
CASHIER_KEY = "payments:intent:"  # a repayment booked by the cashier's on_paid: its key names the paying intent


def bucket_for(dpd: int) -> str:
    if dpd <= 0:
        return "current"
    if dpd <= 30:
        return "1-30"
    if dpd <= 60:
        return "31-60"
    if dpd <= 90:
        return "61-90"
    return "90+"


def _half_up(value: Decimal) -> int:
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


@dataclass
class Allocation:
    penalty: int = 0
    fee: int = 0
    interest: int = 0
    principal: int = 0
    prepayment_fee: int = 0
    touched: list[Installment] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.penalty + self.fee + self.interest + self.principal + self.prepayment_fee


def allocate(installments: list[Installment], amount: int, alloc: Allocation) -> int:
    """Pay ``installments`` (oldest first), each penalty → fee → interest → principal; returns what is left."""
    for inst in installments:
        if amount <= 0:
            break
        for owed_attr, paid_attr, bucket in (
            ("penalty_fen", "paid_penalty_fen", "penalty"),
            ("fee_fen", "paid_fee_fen", "fee"),
            ("interest_fen", "paid_interest_fen", "interest"),
            ("principal_fen", "paid_principal_fen", "principal"),
        ):
            due = getattr(inst, owed_attr) - getattr(inst, paid_attr)
            take = min(due, amount)
            if take > 0:
                setattr(inst, paid_attr, getattr(inst, paid_attr) + take)
                setattr(alloc, bucket, getattr(alloc, bucket) + take)
                amount -= take
        alloc.touched.append(inst)
    return amount


def _request_hash(**fields: Any) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def _loan_for(subject: Subject, loan_id: uuid.UUID, *, lock: bool = True, product: bool = True) -> Loan:
    """The loan the caller repays (with its product when ``product``: prepayments and payoffs need its fees and
    rules): 404 unless the caller reads it, 403 unless they may repay it (``selectors.repays``)."""
    subject.require_authenticated()
    qs = selectors.loans_readable_by(subject)
    qs = qs if product else qs.select_related(None)
    if lock:  # the loan row only: locking its product too would serialize every repayment of that product
        qs = qs.select_for_update(of=("self",))
    loan = qs.filter(pk=loan_id).first()
    if loan is None:
        raise NotFound()
    if not selectors.repays(subject, loan):
        raise Forbidden()
    return loan


def loan_acted_on(subject: Subject, loan_id: uuid.UUID, may: Callable[[Subject], bool]) -> Loan:
    """The loan, row-locked: 404 unless the caller reads it, 403 unless the selector predicate ``may`` lets them."""
    subject.require_authenticated()
    loan = selectors.loans_readable_by(subject).select_related(None).select_for_update().filter(pk=loan_id).first()
    if loan is None:
        raise NotFound()
    subject.require(may(subject))
    return loan


def _require_active(loan: Loan) -> None:
    if loan.state != Loan.State.ACTIVE:
        raise Conflict("loan-not-active", "该贷款已结清、核销或尚未放款，不能还款",
                       "This loan is closed, written off or not yet disbursed: no repayment is possible")


def _open_installments(loan: Loan, due_on: date | None = None, *, lock: bool = True) -> list[Installment]:
    """The loan's open instalments, locked unless ``lock=False``, oldest first. With ``due_on``, only those due by
    then and the next two: all that a regular repayment can pay (the due ones and the next), and the one that is
    then the oldest open."""
    rows = Installment.objects.filter(loan=loan, status__in=OPEN)
    if lock:
        rows = rows.select_for_update()
    if due_on is not None:
        following = (Installment.objects.filter(loan=loan, status__in=OPEN, due_date__gt=due_on).order_by("period")
                     .values("pk")[:2])
        rows = rows.filter(Q(due_date__lte=due_on) | Q(pk__in=following))
    return list(rows.order_by("period"))


# ---------------------------------------------------------------------------------------------------- payoff


@dataclass(frozen=True)
class PayoffQuote:
    loan_id: uuid.UUID
    valid_on: date
    overdue_fen: int  # everything due on or before the date (incl. penalty)
    principal_fen: int  # principal not yet due
    accrued_interest_fen: int  # interest (and fee) of the running period up to the date
    prepayment_fee_fen: int

    @property
    def total_fen(self) -> int:
        return self.overdue_fen + self.principal_fen + self.accrued_interest_fen + self.prepayment_fee_fen


def _period_start(loan: Loan, inst: Installment, by_period: dict[int, Installment]) -> date:
    previous = by_period.get(inst.period - 1)
    if previous is not None:
        return previous.due_date
    return add_months(loan.start_date or inst.due_date, inst.period - 1)


def _payoff_parts(loan: Loan, installments: list[Installment], on: date) -> tuple[int, int, int, int, Installment | None]:
    all_rows = {i.period: i for i in Installment.objects.filter(loan=loan).only("period", "due_date")}
    overdue = sum(i.owed_fen for i in installments if i.due_date <= on)
    future = [i for i in installments if i.due_date > on]
    principal = sum(i.principal_fen - i.paid_principal_fen for i in future)
    accrued = 0
    current = future[0] if future else None
    if current is not None:
        start = _period_start(loan, current, all_rows)
        days = max(1, (current.due_date - start).days)
        elapsed = min(days, max(0, (on - start).days))
        owed_running = current.interest_fen + current.fee_fen
        accrued = max(0, _half_up_div(owed_running * elapsed, days) - current.paid_interest_fen - current.paid_fee_fen)
    fee = _half_up(loan.product.prepayment_fee_rate * principal)
    return overdue, principal, accrued, fee, current


def payoff_quote(subject: Subject, loan_id: uuid.UUID, on: date) -> PayoffQuote:
    """What paying the loan off on ``on`` costs. A read: it takes no row locks, so neither a repayment nor a COB
    chunk holding the loan makes it wait (the payoff itself recomputes the amount under the loan's lock)."""
    with _snapshot():
        loan = _loan_for(subject, loan_id, lock=False)
        _require_active(loan)
        overdue, principal, accrued, fee, _ = _payoff_parts(loan, _open_installments(loan, lock=False), on)
    return PayoffQuote(loan.pk, on, overdue, principal, accrued, fee)


@contextmanager
def _snapshot() -> Iterator[None]:
    """A read-only transaction whose reads all see one snapshot (REPEATABLE READ on PostgreSQL), unless the caller's
    transaction is already open: then its reads are the caller's."""
    if connection.in_atomic_block or connection.vendor != "postgresql":
        with transaction.atomic():
            yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


# ---------------------------------------------------------------------------------------------------- repay


@transaction.atomic
def book_repayment(loan_id: uuid.UUID, *, amount_fen: int, key: str, on: date, actor: str, kind: str = "regular",
                   prepayment_option: str = "") -> tuple[Repayment, bool]:
    """Book money the borrower paid (the cashier booked it into ``repayments_received`` on the provider's word, or
    the COB's withholding collected it); returns (repayment, replayed). Same key + same request → the stored
    repayment. Internal: the borrower pays at the cashier (``finance.repayment``), never by calling this."""
    if not key or len(key) > 200:
        raise Invalid("idempotency-key-required", "还款需要幂等键", "A repayment needs an idempotency key",
                      errors=[FieldError("/headers/Idempotency-Key", "缺少或过长", "Missing or too long")])
    qs = Loan.objects.select_for_update(of=("self",))  # the loan row only (not its product)
    loan = (qs.select_related("product") if kind == "payoff" or prepayment_option else qs).filter(pk=loan_id).first()
    if loan is None:
        raise NotFound()
    digest = _request_hash(amount_fen=amount_fen, kind=kind, option=prepayment_option, on=on)
    existing = Repayment.objects.filter(loan=loan, key=key).first()
    if existing is not None:
        if existing.request_hash != digest:
            raise Invalid("idempotency-key-reused", "该幂等键已用于不同的还款请求",
                          "This Idempotency-Key was used for a different repayment")
        return existing, True
    _require_active(loan)
    if amount_fen <= 0:
        raise Invalid("invalid-amount", "还款金额须大于零", "The amount must be greater than zero",
                      errors=[FieldError("/amount", "须大于零", "Must be greater than zero")])
    if kind == "regular" and prepayment_option not in ("", SHORTER_TERM, LOWER_INSTALLMENT):
        raise Invalid("invalid-prepayment-option", "提前还款方式须为 shorter_term 或 lower_installment",
                      "prepayment_option must be shorter_term or lower_installment",
                      errors=[FieldError("/prepayment_option", "无效", "Invalid")])
    installments = _open_installments(loan, due_on=on if kind == "regular" and not prepayment_option else None)
    # The platform first: it absorbs the rounding residue of the principal split (portable across databases,
    # whose NULL ordering differs).
    funding = sorted(LoanFunding.objects.select_for_update().filter(loan=loan), key=_funder_order)
    booked = _allocate(loan, installments, funding, amount_fen=amount_fen, key=key, on=on, actor=actor, kind=kind,
                       prepayment_option=prepayment_option, digest=digest)
    _save_rows(booked.touched, INSTALLMENT_FIELDS)
    _save_rows(booked.funding, ["outstanding_fen"])
    booked.repayment.save(force_insert=True)
    loan.save(update_fields=LOAN_FIELDS)
    audit.record(actor, *booked.audit)
    events.publish("finance.repayment.posted", f"finance:loan:{loan.pk}", booked.event, actor=actor)
    # Last: the repayments-received and income accounts are in every repayment, so their row locks are held from
    # here to the commit only.
    if booked.transfers:
        ledger.transfer_batch(booked.transfers)
    return booked.repayment, False


INSTALLMENT_FIELDS = ["paid_principal_fen", "paid_interest_fen", "paid_fee_fen", "paid_penalty_fen", "status", "paid_on",
                      "interest_fen", "fee_fen", "principal_fen"]
LOAN_FIELDS = ["outstanding_principal_fen", "oldest_unpaid_due", "bucket", "state", "closed_on", "pledge_status", "updated_at"]


def _funder_order(f: LoanFunding) -> tuple[bool, str]:
    return f.partner_id is not None, str(f.partner_id)


@dataclass
class Booked:
    """A repayment worked out in memory (the loan and its rows changed, nothing written yet)."""

    repayment: Repayment
    touched: list[Installment]
    funding: list[LoanFunding]
    transfers: list[TransferSpec]
    audit: tuple[str, str, uuid.UUID, dict[str, Any]]
    event: dict[str, Any]


def _allocate(loan: Loan, installments: list[Installment], funding: list[LoanFunding], *, amount_fen: int, key: str,
              on: date, actor: str, kind: str, prepayment_option: str, digest: str) -> Booked:
    """Allocate a repayment over the loan's (locked) open instalments and funding rows: the rows and the loan as
    the repayment leaves them, the repayment, its ledger transfers, audit entry and event."""
    outstanding_before = loan.outstanding_principal_fen
    oldest_due = min((i.due_date for i in installments if i.due_date <= on and i.owed_fen), default=None)
    dpd = (on - oldest_due).days if oldest_due and oldest_due < on else 0
    alloc = Allocation()
    if kind == "payoff":
        _payoff(loan, installments, amount_fen, on, alloc)
        repayment_kind = Repayment.Kind.PAYOFF
    else:
        due = [i for i in installments if i.due_date <= on]
        left = allocate(due, amount_fen, alloc)
        upcoming = [i for i in installments if i.due_date > on]
        if left and not prepayment_option:
            check_regular_amount(installments, left, on)  # what is due is paid by now: the next instalment takes the rest
            left = allocate(upcoming[:1], left, alloc)
        repayment_kind = Repayment.Kind.REGULAR
        if left:
            _prepay(loan, installments, left, prepayment_option, on, alloc)
            repayment_kind = Repayment.Kind.PREPAYMENT
    for inst in alloc.touched:
        if inst.owed_fen == 0 and inst.status != Installment.Status.CANCELLED:
            inst.status = Installment.Status.PAID
            inst.paid_on = on
    repayment = Repayment(loan=loan, key=key, kind=repayment_kind, amount_fen=amount_fen, penalty_fen=alloc.penalty,
                          fee_fen=alloc.fee, interest_fen=alloc.interest, principal_fen=alloc.principal,
                          prepayment_fee_fen=alloc.prepayment_fee, prepayment_option=prepayment_option,
                          business_date=on, request_hash=digest, days_past_due=dpd)
    transfers, repayment.split = _ledger_transfers(loan, funding, outstanding_before, repayment, actor)
    loan.outstanding_principal_fen -= alloc.principal
    still_open = _refresh_status(loan, installments, on)
    if loan.outstanding_principal_fen == 0 and not still_open:
        loan.close()
        loan.closed_on = on
        if loan.pledge_status in (Loan.Pledge.PENDING, Loan.Pledge.REGISTERED):
            loan.pledge_status = Loan.Pledge.RELEASED
    event = {
        "loan_id": str(loan.pk), "repayment_id": str(repayment.pk), "customer_user_id": str(loan.customer_id),
        "kind": repayment_kind, "amount_fen": amount_fen, "principal_fen": alloc.principal,
        "interest_fen": alloc.interest, "fee_fen": alloc.fee + alloc.prepayment_fee, "penalty_fen": alloc.penalty,
        "days_past_due": dpd, "loan_closed": loan.state == Loan.State.CLOSED, "business_date": on.isoformat(),
    }
    return Booked(repayment=repayment, touched=list(alloc.touched),
                  funding=[f for f in funding if repayment.split[accounts.funder_key(f.partner_id)]["principal"]],
                  transfers=transfers, event=event,
                  audit=(f"finance.repayment.{repayment_kind}", "finance.loan", loan.pk,
                         {"repayment_id": str(repayment.pk), "amount_fen": amount_fen}))


@dataclass(frozen=True)
class RepaymentItem:
    """One regular repayment of a batch: ``amount_fen`` for ``loan_id`` under ``key``; with ``due_through``, it
    must be exactly what is owed on the instalments due by that date (else the batch is refused)."""

    loan_id: uuid.UUID
    amount_fen: int
    key: str
    due_through: date | None = None


def book_repayments(items: Sequence[RepaymentItem], *, on: date, actor: str) -> list[TransferSpec]:
    """Book regular repayments of many loans at once (the cashier's withholding notifications, booked in chunks):
    each allocated as :func:`book_repayment` does, the rows written a statement per table, one audit and event
    insert each. Keys already booked are skipped. Returns the ledger transfers, for the caller to post in its own
    linked batch after the money reached ``repayments_received``. Raises a Problem (nothing written) when one
    item does not fit its loan now; the caller then books them one by one."""
    keys = {i.key for i in items}
    booked_keys = set(Repayment.objects.filter(key__in=keys).values_list("key", flat=True))
    todo = [i for i in items if i.key not in booked_keys]
    if not todo:
        return []
    loans = {loan.pk: loan for loan in Loan.objects.select_for_update(of=("self",))
             .filter(pk__in={i.loan_id for i in todo}).order_by("pk")}
    horizon = on + timedelta(days=93)  # due by ``on`` and, monthly, at least the next two (as _open_installments)
    open_rows: dict[uuid.UUID, list[Installment]] = {}
    for inst in (Installment.objects.select_for_update().filter(loan_id__in=loans, status__in=OPEN, due_date__lte=horizon)
                 .order_by("loan_id", "period")):
        open_rows.setdefault(inst.loan_id, []).append(inst)
    funding: dict[uuid.UUID, list[LoanFunding]] = {}
    for row in LoanFunding.objects.select_for_update().filter(loan_id__in=loans):
        funding.setdefault(row.loan_id, []).append(row)
    with accounts.memo():
        results = [_allocate_item(item, loans, open_rows, funding, on, actor) for item in todo]
    _save_rows([i for b in results for i in b.touched], INSTALLMENT_FIELDS)
    _save_rows([f for b in results for f in b.funding], ["outstanding_fen"])
    Repayment.objects.bulk_create([b.repayment for b in results])
    now = timezone.now()
    for b in results:
        b.repayment.loan.updated_at = now
    _save_rows([b.repayment.loan for b in results], LOAN_FIELDS)
    for action in {b.audit[0] for b in results}:
        audit.record_many(actor, action, "finance.loan", [(b.audit[2], b.audit[3]) for b in results if b.audit[0] == action])
    for b in results:
        events.publish("finance.repayment.posted", f"finance:loan:{b.repayment.loan_id}", b.event, actor=actor)
    return [t for b in results for t in b.transfers]


def _allocate_item(item: RepaymentItem, loans: dict[uuid.UUID, Loan], open_rows: dict[uuid.UUID, list[Installment]],
                   funding: dict[uuid.UUID, list[LoanFunding]], on: date, actor: str) -> Booked:
    loan = loans.get(item.loan_id)
    if loan is None:
        raise NotFound()
    _require_active(loan)
    rows = open_rows.get(loan.pk, [])
    installments = [i for i in rows if i.due_date <= on] + [i for i in rows if i.due_date > on][:2]
    if item.due_through is not None and item.amount_fen != sum(i.owed_fen for i in installments
                                                              if i.due_date <= item.due_through):
        raise Conflict("repayment-no-longer-due", "该笔还款对应的款项已结清或金额已变化",
                       "What this payment was for is settled or has changed")
    return _allocate(loan, installments, sorted(funding.get(loan.pk, []), key=_funder_order),
                     amount_fen=item.amount_fen, key=item.key, on=on, actor=actor, kind="regular", prepayment_option="",
                     digest=_request_hash(amount_fen=item.amount_fen, kind="regular", option="", on=on))


def regular_limit(installments: list[Installment], on: date) -> int:
    """The most a regular repayment on ``on`` takes: what is due by then and the next instalment."""
    upcoming = [i for i in installments if i.due_date > on][:1]
    return sum(i.owed_fen for i in installments if i.due_date <= on) + sum(i.owed_fen for i in upcoming)


def check_regular_amount(installments: list[Installment], amount_fen: int, on: date) -> None:
    limit = regular_limit(installments, on)
    if amount_fen > limit:
        raise Invalid("amount-exceeds-due", "金额超过当期应还；多余部分请选择提前还款方式或办理提前结清",
                      "The amount exceeds what is due now; choose a prepayment option or pay off the loan",
                      errors=[FieldError("/amount", f"当前最多可还 {format_cny(limit)}", f"At most {format_cny(limit)} now")])


def _save_rows(rows: Sequence[Model], fields: list[str]) -> None:
    """Write ``fields`` of ``rows`` in one statement (``core.bulk.update_rows``)."""
    update_rows(rows, fields)


def _refresh_status(loan: Loan, installments: list[Installment], on: date) -> bool:
    """Oldest unpaid due date and DPD bucket from the loan's open instalments as the repayment left them; returns
    whether any is still open."""
    oldest = min((i.due_date for i in installments if i.status in OPEN), default=None)
    loan.oldest_unpaid_due = oldest
    loan.bucket = bucket_for((on - oldest).days if oldest else 0)
    return oldest is not None


def _payoff(loan: Loan, installments: list[Installment], amount_fen: int, on: date, alloc: Allocation) -> None:
    overdue, principal, accrued, fee, current = _payoff_parts(loan, installments, on)
    total = overdue + principal + accrued + fee
    if amount_fen != total:
        raise Problem(422, "payoff-amount-mismatch", f"提前结清金额应为 {total / 100:.2f} 元",  # float-ok: display
                      f"The payoff amount on {on} is {total / 100:.2f} yuan", extra={"payoff": f"{total / 100:.2f}"},  # float-ok
                      errors=[FieldError("/amount", "金额与结清报价不符", "Does not match the payoff quote")])
    due = [i for i in installments if i.due_date <= on]
    allocate(due, overdue, alloc)
    for inst in installments:
        if inst.due_date <= on:
            continue
        # Future interest and fees are waived: the running period keeps what accrued up to the payoff date.
        if inst is current:
            running = inst.interest_fen + inst.fee_fen
            keep = accrued + inst.paid_interest_fen + inst.paid_fee_fen
            inst.fee_fen = min(inst.fee_fen, _half_up_div(inst.fee_fen * keep, running) if running else 0)
            inst.interest_fen = keep - inst.fee_fen
        else:
            inst.interest_fen, inst.fee_fen = inst.paid_interest_fen, inst.paid_fee_fen
    allocate([i for i in installments if i.due_date > on], principal + accrued, alloc)
    alloc.prepayment_fee = fee


def prepaid_principal(amount_fen: int, fee_rate: Decimal) -> int:
    """The largest principal p whose fee round_half_up(p × f) fits beside it: p + fee <= amount.

    round_half_up(p × f) <= amount − p exactly when p × f < amount − p + ½, i.e. p < (amount + ½) / (1 + f); so p is
    the largest integer below that bound, computed in exact fractions.
    """
    bound = (Fraction(amount_fen) + Fraction(1, 2)) / (1 + Fraction(fee_rate))
    return max(0, math.ceil(bound) - 1)


def check_prepayment(loan: Loan, installments: list[Installment], amount: int, option: str,
                     on: date) -> tuple[list[Installment], int, int]:
    """Whether ``amount`` may prepay principal on ``on`` with ``option`` (a Problem says why not); returns the
    untouched upcoming instalments, the principal it prepays and the principal they hold."""
    product = loan.product
    if option not in (SHORTER_TERM, LOWER_INSTALLMENT):
        raise Invalid("invalid-prepayment-option", "请选择提前还款方式", "Choose shorter_term or lower_installment",
                      errors=[FieldError("/prepayment_option", "必填", "Required")])
    if any(i.due_date <= on and i.owed_fen for i in installments):
        raise Conflict("overdue-first", "请先还清已到期款项", "Pay what is due before prepaying")
    elapsed = sum(1 for i in Installment.objects.filter(loan=loan).only("due_date") if i.due_date <= on)
    if elapsed < product.min_months_before_prepayment:
        raise Conflict("prepayment-too-early", f"放款满 {product.min_months_before_prepayment} 期后方可提前还款",
                       f"Prepayment is possible after {product.min_months_before_prepayment} instalments")
    untouched = [i for i in installments if i.due_date > on
                 and not (i.paid_principal_fen or i.paid_interest_fen or i.paid_fee_fen)]
    if not untouched:
        raise Conflict("nothing-to-prepay", "没有可提前偿还的期次", "There is no instalment left to prepay")
    principal = prepaid_principal(amount, product.prepayment_fee_rate)
    remaining = sum(i.principal_fen - i.paid_principal_fen for i in untouched)
    if principal >= remaining:
        raise Conflict("use-payoff", "该金额足以结清贷款，请使用提前结清", "This amount pays the loan off: use the payoff")
    return untouched, principal, remaining


def _prepay(loan: Loan, installments: list[Installment], amount: int, option: str, on: date, alloc: Allocation) -> None:
    untouched, principal, remaining = check_prepayment(loan, installments, amount, option, on)
    alloc.principal += principal
    alloc.prepayment_fee += amount - principal
    first = untouched[0]
    balance = remaining - principal
    periods = len(untouched)
    if option == SHORTER_TERM:
        periods = _shorter_term(loan, first, balance, periods)
    new = build_schedule(balance, loan.annual_rate, periods, loan.method, loan.start_date or on,
                         monthly_fee_rate=loan.monthly_fee_rate, first_period=first.period,
                         fee_base_fen=balance if loan.method == Method.MONTHLY_FEE else None)
    Installment.objects.filter(pk__in=[i.pk for i in untouched]).delete()
    rescheduled = Installment.objects.bulk_create([
        Installment(loan=loan, period=r.period, due_date=r.due_date, principal_fen=r.principal_fen,
                    interest_fen=r.interest_fen, fee_fen=r.fee_fen)
        for r in new.rows()
    ])
    installments[:] = [i for i in installments if i not in untouched] + rescheduled
    audit.record("system", "finance.loan.rescheduled", "finance.loan", loan.pk,
                 {"option": option, "prepaid_principal_fen": principal, "periods": periods, "from_period": first.period})


def _shorter_term(loan: Loan, first: Installment, balance: int, periods: int) -> int:
    """Fewest periods whose instalment does not exceed the current one."""
    if loan.method == Method.EQUAL_INSTALLMENT:
        target = first.principal_fen + first.interest_fen
        num, den = loan.annual_rate.as_integer_ratio()
        for n in range(1, periods + 1):
            if num:
                growth, denominator = _annuity_factors(num, 12 * den, n)
                payment = _half_up_div(balance * num * growth, denominator)
            else:
                payment = _half_up_div(balance, n)
            if payment <= target:
                return n
        return periods
    part = first.principal_fen
    return max(1, min(periods, -(-balance // part)))


def principal_shares(principal: int, outstanding: list[int]) -> list[int]:
    """Split ``principal`` pro rata to each funder's outstanding, never above it, summing exactly."""
    total = sum(outstanding)
    if principal > total:
        raise ValueError("principal exceeds the outstanding")
    shares = [min(o, _half_up_div(principal * o, total)) if total else 0 for o in outstanding]
    left = principal - sum(shares)
    for i, o in enumerate(outstanding):  # rounding residue (either sign) to whoever has room
        step = min(left, o - shares[i]) if left > 0 else max(left, -shares[i])
        shares[i] += step
        left -= step
    return shares


def _ledger_transfers(loan: Loan, funding: list[LoanFunding], outstanding_before: int, rep: Repayment,
                      actor: str) -> tuple[list[TransferSpec], dict[str, dict[str, int]]]:
    """The repayment's transfers and split (each funding row's outstanding is reduced in memory). The borrower's
    money is in ``repayments_received`` (flagged: a repayment never books more than arrived); principal to each funder pro rata to its outstanding share, partner interest at the partner
    rate, the spread, fees, penalties and prepayment fees to the platform."""
    received, income = accounts.received().id, accounts.income().id
    specs: list[TransferSpec] = []
    split: dict[str, dict[str, int]] = {}
    interest_left = rep.interest_fen
    for part, share in zip(funding, principal_shares(rep.principal_fen, [f.outstanding_fen for f in funding]), strict=True):
        key = accounts.funder_key(part.partner_id)
        interest = 0
        if part.partner_id is not None and rep.interest_fen and loan.annual_rate:
            interest = min(interest_left, _half_up(
                Decimal(rep.interest_fen * part.outstanding_fen) / outstanding_before * part.rate / loan.annual_rate))
        interest_left -= interest
        part.outstanding_fen -= share
        split[key] = {"principal": share, "interest": interest}
        base = f"finance:repayment:{rep.pk}:{key}"
        if share:
            specs.append(TransferSpec(id=f"{base}:principal", debit=received, credit=accounts.pool(key).id,
                                      amount_fen=share, code=accounts.T_PRINCIPAL, memo=loan.contract_no, actor=actor))
            specs.append(TransferSpec(id=f"{base}:unbook", debit=accounts.lent(key).id,
                                      credit=accounts.receivable(key).id, amount_fen=share, code=accounts.T_UNBOOK,
                                      memo=loan.contract_no, actor=actor))
        if interest:
            specs.append(TransferSpec(id=f"{base}:interest", debit=received, credit=accounts.pool(key).id,
                                      amount_fen=interest, code=accounts.T_INTEREST, memo=loan.contract_no, actor=actor))
    split[accounts.PLATFORM + ":income"] = {"interest": interest_left, "fee": rep.fee_fen, "penalty": rep.penalty_fen,
                                            "prepayment_fee": rep.prepayment_fee_fen}
    for amount, code, leg in ((interest_left, accounts.T_SERVICE_FEE, "service"), (rep.fee_fen, accounts.T_FEE, "fee"),
                              (rep.penalty_fen, accounts.T_PENALTY, "penalty"),
                              (rep.prepayment_fee_fen, accounts.T_PREPAYMENT_FEE, "prepayment-fee")):
        if amount:
            specs.append(TransferSpec(id=f"finance:repayment:{rep.pk}:{leg}", debit=received, credit=income,
                                      amount_fen=amount, code=code, memo=loan.contract_no, actor=actor))
    return specs, split


# ------------------------------------------------------------------------------------------------- write-off


@transaction.atomic
def write_off(subject: Subject, loan_id: uuid.UUID, reason: str, on: date) -> Loan:
    """Finance operations write an uncollectable loan off, with a reason."""
    loan = loan_acted_on(subject, loan_id, selectors.writes_off)
    if not reason.strip():
        raise Invalid("reason-required", "核销须填写原因", "A write-off needs a reason",
                      errors=[FieldError("/reason", "必填", "Required")])
    if loan.state != Loan.State.ACTIVE:
        raise Conflict("loan-not-active", "只有还款中的贷款可以核销", "Only active loans can be written off")
    specs = []
    funding = list(LoanFunding.objects.select_for_update().filter(loan=loan))
    for part in funding:
        if part.outstanding_fen:
            key = accounts.funder_key(part.partner_id)
            specs.append(TransferSpec(id=f"finance:loan:{loan.pk}:writeoff:{key}", debit=accounts.writeoff(key).id,
                                      credit=accounts.receivable(key).id, amount_fen=part.outstanding_fen,
                                      code=accounts.T_WRITEOFF, memo=loan.contract_no, actor=subject.ref))
            part.outstanding_fen = 0
    if specs:
        ledger.transfer_batch(specs)
    LoanFunding.objects.bulk_update(funding, ["outstanding_fen"])
    loan.written_off_fen = loan.outstanding_principal_fen
    loan.outstanding_principal_fen = 0
    loan.write_off_reason = reason.strip()
    loan.closed_on = on
    loan.write_off()
    loan.save()
    audit.record(subject.ref, "finance.loan.written_off", "finance.loan", loan.pk,
                 {"reason": loan.write_off_reason, "amount_fen": loan.written_off_fen})
    events.publish("finance.loan.written_off", f"finance:loan:{loan.pk}", {
        "loan_id": str(loan.pk), "customer_user_id": str(loan.customer_id), "amount_fen": loan.written_off_fen,
    }, actor=subject.ref)
    return loan


# -------------------------------------------------------------------------------------------------- unwind


def _refund_repayments(loan: Loan, actor: str) -> int:
    """Pay what the customer repaid back out of ``repayments_received``: the cashier refunds each intent that paid
    a repayment (key ``payments:intent:<id>``), to the tenders that paid it. Returns the amount refunded."""
    total = 0
    paid = Repayment.objects.filter(loan=loan, key__startswith=CASHIER_KEY).order_by("created_at", "pk")
    for key, amount in paid.values_list("key", "amount_fen"):
        payables.cashier().refund_paid(intent_id=key.removeprefix(CASHIER_KEY), amount_fen=amount,
                                       reason=f"退车退贷 {loan.contract_no} / loan unwound", actor=actor)
        total += amount
    return total


def unwind(loan: Loan, *, reason: str, actor: str, on: date) -> Loan:
    """退车退贷: the car order this loan paid was refunded. The dealer returns each funder's disbursement and the
    platform the upfront fee it kept, so every funder is whole; the customer gets back everything they repaid
    (principal, interest, fees, penalties) and owes nothing; open instalments are cancelled. The caller holds
    the loan row locked."""
    funding = sorted(LoanFunding.objects.select_for_update().filter(loan=loan),
                     key=lambda f: (f.partner_id is not None, str(f.partner_id)))
    repaid: dict[str, dict[str, int]] = {}
    for split in Repayment.objects.filter(loan=loan).values_list("split", flat=True):
        for key, parts in split.items():
            total = repaid.setdefault(key, {})
            for name, amount in parts.items():
                total[name] = total.get(name, 0) + amount
    # What the customer repaid goes back to repayments received, where it came in through the cashier.
    income, received = accounts.income().id, accounts.received().id
    returns: list[TransferSpec] = []
    refunds: list[TransferSpec] = []
    record: dict[str, Any] = {"reason": reason}
    customer_refund = 0
    for part in funding:
        key = accounts.funder_key(part.partner_id)
        base = f"finance:loan:{loan.pk}:unwind:{key}"
        returned = 0
        for suffix in ("", ":fee"):  # the disbursement to the dealer and the upfront fee, reversed
            paid_out = ledger_q.get_transfer(f"finance:loan:{loan.pk}:disburse:{key}{suffix}")
            if paid_out is not None:
                returns.append(TransferSpec(id=f"{base}:return{suffix}", debit=paid_out.credit, credit=paid_out.debit,
                                            amount_fen=paid_out.amount_fen, code=accounts.T_UNWIND,
                                            memo=loan.contract_no, actor=actor))
                returned += paid_out.amount_fen
        if part.outstanding_fen:
            returns.append(TransferSpec(id=f"{base}:unbook", debit=accounts.lent(key).id,
                                        credit=accounts.receivable(key).id, amount_fen=part.outstanding_fen,
                                        code=accounts.T_UNBOOK, memo=loan.contract_no, actor=actor))
        back = sum(repaid.get(key, {}).values())
        if back:
            refunds.append(TransferSpec(id=f"{base}:refund", debit=accounts.pool(key).id, credit=received,
                                        amount_fen=back, code=accounts.T_REFUND, memo=loan.contract_no, actor=actor))
        record[key] = {"returned": returned, "refunded": back}
        customer_refund += back
        part.outstanding_fen = 0
    platform_back = sum(repaid.get(accounts.PLATFORM + ":income", {}).values())
    if platform_back:
        refunds.append(TransferSpec(id=f"finance:loan:{loan.pk}:unwind:income:refund", debit=income, credit=received,
                                    amount_fen=platform_back, code=accounts.T_REFUND, memo=loan.contract_no, actor=actor))
    customer_refund += platform_back
    record["customer_refund_fen"] = customer_refund
    ledger.transfer_batch(returns + refunds)
    record["refunded_through_cashier_fen"] = _refund_repayments(loan, actor)
    LoanFunding.objects.bulk_update(funding, ["outstanding_fen"])
    Installment.objects.filter(loan=loan, status__in=OPEN).update(status=Installment.Status.CANCELLED)
    loan.unwind_purchase()
    loan.outstanding_principal_fen = 0
    loan.oldest_unpaid_due, loan.bucket = None, bucket_for(0)
    loan.closed_on = loan.closed_on or on
    if loan.pledge_status in (Loan.Pledge.PENDING, Loan.Pledge.REGISTERED):
        loan.pledge_status = Loan.Pledge.RELEASED
    loan.unwound_at, loan.unwind = timezone.now(), record
    loan.save()
    audit.record(actor, "finance.loan.unwound", "finance.loan", loan.pk, record)
    notifications.notify(f"user:{loan.customer_id}", "push", f"finance:loan:{loan.pk}:unwound",
                         f"购车订单已退款，贷款合同 {loan.contract_no} 已解除，无需继续还款"
                         + (f"；已还款项 {format_cny(customer_refund)} 将原路退回" if customer_refund else ""),
                         f"Your car order was refunded: loan {loan.contract_no} is cancelled and nothing more is due"
                         + (f"; the {format_cny(customer_refund)} you repaid is being refunded" if customer_refund else ""))
    events.publish("finance.loan.unwound", f"finance:loan:{loan.pk}", {
        "loan_id": str(loan.pk), "order_ref": loan.order_ref, "customer_user_id": str(loan.customer_id),
        "customer_refund_fen": customer_refund, "reason": reason,
    }, actor=actor)
    return loan
