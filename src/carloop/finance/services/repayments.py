"""Loan repayments at the cashier: the payable kind ``finance.repayment``.

The borrower pays at the cashier; the loan is credited only when the provider's verified notification (or a
confirmed bank transfer) books the intent, in the cashier's transaction (``on_paid``). A reference names the
loan and what is paid (``finance:loan:<id>:<what>``):

* ``due`` — everything due today or earlier (overdue instalments with their penalty, and today's);
* ``amount:<fen>`` — an amount the borrower chooses, applied like a regular repayment: what is due first, then
  the next instalment (so a part payment, or the coming instalment ahead of its date); more is refused
  (``amount-exceeds-due``: prepay or pay off instead);
* ``prepay:<shorter_term|lower_installment>:<fen>`` — a partial prepayment of principal (its fee included);
* ``payoff`` — today's payoff quote;
* ``withhold:<YYYY-MM-DD>`` — everything due on or before that business date, debited by the COB from the card the
  borrower bound (:func:`bind_debit_card`, a withholding agreement at the cashier's provider): one per loan and
  COB date.

When the money arrives, what the reference is due is asked again under the loan's lock: a payment that no longer
matches it (the instalment was settled meanwhile — by the COB's withholding, say —, the loan was paid off, a
payoff quote of another day) is refused, and the cashier refunds it in full; nothing is kept as an unasked-for
credit.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import date, timedelta
from typing import Any

from carloop.core import audit, payables
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Forbidden, Invalid, Problem
from carloop.core.timeutil import business_date
from carloop.finance import ledger_accounts as accounts
from carloop.finance.models import Installment, Loan
from carloop.finance.services import servicing

REPAYMENT_KIND = "finance.repayment"
PREFIX = "finance:loan:"


_as_of: ContextVar[date | None] = ContextVar("finance_repayments_as_of", default=None)


def today() -> date:
    """The business date repayments are due and booked on: today, unless inside :func:`as_of`."""
    return _as_of.get() or business_date()


@contextmanager
def as_of(day: date) -> Iterator[None]:
    """Repayments asked for and booked inside this block are on ``day`` (the demo seed's history, tests)."""
    token = _as_of.set(day)
    try:
        yield
    finally:
        _as_of.reset(token)


def withhold_prefix(loan_id: uuid.UUID | str) -> str:
    """The start of every withholding reference of ``loan_id`` (``ref_for(loan_id, withhold_on=D)``)."""
    return f"{PREFIX}{loan_id}:withhold:"


def ref_for(loan_id: uuid.UUID | str, *, amount_fen: int | None = None, option: str = "", payoff: bool = False,
            withhold_on: date | None = None) -> str:
    """The cashier reference for paying ``loan_id``: today's payoff, a prepayment, a chosen amount, what is due, or
    the COB's withholding of what is due on ``withhold_on``."""
    base = f"{PREFIX}{loan_id}"
    if withhold_on is not None:
        return f"{withhold_prefix(loan_id)}{withhold_on.isoformat()}"
    if payoff:
        return f"{base}:payoff"
    if option:
        return f"{base}:prepay:{option}:{amount_fen}"
    if amount_fen is not None:
        return f"{base}:amount:{amount_fen}"
    return f"{base}:due"


def _parse(ref: str) -> tuple[uuid.UUID, str, str, int] | None:
    """(loan id, what, prepayment option, amount) of a reference, or None."""
    if not ref.startswith(PREFIX):
        return None
    parts = ref.removeprefix(PREFIX).split(":")
    try:
        loan_id = uuid.UUID(parts[0])
        what = parts[1]
        if what in ("due", "payoff") and len(parts) == 2:
            return loan_id, what, "", 0
        if what == "amount" and len(parts) == 3:
            return loan_id, what, "", int(parts[2])
        if what == "withhold" and len(parts) == 3:
            return loan_id, what, date.fromisoformat(parts[2]).isoformat(), 0
        if what == "prepay" and len(parts) == 4 and parts[2] in (servicing.SHORTER_TERM, servicing.LOWER_INSTALLMENT):
            return loan_id, what, parts[2], int(parts[3])
    except (ValueError, IndexError):
        return None
    return None


def amount_due(loan: Loan, what: str, option: str, amount: int, on: date) -> int:
    """What the reference is due on ``on`` (0: nothing); a Problem when a chosen amount cannot be taken now."""
    if loan.state != Loan.State.ACTIVE:
        return 0
    installments = servicing._open_installments(loan, lock=False)
    if what == "payoff":
        overdue, principal, accrued, fee, _ = servicing._payoff_parts(loan, installments, on)
        return overdue + principal + accrued + fee
    if what == "due":
        return sum(i.owed_fen for i in installments if i.due_date <= on)
    if what == "withhold":
        return sum(i.owed_fen for i in installments if i.due_date <= date.fromisoformat(option))
    if amount <= 0 or amount > 10**12:
        raise Invalid("invalid-amount", "还款金额须大于零", "The amount must be greater than zero",
                      errors=[FieldError("/amount", "须大于零", "Must be greater than zero")])
    if what == "amount":
        servicing.check_regular_amount(installments, amount, on)
    else:
        servicing.check_prepayment(loan, installments, amount, option, on)
    return amount


def lookup(ref: str) -> payables.Payable | None:
    parsed = _parse(ref)
    if parsed is None:
        return None
    loan_id, what, option, amount = parsed
    loan = Loan.objects.select_related("product").filter(pk=loan_id).first()
    if loan is None:
        return None
    return _payable(loan, ref, what, amount_due(loan, what, option, amount, today()))


def _payable(loan: Loan, ref: str, what: str, due: int) -> payables.Payable:
    titles = {"payoff": ("提前结清", "Payoff"), "prepay": ("提前还款", "Prepayment"), "due": ("贷款还款", "Loan repayment"),
              "amount": ("贷款还款", "Loan repayment"), "withhold": ("代扣还款", "Withheld repayment")}[what]
    return payables.Payable(ref=ref, amount_due_fen=due, destination_account=accounts.received().id,
                            payer_user_id=loan.customer_id, title_zh=f"{titles[0]} {loan.contract_no}",
                            title_en=f"{titles[1]} {loan.contract_no}", merchant="platform")


def _due_through(what: str, option: str, on: date) -> date | None:
    """The date by which everything due is what a ``due`` or ``withhold`` reference pays (None for the others)."""
    return on if what == "due" else date.fromisoformat(option) if what == "withhold" else None


def lookup_many(refs: list[str]) -> dict[str, payables.Payable]:
    """Many references at once (the COB's withholding of a chunk): ``due`` and ``withhold`` ones from two queries,
    any other one by :func:`lookup`."""
    on, out = today(), {}
    parsed = {ref: p for ref in refs if (p := _parse(ref)) is not None}
    batched = {ref: p for ref, p in parsed.items() if _due_through(p[1], p[2], on) is not None}
    loans = {loan.pk: loan for loan in Loan.objects.filter(pk__in={p[0] for p in batched.values()})}
    owed: dict[uuid.UUID, list[tuple[date, int]]] = {}
    for inst in Installment.objects.filter(loan_id__in=loans, status__in=servicing.OPEN, due_date__lte=on + timedelta(days=31)):
        owed.setdefault(inst.loan_id, []).append((inst.due_date, inst.owed_fen))
    for ref, (loan_id, what, option, _) in batched.items():
        loan = loans.get(loan_id)
        through = _due_through(what, option, on)
        if loan is not None and through is not None:
            due = sum(fen for day, fen in owed.get(loan_id, []) if day <= through) if loan.state == Loan.State.ACTIVE else 0
            out[ref] = _payable(loan, ref, what, due)
    for ref in parsed.keys() - batched.keys():
        if (payable := lookup(ref)) is not None:
            out[ref] = payable
    return out


def paid(event: payables.Paid) -> None:
    """The cashier booked the borrower's money into ``repayments_received``: post the repayment, if what it was
    for is still due (else raise, and the cashier refunds it)."""
    parsed = _parse(event.ref)
    if parsed is None:
        raise Conflict("repayment-unknown", "未知的还款", "Unknown repayment")
    loan_id, what, option, amount = parsed
    on = today()
    loan = Loan.objects.select_for_update(of=("self",)).select_related("product").filter(pk=loan_id).first()
    try:
        due = amount_due(loan, what, option, amount, on) if loan is not None else 0
    except Problem:
        due = 0
    if loan is None or due != event.amount_fen:
        raise Conflict("repayment-no-longer-due", "该笔还款对应的款项已结清或金额已变化，款项将原路退回",
                       "What this payment was for is settled or has changed; it is refunded")
    servicing.book_repayment(loan.pk, amount_fen=event.amount_fen, key=f"{servicing.CASHIER_KEY}{event.intent_id}", on=on,
                             actor=event.actor, kind="payoff" if what == "payoff" else "regular",
                             prepayment_option=option if what == "prepay" else "")


def paid_many(events: list[payables.Paid]) -> list[Any]:
    """Many ``due`` or ``withhold`` payments at once (withholding notifications booked in chunks): each must be
    exactly what its reference is due now; returns the repayments' ledger transfers for the cashier to post."""
    on, items = today(), []
    for event in events:
        parsed = _parse(event.ref)
        through = _due_through(parsed[1], parsed[2], on) if parsed is not None else None
        if parsed is None or through is None:
            raise Conflict("repayment-not-batched", "该还款须逐笔入账", "This repayment is booked on its own")
        items.append(servicing.RepaymentItem(loan_id=parsed[0], amount_fen=event.amount_fen,
                                             key=f"{servicing.CASHIER_KEY}{event.intent_id}", due_through=through))
    return servicing.book_repayments(items, on=on, actor=events[0].actor) if items else []


def refunded(event: payables.Refunded) -> None:
    """The provider paid a repayment back: only an unwound loan's repayments are refunded (``servicing.unwind``
    asks the cashier, the kind being refunded by its owner); finance records it."""
    parsed = _parse(event.ref)
    loan = Loan.objects.filter(pk=parsed[0]).first() if parsed is not None else None
    if loan is None or loan.state != Loan.State.UNWOUND:
        raise Conflict("repayment-not-refundable", "已入账的还款不能直接退款", "A booked repayment is not refunded")
    audit.record(event.actor, "finance.loan.repayment_refunded", "finance.loan", loan.pk,
                 {"intent_id": str(event.intent_id), "amount_fen": event.amount_fen})


def register() -> None:
    payables.register_kind(payables.PayableKind(REPAYMENT_KIND, "贷款还款", "Loan repayment", lookup, paid,
                                                refunded, refunded_by_owner=True, lookup_many=lookup_many,
                                                on_paid_many=paid_many))


def bind_debit_card(subject: Subject, loan_id: uuid.UUID, *, card_no: str) -> Loan:
    """The borrower binds a bank card to their active loan: a withholding agreement (代扣协议) with the cashier's
    provider, from which the COB debits what falls due. We keep the agreement and the masked card, never the
    number. Another party's loan is a 404; only the borrower binds (403 for operators who read it)."""
    loan = servicing._loan_for(subject, loan_id, lock=True, product=False)
    if not (subject.kind == "customer" and loan.customer_id == subject.user_id):
        raise Forbidden("只有借款人可以绑定代扣银行卡", "Only the borrower binds a debit card")
    if loan.state != Loan.State.ACTIVE:
        raise Conflict("loan-not-active", "贷款不在还款中", "The loan is not being repaid", state=loan.state)
    agreement = payables.cashier().sign_withholding(payer_user_id=loan.customer_id, card_no=card_no, actor=subject.ref)
    loan.debit_agreement_no, loan.debit_card_masked = agreement.agreement_no, agreement.card_masked
    loan.save(update_fields=["debit_agreement_no", "debit_card_masked", "updated_at"])
    audit.record(subject.ref, "finance.loan.debit_card_bound", "finance.loan", loan.pk, {"card": agreement.card_masked})
    return loan


def pay_at_cashier(subject: Subject, loan_id: uuid.UUID, *, amount_fen: int | None = None, option: str = "",
                   payoff: bool = False) -> Problem:
    """The answer to a repayment asked of finance directly: 409 ``pay-at-cashier`` naming the cashier's kind and
    reference for it (404 for a loan the caller does not read, 403 for one they may not repay)."""
    loan = servicing._loan_for(subject, loan_id, lock=False, product=False)
    ref = ref_for(loan.pk, amount_fen=amount_fen, option=option, payoff=payoff)
    return Conflict("pay-at-cashier", "还款须在收银台支付：以该类型和编号创建支付单（POST /api/v1/payments/intents）",
                    "Repayments are paid at the cashier: open an intent for this kind and reference "
                    "(POST /api/v1/payments/intents)", kind=REPAYMENT_KIND, ref=ref)
