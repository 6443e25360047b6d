"""The cashier's queries. Every query for a caller starts from ``readable_by``."""

from __future__ import annotations

import uuid
from typing import TypeVar

from django.db.models import Model, Q, QuerySet

from carloop.core import authz
from carloop.core.authz import Subject
from carloop.core.errors import NotFound
from carloop.identity import selectors as identity
from carloop.ledger import selectors as ledger_q
from carloop.payments.models import (
    BankStatementLine,
    IntentState,
    PaymentIntent,
    Payout,
    PayoutBatch,
    PayoutState,
    ReconciliationRun,
    RefundPart,
    RefundState,
    SettlementContract,
    SettlementStatement,
    SimulatorOrder,
    StatementState,
    Tender,
    TenderState,
)

OPERATOR_ROLES = ("finance_ops", "ops")


def readable_by(subject: Subject) -> QuerySet[PaymentIntent]:
    """Payers see their own intents (enterprise admins their organisation's), finance and platform operations all."""
    qs = PaymentIntent.objects.all()
    if subject.kind == "operator" and subject.has_role(*OPERATOR_ROLES):
        return qs
    condition = Q(pk__in=[])
    if subject.kind == "customer" and subject.user_id is not None:
        condition |= Q(payer_id=subject.user_id)
    orgs = subject.org_ids("enterprise_admin")
    if orgs:
        condition |= Q(payer_org_id__in=orgs)
    return qs.filter(condition)


def get_intent(subject: Subject, intent_id: uuid.UUID | str) -> PaymentIntent:
    intent = readable_by(subject).filter(pk=intent_id).first()
    if intent is None:
        raise NotFound()
    return intent


def may_operate(subject: Subject) -> bool:
    """Finance operations run the cashier's back office: refunds, bank statements and deposits, reconciliation and
    settlement."""
    return subject.kind == "operator" and subject.has_role(authz.FINANCE_OPS)


def bank_lines_readable_by(subject: Subject) -> QuerySet[BankStatementLine]:
    return BankStatementLine.objects.all() if may_operate(subject) else BankStatementLine.objects.none()


def bank_lines(subject: Subject) -> QuerySet[BankStatementLine]:
    """The imported statement lines, for finance operations (403 for everyone else)."""
    subject.require(may_operate(subject))
    return bank_lines_readable_by(subject)


def simulator_order(order_no: str) -> SimulatorOrder | None:
    """The simulated provider's order behind its pay page: whoever holds the unguessable number may open it, as
    with a real QR code."""
    return SimulatorOrder.objects.filter(order_no=order_no).first()


def reconciliation_runs(subject: Subject) -> QuerySet[ReconciliationRun]:
    if may_operate(subject):
        return ReconciliationRun.objects.order_by("-day", "provider")
    return ReconciliationRun.objects.none()


# ------------------------------------------------------------------------------------------ settlement

MERCHANT_STAFF = (authz.DEALER_STAFF, authz.STORE_MANAGER, authz.SUPPLIER_STAFF)


M = TypeVar("M", bound=Model)


def _merchants_of(subject: Subject, qs: QuerySet[M]) -> QuerySet[M]:
    """All merchants' rows for finance and platform operations, a merchant's staff their own organisations'."""
    if subject.kind == "operator" and subject.has_role(*OPERATOR_ROLES):
        return qs
    return qs.filter(merchant_id__in=subject.org_ids(*MERCHANT_STAFF))


def _one(qs: QuerySet[M], pk: uuid.UUID | str) -> M:
    found = qs.filter(pk=pk).first()
    if found is None:
        raise NotFound()
    return found


def statements_readable_by(subject: Subject) -> QuerySet[SettlementStatement]:
    return _merchants_of(subject, SettlementStatement.objects.all())


def get_statement(subject: Subject, statement_id: uuid.UUID | str) -> SettlementStatement:
    return _one(statements_readable_by(subject), statement_id)


def contracts_readable_by(subject: Subject) -> QuerySet[SettlementContract]:
    return _merchants_of(subject, SettlementContract.objects.all())


# --------------------------------------------------------------------------------------------- payouts


def reads_batches(subject: Subject) -> bool:
    """Payout batches (several merchants each) are for finance and platform operations only."""
    return subject.kind == "operator" and subject.has_role(*OPERATOR_ROLES)


def batches_readable_by(subject: Subject) -> QuerySet[PayoutBatch]:
    return PayoutBatch.objects.all() if reads_batches(subject) else PayoutBatch.objects.none()


def get_batch(subject: Subject, batch_id: uuid.UUID | str) -> PayoutBatch:
    return _one(batches_readable_by(subject), batch_id)


def may_approve(subject: Subject, batch: PayoutBatch) -> bool:
    """Four-eyes: a finance operator other than the one who prepared the batch."""
    return may_operate(subject) and subject.user_id is not None and subject.user_id != batch.prepared_by_id


def payouts_readable_by(subject: Subject) -> QuerySet[Payout]:
    """Operations see every payout, a merchant's staff their own merchant's."""
    return _merchants_of(subject, Payout.objects.all())


def get_payout(subject: Subject, payout_id: uuid.UUID | str) -> Payout:
    return _one(payouts_readable_by(subject), payout_id)


def merchant_names(merchant_ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    names = {}
    for merchant_id in merchant_ids:
        org = identity.get_organisation(merchant_id)
        names[merchant_id] = org.name if org else ""
    return names


def clearing_balances() -> list[tuple[str, int]]:
    """The providers' clearing accounts (what the cashier holds for refunds not yet confirmed) and the fees."""
    out = []
    for key in ("system:payment_clearing", "system:platform_cash", "payments:provider_fees"):
        acct = ledger_q.account_by_key(key)
        out.append((key, ledger_q.balance(acct.id).balance_fen if acct else 0))
    return out


def external_tender(intent: PaymentIntent) -> Tender | None:
    return intent.tenders.filter(kind="external").first()


# ------------------------------------------------------------------------------ ledger movements equal state


def _exists(transfer_id: str) -> bool:
    return ledger_q.get_transfer(transfer_id) is not None


def ledger_discrepancies(intent: PaymentIntent) -> list[str]:
    """Where the intent's ledger movements disagree with its state and its tenders' and refunds' states
    (an empty list when they agree). Used by the tests after every scenario and by reconciliation."""
    problems: list[str] = []
    prefix = f"payments:{intent.pk}"
    tenders = list(intent.tenders.order_by("position"))
    for tender in tenders:
        base = f"{prefix}:t{tender.position}"
        held, posted, voided = _exists(f"{base}:hold"), _exists(f"{base}:post"), _exists(f"{base}:void")
        received, settled = _exists(f"{base}:receipt"), _exists(f"{base}:settle")
        if tender.is_external:
            want = {TenderState.AWAITING: (False, False), TenderState.VOIDED: (False, False),
                    TenderState.POSTED: (True, True), TenderState.RECEIVED_LATE: (True, False)}[TenderState(tender.state)]
            if (received, settled) != want:
                problems.append(f"t{tender.position} external {tender.state}: receipt={received} settle={settled}")
        else:
            want_i = {TenderState.HELD: (True, False, False), TenderState.POSTED: (True, True, False),
                      TenderState.VOIDED: (True, False, True)}[TenderState(tender.state)]
            if (held, posted, voided) != want_i:
                problems.append(f"t{tender.position} {tender.kind} {tender.state}: hold={held} post={posted} void={voided}")
    states = {t.state for t in tenders}
    if intent.state == IntentState.SUCCEEDED:
        if states != {TenderState.POSTED} or sum(t.amount_fen for t in tenders) != intent.amount_fen:
            problems.append(f"succeeded with tenders {sorted(states)} summing {sum(t.amount_fen for t in tenders)}")
    elif intent.state in (IntentState.FAILED, IntentState.EXPIRED, IntentState.CANCELLED):
        if states - {TenderState.VOIDED, TenderState.RECEIVED_LATE}:
            problems.append(f"{intent.state} with tenders {sorted(states)}")
    elif states - {TenderState.HELD, TenderState.AWAITING}:
        problems.append(f"{intent.state} with tenders {sorted(states)}")
    refunded = 0
    for part in RefundPart.objects.filter(refund__intent=intent).select_related("refund", "tender"):
        base = f"payments:refund:{part.pk}"
        moved: tuple[bool, ...]
        if part.refund.late:
            moved = (_exists(f"{base}:out"),)
            want_r: tuple[bool, ...] = (part.state == RefundState.SUCCEEDED,)
        elif part.tender.is_external:
            moved = (_exists(f"{base}:hold"), _exists(f"{base}:post"), _exists(f"{base}:out"))
            done = part.state == RefundState.SUCCEEDED
            want_r = (True, done, done)
        else:
            moved = (_exists(f"{base}:move"),)
            want_r = (True,)
        if moved != want_r:
            problems.append(f"refund part {part.pk} {part.state}: {moved}")
        if not part.refund.late:
            refunded += part.amount_fen
    if refunded != intent.refunded_fen:
        problems.append(f"refunded_fen {intent.refunded_fen} but refund parts sum {refunded}")
    for tender in tenders:
        parts = sum(p.amount_fen for p in tender.refund_parts.all() if not p.refund.late)
        if parts != tender.refunded_fen:
            problems.append(f"t{tender.position} refunded_fen {tender.refunded_fen} but parts sum {parts}")
    return problems


# ----------------------------------------------------------------------------- payouts equal the ledger

PAYOUT_MOVES = {PayoutState.PENDING: (False, False, False), PayoutState.CANCELLED: (False, False, False),
                PayoutState.PROCESSING: (True, False, False),
                PayoutState.PAID: (True, True, False), PayoutState.FAILED: (True, False, True)}
PAYOUT_STATEMENTS = {PayoutState.PENDING: StatementState.IN_PAYOUT, PayoutState.PROCESSING: StatementState.IN_PAYOUT,
                     PayoutState.PAID: StatementState.PAID}


def payout_discrepancies(payout: Payout) -> list[str]:
    """Where a payout's ledger transfers (hold, post, void) and its statements disagree with its state."""
    problems: list[str] = []
    base = f"payments:payout:{payout.pk}"
    moved = tuple(_exists(f"{base}:{step}") for step in ("hold", "post", "void"))
    if moved != PAYOUT_MOVES[PayoutState(payout.state)]:
        problems.append(f"payout {payout.payout_no} {payout.state}: hold/post/void={moved}")
    statements = list(payout.statements.all())
    if sum(s.net_fen for s in statements) != payout.amount_fen:
        problems.append(f"payout {payout.payout_no} of {payout.amount_fen} pays statements of "
                        f"{sum(s.net_fen for s in statements)}")
    want = PAYOUT_STATEMENTS.get(PayoutState(payout.state))
    for statement in statements:
        if want is not None and statement.state != want:
            problems.append(f"payout {payout.payout_no} {payout.state} with statement {statement.pk} {statement.state}")
        if payout.state in (PayoutState.FAILED, PayoutState.CANCELLED) and statement.state == StatementState.PAID and not statement.payouts.filter(
                state=PayoutState.PAID).exists():
            problems.append(f"{payout.state} payout {payout.payout_no}: statement {statement.pk} paid by no payout")
    return problems

