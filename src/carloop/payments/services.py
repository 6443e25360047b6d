"""The cashier's commands: create and confirm payment intents, book what providers confirm, expire, cancel,
recover missing notifications, refund, and match bank transfers.

Every command locks the intent row (``SELECT … FOR UPDATE``) and moves money only through the ledger inside the
same transaction, so the intent's state and its ledger movements commit together. Transfer ids derive from the
intent, tender and refund ids (``payments:<intent>:t<position>:hold`` …): a retried command never moves twice.

Money paths (codes 6000–6999, see docs/payments.md):
* an internal tender holds its amount (pending transfer, tender account → the payable's destination account);
* the external method's money is booked when the provider confirms it (a verified notification, a query, or a
  matched bank statement line): provider receipt (``external`` → the method's clearing account) and its move to
  the destination, linked with the posts of every internal hold: all post, or none;
* an intent that closes unpaid voids every hold; money a provider took after the intent closed is refunded.
"""

from __future__ import annotations

import contextlib
import csv
import io
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from carloop.core import audit, events, payables
from carloop.core.authz import Subject
from carloop.core.bulk import update_rows
from carloop.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Problem
from carloop.core.money import parse_yuan
from carloop.ledger import services as ledger
from carloop.ledger.contracts import TransferSpec
from carloop.payments import providers, selectors, withholding
from carloop.payments.bank_transfer import BANK_TRANSFER
from carloop.payments.models import (
    OPEN_STATES,
    BankLineState,
    BankStatementLine,
    IntentState,
    NotificationOutcome,
    PaymentIntent,
    ProviderNotification,
    Refund,
    RefundPart,
    RefundState,
    Tender,
    TenderState,
)
from carloop.payments.simulator import SIMULATOR

CODE_PROVIDER_RECEIPT = 6001  # external → a method's clearing account: the provider (or bank) confirmed money
CODE_TO_DESTINATION = 6002  # clearing → the payable's destination: the external tender's share of a paid intent
CODE_TENDER_HOLD = 6010  # internal tender account → destination, pending until the intent succeeds (posted) or not (voided)
CODE_REFUND_INTERNAL = 6020  # destination → internal tender account
CODE_REFUND_HOLD = 6021  # destination → clearing, pending until the provider confirms the refund
CODE_PROVIDER_REFUND = 6022  # clearing → external: the provider paid the money back

BANK_TRANSFER_TTL = timedelta(days=3)
HOLD_BACKSTOP = timedelta(days=1)  # the ledger voids a forgotten hold this long after its intent expired
FINANCE_ROLES = ("finance_ops",)

providers.register(SIMULATOR)
providers.register(BANK_TRANSFER)
withholding.register(SIMULATOR)


@dataclass(frozen=True)
class TenderRequest:
    kind: str
    amount_fen: int
    instrument: str = ""


# ------------------------------------------------------------------------------------------------- helpers


def _tid(intent: PaymentIntent, tender: Tender, step: str) -> str:
    return f"payments:{intent.pk}:t{tender.position}:{step}"


def _lock(intent_id: uuid.UUID | str) -> PaymentIntent:
    intent = PaymentIntent.objects.select_for_update().filter(pk=intent_id).first()
    if intent is None:
        raise NotFound()
    return intent


def may_pay(subject: Subject, payer_user_id: uuid.UUID | None, payer_org_id: uuid.UUID | None) -> bool:
    if payer_user_id is not None and subject.kind == "customer" and subject.user_id == payer_user_id:
        return True
    return payer_org_id is not None and subject.in_org(payer_org_id, "enterprise_admin")


def _readable(subject: Subject, intent: PaymentIntent) -> bool:
    return may_pay(subject, intent.payer_id, intent.payer_org_id) or subject.has_role("finance_ops", "ops")


def _kind(kind: str) -> payables.PayableKind:
    registered = payables.payable_kind(kind)
    if registered is None:
        raise Invalid("unknown-payable-kind", "未知的支付类型", "Unknown payable kind",
                      [FieldError("/kind", "未知的支付类型", "Unknown payable kind")])
    return registered


def _adapter(name: str) -> providers.ProviderAdapter:
    adapter = providers.get(name)
    if adapter is None:
        raise Invalid("unknown-method", "不支持的支付方式", "Unsupported payment method",
                      [FieldError("/method", "不支持的支付方式", "Unsupported payment method")])
    return adapter


def _record(intent: PaymentIntent, actor: str, action: str, **data: Any) -> None:
    audit.record(actor, f"payments.intent.{action}", "payments.intent", intent.pk, {"state": intent.state, **data})


def _publish(intent: PaymentIntent, what: str, actor: str, **payload: Any) -> None:
    events.publish(f"payments.intent.{what}", f"payments:intent:{intent.pk}",
                   {"kind": intent.kind, "ref": intent.ref, "amount_fen": intent.amount_fen, **payload}, actor=actor)


# --------------------------------------------------------------------------------------------- create, confirm


def create_intent(*, kind: str, ref: str, subject: Subject, actor: str) -> PaymentIntent:
    """An intent to pay what ``kind``/``ref`` owes now. One open intent per payable: asking again while one is
    open returns it (a reloaded checkout)."""
    registered = _kind(kind)
    payable = registered.lookup(ref)
    if payable is None or not may_pay(subject, payable.payer_user_id, payable.payer_org_id):
        raise NotFound()
    if payable.amount_due_fen <= 0:
        raise Conflict("nothing-due", "当前没有应付款项", "Nothing is due on this now")
    return _open_intent(kind, ref, payable, actor)


def _open_intent(kind: str, ref: str, payable: payables.Payable, actor: str) -> PaymentIntent:
    open_intent = PaymentIntent.objects.filter(kind=kind, ref=ref, state__in=OPEN_STATES).first()
    if open_intent is not None:
        return open_intent
    try:
        with transaction.atomic():
            intent = PaymentIntent.objects.create(
                kind=kind, ref=ref, payer_id=payable.payer_user_id, payer_org_id=payable.payer_org_id,
                amount_fen=payable.amount_due_fen, destination_account_id=payable.destination_account,
                merchant=payable.merchant, title_zh=payable.title_zh[:200], title_en=payable.title_en[:200],
                expires_at=timezone.now() + timedelta(minutes=settings.PAYMENTS_INTENT_TTL_MINUTES), created_by=actor)
            _record(intent, actor, "created", amount_fen=intent.amount_fen)
    except IntegrityError:  # a concurrent request opened it first
        existing = PaymentIntent.objects.filter(kind=kind, ref=ref, state__in=OPEN_STATES).first()
        if existing is None:
            raise
        return existing
    return intent


def open_bank_transfer(*, kind: str, ref: str, actor: str) -> PaymentIntent:
    """Finance operations expect a bank transfer (对公转账) for a payable nobody pays at a checkout (a funder's
    capital): an intent showing our receiving account and its reference, booked when a statement line matches."""
    payable = _kind(kind).lookup(ref)
    if payable is None:
        raise NotFound()
    if payable.amount_due_fen <= 0:
        raise Conflict("nothing-due", "当前没有应付款项", "Nothing is due on this now")
    with transaction.atomic():
        intent = _lock(_open_intent(kind, ref, payable, actor).pk)
        if intent.state == IntentState.CREATED:
            _open_external(intent, BANK_TRANSFER, intent.amount_fen, position=1, actor=actor)
        elif intent.method != BANK_TRANSFER.name:
            raise Conflict("intent-in-progress", "该款项正在以其他方式支付", "This is being paid another way", state=intent.state)
        return intent


def confirm_deposit(*, kind: str, ref: str, bank_txn_id: str, value_date: date, actor: str) -> PaymentIntent:
    """Finance operations confirm money that reached our bank account for a payable, quoting the bank's
    transaction id: it becomes a statement line matched by them, which books the payable's bank-transfer intent
    (opened for it if need be). A transaction id already recorded is a 409."""
    with transaction.atomic():
        intent = open_bank_transfer(kind=kind, ref=ref, actor=actor)
        line, created = BankStatementLine.objects.get_or_create(bank_txn_id=bank_txn_id[:64], defaults={
            "value_date": value_date, "amount_fen": intent.amount_fen, "reference": intent.reference or "",
            "payer_name": "", "state": BankLineState.UNMATCHED, "imported_by": actor})
        if not created:
            raise Conflict("bank-line-exists", "该银行流水已登记", "This bank transaction is already recorded")
        outcome = _match(line, intent, actor)
        if outcome != NotificationOutcome.BOOKED:
            raise Conflict("deposit-not-booked", "到账未能入账", "The deposit could not be booked", outcome=str(outcome))
        intent.refresh_from_db()
        return intent


def parse_tenders(raw: list[dict[str, Any]]) -> list[TenderRequest]:
    tenders = []
    for index, item in enumerate(raw):
        kind = str(item.get("kind", ""))
        if kind not in payables.INTERNAL_TENDERS or payables.tender_source(kind) is None:
            raise Invalid("unknown-tender", "不支持的支付工具", "Unsupported tender",
                          [FieldError(f"/tenders/{index}/kind", "不支持的支付工具", "Unsupported tender")])
        amount = parse_yuan(item.get("amount", ""), field=f"tenders.{index}.amount")
        tenders.append(TenderRequest(kind=kind, amount_fen=amount, instrument=str(item.get("instrument", ""))[:100]))
    return tenders


def confirm(*, intent_id: uuid.UUID | str, subject: Subject, tenders: list[TenderRequest], method: str,
            actor: str) -> PaymentIntent:
    """Apply the tenders (in the stated order: coupons → points → e-cards → credit line) as holds and hand the
    rest to one external method. Fully covered by internal tenders, the intent succeeds at once."""
    with transaction.atomic():
        intent = _lock(intent_id)
        if not _readable(subject, intent):
            raise NotFound()
        if not may_pay(subject, intent.payer_id, intent.payer_org_id):
            raise Forbidden("只有付款人可以支付", "Only the payer may pay this")
        if intent.state != IntentState.CREATED:
            raise Conflict("intent-not-confirmable", "该支付已提交或已结束", "This payment was already submitted or has ended",
                           state=intent.state)
        if intent.expires_at <= timezone.now():
            raise Conflict("intent-expired", "该支付已过期，请重新发起", "This payment has expired; start again")
        ordered = sorted(tenders, key=lambda tr: payables.TENDER_ORDER.index(tr.kind))
        internal = sum(tr.amount_fen for tr in ordered)
        if internal > intent.amount_fen:
            raise Invalid("tenders-exceed-amount", "支付工具金额之和超过应付金额", "The tenders add up to more than is due",
                          [FieldError("/tenders", "金额之和超过应付金额", "Sum exceeds the amount due")])
        remainder = intent.amount_fen - internal
        adapter = _adapter(method) if remainder else None
        if remainder and method == "bank_transfer" and intent.payer_org_id is None:
            raise Invalid("method-not-allowed", "对公转账仅限企业付款", "Bank transfer is for enterprise payers",
                          [FieldError("/method", "对公转账仅限企业付款", "Bank transfer is for enterprise payers")])
        payable = _kind(intent.kind).lookup(intent.ref)
        if payable is None or payable.amount_due_fen != intent.amount_fen:
            raise Conflict("amount-due-changed", "应付金额已变化，请重新发起支付", "The amount due has changed; start again")
        # The ledger's row locks (the destination, shared by every payer of a merchant) are taken last, so that
        # they are held for the shortest time before the commit.
        if adapter is None:
            _place_holds(intent, ordered, actor)
            _settle(intent, actor, note="internal tenders only")
            return intent
        order_no = _open_external(intent, adapter, remainder, position=len(ordered) + 1, actor=actor)
        try:
            _place_holds(intent, ordered, actor)
        except Problem:
            with contextlib.suppress(providers.ProviderUnavailable):
                adapter.close(order_no)  # the provider's order must not stay payable; ours rolls back
            raise
        return intent


def _place_holds(intent: PaymentIntent, ordered: list[TenderRequest], actor: str) -> None:
    timeout = int((intent.expires_at - timezone.now() + HOLD_BACKSTOP).total_seconds())
    specs, rows = [], []
    for position, request in enumerate(ordered, start=1):
        source = payables.tender_source(request.kind)
        assert source is not None  # parse_tenders checked it
        account = source.account(intent.payer_id, request.instrument)
        tender = Tender(intent=intent, position=position, kind=request.kind, instrument=request.instrument,
                        amount_fen=request.amount_fen, source_account_id=account, state=TenderState.HELD)
        rows.append(tender)
        specs.append(TransferSpec(id=_tid(intent, tender, "hold"), debit=account, credit=intent.destination_account_id,
                                amount_fen=request.amount_fen, code=CODE_TENDER_HOLD, pending=True, timeout_seconds=timeout,
                                memo=f"{intent.kind} {intent.ref} {request.kind}", actor=actor))
    if specs:
        Tender.objects.bulk_create(rows)
        ledger.transfer_batch(specs)  # all holds or none (409 insufficient-funds names the tender)


def _open_external(intent: PaymentIntent, adapter: providers.ProviderAdapter, amount_fen: int, *, position: int,
                   actor: str) -> str:
    """Create the provider's order for the external tender; returns its order number."""
    if adapter.name == "bank_transfer":
        intent.expires_at = timezone.now() + BANK_TRANSFER_TTL
        intent.reference = "CL" + uuid.uuid4().hex[:10].upper()
    tender = Tender(intent=intent, position=position, kind="external", amount_fen=amount_fen,
                    source_account_id=ledger.system_account(adapter.clearing_account).id, state=TenderState.AWAITING,
                    provider=adapter.name)
    tender.provider_order_no = intent.reference or tender.pk.hex
    try:
        order = adapter.create_order(order_no=tender.provider_order_no, amount_fen=amount_fen,
                                     description=intent.title_zh or intent.kind, expires_at=intent.expires_at)
    except providers.ProviderUnavailable:
        raise Problem(503, "provider-unavailable", "支付渠道暂时不可用，请稍后再试",
                      "The payment provider is unavailable; try again shortly") from None
    tender.pay_url = order.pay_url
    tender.save()
    intent.method = adapter.name
    intent.start_processing()
    intent.save(update_fields=["state", "method", "expires_at", "reference", "updated_at"])
    _record(intent, actor, "processing", method=adapter.name, external_fen=amount_fen)
    return tender.provider_order_no


def _settle(intent: PaymentIntent, actor: str, *, note: str, receipt: tuple[Tender, str] | None = None) -> None:
    """Mark the intent paid, post every hold (and book the external tender's money) in one linked batch and tell
    the payable's owner. Raises the ledger's Problem when a hold can no longer be posted (the caller's savepoint
    then undoes the rest). The ledger batch comes after the cashier's own writes, so that the accounts' row locks
    are held only for the owner's on_paid (which may move the money on) and the commit."""
    specs = []
    tenders = list(intent.tenders.order_by("position"))
    for tender in tenders:
        if tender.state == TenderState.HELD:
            specs.append(TransferSpec(id=_tid(intent, tender, "post"), post_pending_id=_tid(intent, tender, "hold"), actor=actor))
    if receipt is not None:
        tender, txn_id = receipt
        specs.append(_receipt_spec(intent, tender, actor))
        specs.append(_settle_spec(intent, tender, actor))
        tender.provider_txn_id = txn_id
    Tender.objects.filter(intent=intent).update(state=TenderState.POSTED, updated_at=timezone.now())
    if receipt is not None:
        Tender.objects.filter(pk=receipt[0].pk).update(provider_txn_id=receipt[1], received_at=timezone.now())
    intent.succeed()
    intent.succeeded_at = timezone.now()
    intent.save(update_fields=["state", "succeeded_at", "updated_at"])
    _record(intent, actor, "succeeded", note=note)
    _publish(intent, "succeeded", actor)
    ledger.transfer_batch(specs)
    _kind(intent.kind).on_paid(payables.Paid(kind=intent.kind, ref=intent.ref, intent_id=intent.pk,
                                             amount_fen=intent.amount_fen, actor=actor))


def _receipt_spec(intent: PaymentIntent, tender: Tender, actor: str, external: uuid.UUID | None = None) -> TransferSpec:
    return TransferSpec(id=_tid(intent, tender, "receipt"), debit=external or ledger.system_account("external").id,
                      credit=tender.source_account_id, amount_fen=tender.amount_fen, code=CODE_PROVIDER_RECEIPT,
                      memo=f"{tender.provider} {tender.provider_order_no}", actor=actor)


def _settle_spec(intent: PaymentIntent, tender: Tender, actor: str) -> TransferSpec:
    return TransferSpec(id=_tid(intent, tender, "settle"), debit=tender.source_account_id,
                        credit=intent.destination_account_id, amount_fen=tender.amount_fen, code=CODE_TO_DESTINATION,
                        memo=f"{intent.kind} {intent.ref} {tender.provider}", actor=actor)


def _close_unpaid(intent: PaymentIntent, target: str, actor: str, reason: str = "") -> None:
    """Void every hold and close the intent as failed, expired or cancelled."""
    held = list(intent.tenders.filter(state=TenderState.HELD).order_by("position"))
    specs = [TransferSpec(id=_tid(intent, t, "void"), void_pending_id=_tid(intent, t, "hold"), actor=actor) for t in held]
    for spec in specs:  # one by one: a hold the ledger's backstop already voided is no error
        try:
            ledger.submit(spec)
        except Problem as exc:
            if exc.slug != "pending-already-resolved":
                raise
    now = timezone.now()
    intent.tenders.filter(state__in=[TenderState.HELD, TenderState.AWAITING]).update(state=TenderState.VOIDED, updated_at=now)
    {"failed": intent.fail, "expired": intent.expire, "cancelled": intent.cancel}[target]()
    intent.closed_at, intent.failure = now, reason[:200]
    intent.save(update_fields=["state", "closed_at", "failure", "updated_at"])
    _record(intent, actor, target, reason=reason)
    _publish(intent, target, actor)


# ------------------------------------------------------------------------------------- external confirmations


def _locked_order(provider: str, order_no: str) -> tuple[PaymentIntent, Tender] | None:
    """The intent and tender of one of our provider orders, both row-locked (intent first); None when unknown."""
    tender = Tender.objects.filter(provider=provider, provider_order_no=order_no).first()
    if tender is None:
        return None
    intent = _lock(tender.intent_id)
    return intent, Tender.objects.select_for_update().get(pk=tender.pk)


def book_external_payment(*, provider: str, order_no: str, amount_fen: int, txn_id: str, actor: str) -> str:
    """Book money a provider confirmed for one of our orders (a verified notification, a query, a bank line).
    Idempotent: returns the outcome (``booked``, ``duplicate``, ``unknown``, ``mismatch``, ``late_refunded``)."""
    with transaction.atomic():
        found = _locked_order(provider, order_no)
        if found is None:
            return NotificationOutcome.UNKNOWN
        intent, tender = found
        if tender.state != TenderState.AWAITING and not (
                tender.state == TenderState.VOIDED and not intent.is_open):
            return NotificationOutcome.DUPLICATE
        if amount_fen != tender.amount_fen:
            _record(intent, actor, "amount_mismatch", order_no=order_no, notified_fen=amount_fen)
            return NotificationOutcome.MISMATCH
        return _book_locked(intent, tender, txn_id, actor)


@dataclass(frozen=True)
class Confirmation:
    """A provider's word that one of our orders was paid."""

    order_no: str
    amount_fen: int
    txn_id: str


def book_external_payments(*, provider: str, confirmations: list[Confirmation], actor: str) -> list[str]:
    """Book many confirmed payments of one provider at once (withholding notifications, in chunks): in one
    transaction, the intents and tenders locked in two statements, every provider receipt and its move to the
    destination and the owners' own transfers (``on_paid_many``) in one linked ledger batch, the rows written a
    statement per table. What the batch cannot take (an intent with internal holds, a kind without
    ``on_paid_many``, a duplicate, a mismatch, a closed intent, an owner refusing one of them) is booked one by one
    by :func:`book_external_payment`, which says why. Returns each confirmation's outcome, in order."""
    first = {c.order_no: c for c in reversed(confirmations)}  # a repeated order: its first confirmation
    try:
        with transaction.atomic():
            booked = _book_batch(provider, list(first.values()), actor)
    except Problem:
        booked = set()
    outcomes: list[str] = []
    for c in confirmations:
        if c.order_no in booked:
            booked.discard(c.order_no)  # booked in the batch; a repeat of it is a duplicate, said by the single path
            outcomes.append(NotificationOutcome.BOOKED)
        else:
            outcomes.append(book_external_payment(provider=provider, order_no=c.order_no, amount_fen=c.amount_fen,
                                                  txn_id=c.txn_id, actor=actor))
    return outcomes


def _book_batch(provider: str, confirmations: list[Confirmation], actor: str) -> set[str]:
    """Book what can be booked together; returns those orders (the rest is left to the single path)."""
    by_order = {c.order_no: c for c in confirmations}
    ids = Tender.objects.filter(provider=provider, provider_order_no__in=by_order).values_list("intent_id", flat=True)
    intents = {i.pk: i for i in PaymentIntent.objects.select_for_update().filter(pk__in=list(ids)).order_by("pk")}
    tenders: dict[uuid.UUID, list[Tender]] = {}
    for tender in Tender.objects.select_for_update().filter(intent_id__in=intents).order_by("intent_id", "position"):
        tenders.setdefault(tender.intent_id, []).append(tender)
    now = timezone.now()
    ready: list[tuple[PaymentIntent, Tender, Confirmation]] = []
    for intent_id, rows in tenders.items():
        intent, tender = intents[intent_id], rows[0]
        confirmation = by_order.get(tender.provider_order_no or "")
        if (len(rows) != 1 or confirmation is None or tender.state != TenderState.AWAITING or not intent.is_open
                or confirmation.amount_fen != tender.amount_fen or _kind(intent.kind).on_paid_many is None):
            continue
        tender.state, tender.provider_txn_id, tender.received_at, tender.updated_at = (
            TenderState.POSTED, confirmation.txn_id, now, now)
        intent.succeed()
        intent.succeeded_at = intent.updated_at = now
        ready.append((intent, tender, confirmation))
    if not ready:
        return set()
    external = ledger.system_account("external").id
    specs = [spec for intent, tender, _ in ready
             for spec in (_receipt_spec(intent, tender, actor, external), _settle_spec(intent, tender, actor))]
    for name in {intent.kind for intent, _, _ in ready}:
        on_paid_many = _kind(name).on_paid_many
        assert on_paid_many is not None
        specs += on_paid_many([payables.Paid(kind=i.kind, ref=i.ref, intent_id=i.pk, amount_fen=i.amount_fen, actor=actor)
                               for i, _, _ in ready if i.kind == name])
    update_rows([t for _, t, _ in ready], ["state", "provider_txn_id", "received_at", "updated_at"])
    update_rows([i for i, _, _ in ready], ["state", "succeeded_at", "updated_at"])
    audit.record_many(actor, "payments.intent.succeeded", "payments.intent",
                      [(i.pk, {"state": i.state, "note": f"{provider} {c.txn_id}"}) for i, _, c in ready])
    for intent, _, _ in ready:
        _publish(intent, "succeeded", actor)
    ledger.transfer_batch(specs)  # last: the hot accounts (external, clearing, the owners') are locked until commit only
    return {c.order_no for _, _, c in ready}


def fail_external_payment(*, provider: str, order_no: str, err_code: str, actor: str) -> str:
    """A provider said one of our orders failed (a withholding found not enough money): the intent fails and
    nothing is booked. Idempotent: ``failed``, or ``duplicate`` once the order is no longer awaited."""
    with transaction.atomic():
        found = _locked_order(provider, order_no)
        if found is None:
            return NotificationOutcome.UNKNOWN
        intent, tender = found
        if tender.state != TenderState.AWAITING or not intent.is_open:
            return NotificationOutcome.DUPLICATE
        _close_unpaid(intent, "failed", actor, reason=err_code or "PAYERROR")
        return NotificationOutcome.FAILED


def _book_locked(intent: PaymentIntent, tender: Tender, txn_id: str, actor: str) -> str:
    """Book a confirmed external payment on a locked intent: settle it while open; otherwise (or when a hold
    cannot be posted, or the owner refuses it) the intent fails and the money is refunded."""
    if intent.is_open:
        try:
            with transaction.atomic():
                _settle(intent, actor, note=f"{tender.provider} {txn_id}", receipt=(tender, txn_id))
            return NotificationOutcome.BOOKED
        except Problem as exc:
            intent.refresh_from_db()  # the savepoint rolled back whatever _settle had changed
            _close_unpaid(intent, "failed", actor, reason=exc.slug)
    _receive_late(intent, tender, txn_id, actor)
    return NotificationOutcome.LATE_REFUNDED


def _receive_late(intent: PaymentIntent, tender: Tender, txn_id: str, actor: str) -> None:
    """Money arrived for an intent that had closed unpaid: book it into clearing and refund it in full."""
    ledger.submit(_receipt_spec(intent, tender, actor))
    tender.state, tender.provider_txn_id, tender.received_at = TenderState.RECEIVED_LATE, txn_id, timezone.now()
    tender.save(update_fields=["state", "provider_txn_id", "received_at", "updated_at"])
    refund = Refund.objects.create(intent=intent, amount_fen=tender.amount_fen, reason="过期后到账自动退款 / paid after expiry",
                                   late=True, created_by=actor)
    part = RefundPart.objects.create(refund=refund, tender=tender, amount_fen=tender.amount_fen,
                                     provider_refund_no=f"R{uuid.uuid4().hex[:31]}")
    _record(intent, actor, "paid_late", refund_id=str(refund.pk), amount_fen=tender.amount_fen)
    _request_provider_refund(intent, refund, part, tender, actor)
    _finish_refund(refund, intent, actor)


def handle_notification(provider: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
    """Verify, log and book one provider notification; returns the answer (status, body) for the provider.
    Bad signatures and unknown shapes change nothing; replays are answered without booking twice."""
    adapter = providers.get(provider)
    if adapter is None:
        raise NotFound()
    text = body.decode("utf-8", "replace")[:20000]
    try:
        note = adapter.verify(body, headers)
    except providers.BadSignature:
        ProviderNotification.objects.create(provider=provider, body=text, signature_valid=False,
                                            outcome=NotificationOutcome.BAD_SIGNATURE)
        return adapter.answer(False)
    except providers.MalformedNotification:
        ProviderNotification.objects.create(provider=provider, body=text, signature_valid=True,
                                            outcome=NotificationOutcome.MALFORMED)
        return adapter.answer(False)
    outcome = _handle_verified(provider, note)
    tender = Tender.objects.filter(provider=provider, provider_order_no=note.order_no).only("intent_id").first()
    ProviderNotification.objects.create(provider=provider, body=text, signature_valid=True, outcome=outcome,
                                        order_no=note.order_no[:40], intent_id=tender.intent_id if tender else None)
    return adapter.answer(outcome != NotificationOutcome.MISMATCH)


def handle_notifications(provider: str, received: list[tuple[bytes, Mapping[str, str]]], *, chunk: int = 100) -> dict[str, int]:
    """Verify, log and book many notifications of one provider (a queue of withholding answers): payments in
    chunks of ``chunk`` through :func:`book_external_payments`, anything else one by one as
    :func:`handle_notification` does. Returns the count of each outcome."""
    adapter = providers.get(provider)
    if adapter is None:
        raise NotFound()
    logs: list[ProviderNotification] = []
    paid: list[tuple[providers.Notification, str]] = []
    for body, headers in received:
        text = body.decode("utf-8", "replace")[:20000]
        try:
            note = adapter.verify(body, headers)
        except (providers.BadSignature, providers.MalformedNotification) as exc:
            bad = isinstance(exc, providers.BadSignature)
            logs.append(ProviderNotification(provider=provider, body=text, signature_valid=not bad,
                                             outcome=NotificationOutcome.BAD_SIGNATURE if bad else NotificationOutcome.MALFORMED))
            continue
        if note.event == "payment" and note.status == "SUCCESS":
            paid.append((note, text))
        else:
            logs.append(ProviderNotification(provider=provider, body=text, signature_valid=True, order_no=note.order_no[:40],
                                             outcome=_handle_verified(provider, note)))
    for start in range(0, len(paid), chunk):
        part = paid[start:start + chunk]
        outcomes = book_external_payments(provider=provider, actor=f"provider:{provider}", confirmations=[
            Confirmation(order_no=n.order_no, amount_fen=n.amount_fen, txn_id=n.txn_id) for n, _ in part])
        logs += [ProviderNotification(provider=provider, body=text, signature_valid=True, outcome=outcome,
                                      order_no=n.order_no[:40]) for (n, text), outcome in zip(part, outcomes, strict=True)]
    intent_of = dict(Tender.objects.filter(provider=provider, provider_order_no__in={log.order_no for log in logs if log.order_no})
                     .values_list("provider_order_no", "intent_id"))
    for log in logs:
        log.intent_id = intent_of.get(log.order_no)
    ProviderNotification.objects.bulk_create(logs)
    counts: dict[str, int] = {}
    for log in logs:
        counts[log.outcome] = counts.get(log.outcome, 0) + 1
    return counts


def _handle_verified(provider: str, note: providers.Notification) -> str:
    actor = f"provider:{provider}"
    if note.event == "refund":
        outcome = confirm_provider_refund(refund_no=note.refund_no, actor=actor)
    elif note.status == "PAYERROR":
        outcome = fail_external_payment(provider=provider, order_no=note.order_no, err_code=note.err_code, actor=actor)
    elif note.status != "SUCCESS":
        outcome = NotificationOutcome.NOT_PAID
    else:
        outcome = book_external_payment(provider=provider, order_no=note.order_no, amount_fen=note.amount_fen,
                                        txn_id=note.txn_id, actor=actor)
    return outcome


# -------------------------------------------------------------------------------------- cancel, expire, recover


def cancel(*, intent_id: uuid.UUID | str, subject: Subject, actor: str) -> PaymentIntent:
    """Cancel an open intent (the payer, or finance operations). A payment the provider had already taken
    wins: the intent is then answered as succeeded."""
    with transaction.atomic():
        intent = _lock(intent_id)
        if not _readable(subject, intent):
            raise NotFound()
        if not (may_pay(subject, intent.payer_id, intent.payer_org_id) or subject.has_role("finance_ops")):
            raise Forbidden()
        if not intent.is_open:
            raise Conflict("intent-closed", "该支付已结束", "This payment has already ended", state=intent.state)
        if _close_at_provider(intent, actor):
            return intent
        _close_unpaid(intent, "cancelled", actor)
        return intent


def _close_at_provider(intent: PaymentIntent, actor: str) -> bool:
    """Close the intent's provider order; True when the provider says it was paid (and it is now booked)."""
    tender = intent.tenders.filter(state=TenderState.AWAITING).first()
    adapter = providers.get(tender.provider) if tender else None
    if tender is None or adapter is None or tender.provider_order_no is None:
        return False
    try:
        result = adapter.close(tender.provider_order_no)
    except providers.ProviderUnavailable:
        return False  # closed on our side only; if the money comes anyway it is refunded on arrival
    if result.status == "SUCCESS" and result.amount_fen == tender.amount_fen:
        _book_locked(intent, tender, result.txn_id, actor)  # paid before the close: honoured (or refunded)
        return True
    return False


def expire_due(now: datetime | None = None, limit: int = 500) -> int:
    """Close open intents whose time is up (each in its own transaction); returns how many expired."""
    cutoff = now or timezone.now()
    due = list(PaymentIntent.objects.filter(state__in=OPEN_STATES, expires_at__lte=cutoff)
               .order_by("expires_at").values_list("pk", flat=True)[:limit])
    expired = 0
    for pk in due:
        with transaction.atomic():
            intent = _lock(pk)
            if not intent.is_open or intent.expires_at > cutoff:
                continue
            if _close_at_provider(intent, "system:expiry"):
                continue
            _close_unpaid(intent, "expired", "system:expiry")
            expired += 1
    return expired


def recover_missing_notifications(older_than: timedelta = timedelta(minutes=2), limit: int = 500) -> int:
    """Ask the providers about orders still awaiting payment (a notification that never came, or a crash between
    the provider's success and our booking) and book the paid ones, fail the failed ones (a withholding short of
    money), and send again a withholding the provider never received; returns how many were booked."""
    cutoff = timezone.now() - older_than
    awaiting = list(Tender.objects.filter(state=TenderState.AWAITING, created_at__lte=cutoff, intent__state=IntentState.PROCESSING)
                    .exclude(provider="bank_transfer")
                    .values_list("provider", "provider_order_no", "instrument", "amount_fen", "intent__title_zh")[:limit])
    booked = 0
    unsent: dict[str, list[providers.Debit]] = {}
    for provider, order_no, agreement_no, amount_fen, title in awaiting:
        adapter = providers.get(provider)
        if adapter is None or order_no is None:
            continue
        try:
            result = adapter.query(order_no)
        except providers.ProviderUnavailable:
            continue
        actor = f"system:query:{provider}"
        if result.status == "SUCCESS":
            outcome = book_external_payment(provider=provider, order_no=order_no, amount_fen=result.amount_fen,
                                            txn_id=result.txn_id, actor=actor)
            booked += outcome in (NotificationOutcome.BOOKED, NotificationOutcome.LATE_REFUNDED)
        elif result.status == "PAYERROR":
            fail_external_payment(provider=provider, order_no=order_no, err_code=result.err_code, actor=actor)
        elif result.status == "UNKNOWN" and agreement_no and withholding.provider(provider) is not None:
            unsent.setdefault(provider, []).append(providers.Debit(agreement_no=agreement_no, order_no=order_no,
                                                                   amount_fen=amount_fen, description=title))
    for provider, debits in unsent.items():
        withholding.send(provider, debits)
    return booked


# ------------------------------------------------------------------------------------------------------ refunds


def refund(*, intent_id: uuid.UUID | str, amount_fen: int, reason: str, actor: str, by_owner: bool = False) -> Refund:
    """Refund part or all of a paid intent, back to the tenders that paid it in the reverse of the tender order
    (the external method first, coupons last). Each tender's part has its own state. A kind its owner refunds
    (``refunded_by_owner``) is refunded only through :func:`refund_payable`."""
    with transaction.atomic():
        intent = _lock(intent_id)
        if _kind(intent.kind).refunded_by_owner and not by_owner:
            raise Conflict("refund-through-owner", "该款项须由业务方办理退款（如取消订单）",
                           "This payment is refunded through what it paid for (e.g. cancelling the order)")
        if intent.state != IntentState.SUCCEEDED:
            raise Conflict("intent-not-paid", "只能退款已支付的款项", "Only a paid intent can be refunded", state=intent.state)
        if amount_fen <= 0 or amount_fen > intent.amount_fen - intent.refunded_fen:
            raise Invalid("refund-exceeds-paid", "退款金额超过可退金额", "The refund exceeds what is left to refund",
                          [FieldError("/amount", "退款金额超过可退金额", "Exceeds the refundable amount")],
                          refundable=str(intent.amount_fen - intent.refunded_fen))
        refund_row = Refund.objects.create(intent=intent, amount_fen=amount_fen, reason=reason[:200], created_by=actor)
        left = amount_fen
        tenders = sorted(intent.tenders.select_for_update(), key=lambda t: -t.position)
        for tender in tenders:
            take = min(left, tender.amount_fen - tender.refunded_fen)
            if take <= 0:
                continue
            left -= take
            tender.refunded_fen += take
            tender.save(update_fields=["refunded_fen", "updated_at"])
            part = RefundPart.objects.create(refund=refund_row, tender=tender, amount_fen=take,
                                             provider_refund_no=f"R{uuid.uuid4().hex[:31]}" if tender.is_external else None)
            if tender.is_external:
                ledger.transfer(id=f"payments:refund:{part.pk}:hold", debit=intent.destination_account_id,
                                credit=tender.source_account_id, amount_fen=take, code=CODE_REFUND_HOLD, pending=True,
                                memo=f"refund {intent.ref}", actor=actor)
                _request_provider_refund(intent, refund_row, part, tender, actor)
            else:
                ledger.transfer(id=f"payments:refund:{part.pk}:move", debit=intent.destination_account_id,
                                credit=tender.source_account_id, amount_fen=take, code=CODE_REFUND_INTERNAL,
                                memo=f"refund {intent.ref} {tender.kind}", actor=actor)
                part.state, part.succeeded_at = RefundState.SUCCEEDED, timezone.now()
                part.save(update_fields=["state", "succeeded_at", "updated_at"])
            if left == 0:
                break
        intent.refunded_fen += amount_fen
        intent.save(update_fields=["refunded_fen", "updated_at"])
        _record(intent, actor, "refund_requested", refund_id=str(refund_row.pk), amount_fen=amount_fen)
        _finish_refund(refund_row, intent, actor)
        return refund_row


def refund_payable(*, kind: str, ref: str, amount_fen: int, reason: str, actor: str) -> list[Refund]:
    """The payable's owner returns ``amount_fen`` of what was paid for ``kind``/``ref`` (a cancelled car order's
    deposit or balance): refunds of its paid intents, oldest first, each back to its tenders. 409
    ``nothing-to-refund`` when the paid intents hold less. Runs in the caller's transaction."""
    refunds: list[Refund] = []
    left = amount_fen
    with transaction.atomic():
        paid = PaymentIntent.objects.filter(kind=kind, ref=ref, state=IntentState.SUCCEEDED).order_by("succeeded_at", "pk")
        for intent_id, amount, refunded in paid.values_list("pk", "amount_fen", "refunded_fen"):
            take = min(left, amount - refunded)
            if take > 0:
                refunds.append(refund(intent_id=intent_id, amount_fen=take, reason=reason, actor=actor, by_owner=True))
                left -= take
            if left == 0:
                break
        if left:
            raise Conflict("nothing-to-refund", "没有可退的已支付款项", "No paid payment is left to refund", missing_fen=str(left))
    return refunds


def _request_provider_refund(intent: PaymentIntent, refund_row: Refund, part: RefundPart, tender: Tender, actor: str) -> None:
    adapter = providers.get(tender.provider)
    if adapter is None or tender.provider_order_no is None or part.provider_refund_no is None:
        raise AssertionError(f"external tender {tender.pk} has no provider")
    try:
        result = adapter.refund(order_no=tender.provider_order_no, refund_no=part.provider_refund_no, amount_fen=part.amount_fen)
    except providers.ProviderUnavailable:
        return  # stays pending; the refund query job asks again
    if result.status == "SUCCESS":
        _complete_part(intent, part, tender, actor)


def _complete_part(intent: PaymentIntent, part: RefundPart, tender: Tender, actor: str) -> None:
    out = TransferSpec(id=f"payments:refund:{part.pk}:out", debit=tender.source_account_id,
                     credit=ledger.system_account("external").id, amount_fen=part.amount_fen, code=CODE_PROVIDER_REFUND,
                     memo=f"refund {tender.provider} {part.provider_refund_no}", actor=actor)
    if part.refund.late:
        ledger.submit(out)
    else:
        ledger.transfer_batch([TransferSpec(id=f"payments:refund:{part.pk}:post",
                                          post_pending_id=f"payments:refund:{part.pk}:hold", actor=actor), out])
    part.state, part.succeeded_at = RefundState.SUCCEEDED, timezone.now()
    part.save(update_fields=["state", "succeeded_at", "updated_at"])


def _finish_refund(refund_row: Refund, intent: PaymentIntent, actor: str) -> None:
    if refund_row.parts.exclude(state=RefundState.SUCCEEDED).exists():
        return
    refund_row.state, refund_row.completed_at = RefundState.SUCCEEDED, timezone.now()
    refund_row.save(update_fields=["state", "completed_at", "updated_at"])
    _record(intent, actor, "refunded", refund_id=str(refund_row.pk), amount_fen=refund_row.amount_fen, late=refund_row.late)
    if refund_row.late:
        return
    _kind(intent.kind).on_refunded(payables.Refunded(
        kind=intent.kind, ref=intent.ref, intent_id=intent.pk, refund_id=refund_row.pk, amount_fen=refund_row.amount_fen,
        refunded_total_fen=intent.refunded_fen, actor=actor))
    _publish(intent, "refunded", actor, refund_fen=refund_row.amount_fen, refunded_total_fen=intent.refunded_fen)


def retry_pending_refunds(older_than: timedelta = timedelta(minutes=2), limit: int = 500) -> int:
    """Ask again for provider refunds still pending (the request failed, or its notification never came);
    the provider answers a repeated refund number with the same refund. Returns how many completed."""
    cutoff = timezone.now() - older_than
    pending = list(RefundPart.objects.filter(state=RefundState.PENDING, created_at__lte=cutoff)
                   .exclude(provider_refund_no=None).values_list("pk", flat=True)[:limit])
    done = 0
    for pk in pending:
        with transaction.atomic():
            part = RefundPart.objects.select_related("refund", "tender").get(pk=pk)
            intent = _lock(part.refund.intent_id)
            part = RefundPart.objects.select_for_update().select_related("refund", "tender").get(pk=pk)
            if part.state != RefundState.PENDING:
                continue
            _request_provider_refund(intent, part.refund, part, part.tender, "system:refund-retry")
            if part.state == RefundState.SUCCEEDED:
                _finish_refund(part.refund, intent, "system:refund-retry")
                done += 1
    return done


def confirm_provider_refund(*, refund_no: str, actor: str) -> str:
    """A provider confirmed a refund: pay it out of clearing. Idempotent."""
    with transaction.atomic():
        part = RefundPart.objects.filter(provider_refund_no=refund_no).select_related("refund", "tender").first()
        if part is None:
            return NotificationOutcome.UNKNOWN
        intent = _lock(part.refund.intent_id)
        part = RefundPart.objects.select_for_update().select_related("refund", "tender").get(pk=part.pk)
        if part.state != RefundState.PENDING:
            return NotificationOutcome.DUPLICATE
        _complete_part(intent, part, part.tender, actor)
        _finish_refund(part.refund, intent, actor)
        return NotificationOutcome.REFUND_BOOKED


# --------------------------------------------------------------------------------------------- bank transfers

STATEMENT_COLUMNS = ("bank_txn_id", "value_date", "amount", "reference", "payer_name")


@dataclass(frozen=True)
class ImportResult:
    imported: int
    matched: int
    unmatched: int
    duplicates: int


def import_bank_statement(*, csv_text: str, actor: str) -> ImportResult:
    """Import incoming transfers from a bank statement (CSV with a header row: bank_txn_id, value_date
    (YYYY-MM-DD), amount (yuan), reference, payer_name). Lines already imported are skipped; each new line is
    matched to the bank-transfer intent whose reference it carries, when the amount is the one due."""
    reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
    missing = [c for c in STATEMENT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise Invalid("statement-columns", "对账单缺少列：" + ", ".join(missing), "Statement lacks columns: " + ", ".join(missing))
    lines = []
    for number, row in enumerate(reader, start=2):
        try:
            value_date = date.fromisoformat((row["value_date"] or "").strip())
        except ValueError:
            raise Invalid("statement-row", f"第 {number} 行日期无效", f"Line {number}: invalid date",
                          [FieldError(f"/lines/{number}/value_date", "日期无效", "Invalid date")]) from None
        amount = parse_yuan((row["amount"] or "").strip(), field=f"lines.{number}.amount")
        txn = (row["bank_txn_id"] or "").strip()
        if not txn or len(txn) > 64:
            raise Invalid("statement-row", f"第 {number} 行流水号无效", f"Line {number}: invalid bank transaction id",
                          [FieldError(f"/lines/{number}/bank_txn_id", "流水号无效", "Invalid id")])
        lines.append((txn, value_date, amount, (row["reference"] or "").strip()[:100], (row["payer_name"] or "").strip()[:200]))
    imported = matched = duplicates = 0
    with transaction.atomic():
        for txn, value_date, amount, reference, payer in lines:
            line, created = BankStatementLine.objects.get_or_create(
                bank_txn_id=txn, defaults={"value_date": value_date, "amount_fen": amount, "reference": reference,
                                           "payer_name": payer, "state": BankLineState.UNMATCHED, "imported_by": actor})
            if not created:
                duplicates += 1
                continue
            imported += 1
            intent = _intent_for_reference(reference)
            if intent is not None and _match(line, intent, actor) == NotificationOutcome.BOOKED:
                matched += 1
        audit.record(actor, "payments.bank_statement.imported", "payments.bank_statement", "-",
                     {"imported": imported, "matched": matched, "duplicates": duplicates})
    return ImportResult(imported=imported, matched=matched, unmatched=imported - matched, duplicates=duplicates)


def _intent_for_reference(reference: str) -> PaymentIntent | None:
    token = reference.upper()
    candidates = [w for w in token.replace("/", " ").replace(",", " ").split() if w.startswith("CL")]
    return PaymentIntent.objects.filter(Q(reference__in=candidates) | Q(reference=token)).first()


def _match(line: BankStatementLine, intent: PaymentIntent, actor: str) -> str:
    outcome = book_external_payment(provider="bank_transfer", order_no=intent.reference or "", amount_fen=line.amount_fen,
                                    txn_id=line.bank_txn_id, actor=actor)
    if outcome in (NotificationOutcome.BOOKED, NotificationOutcome.LATE_REFUNDED):
        line.state, line.intent, line.matched_by = BankLineState.MATCHED, intent, actor
        line.save(update_fields=["state", "intent", "matched_by", "updated_at"])
    return outcome


def match_bank_line(*, line_id: uuid.UUID | str, intent_id: uuid.UUID | str, actor: str) -> BankStatementLine:
    """Finance operations match an unmatched statement line to a bank-transfer intent by hand."""
    with transaction.atomic():
        line = BankStatementLine.objects.select_for_update().filter(pk=line_id).first()
        intent = PaymentIntent.objects.filter(pk=intent_id).first()
        if line is None or intent is None:
            raise NotFound()
        if line.state == BankLineState.MATCHED:
            raise Conflict("bank-line-matched", "该流水已匹配", "This statement line is already matched")
        if intent.method != "bank_transfer":
            raise Conflict("not-bank-transfer", "该支付不是对公转账", "This payment is not a bank transfer")
        outcome = _match(line, intent, actor)
        if outcome not in (NotificationOutcome.BOOKED, NotificationOutcome.LATE_REFUNDED):
            raise Conflict("bank-line-not-matching", "金额不符或该支付已入账", "Amount differs or the payment is already booked",
                           outcome=str(outcome))
        return line


# Finance operations' back-office commands for a caller (API, pages): each checks ``selectors.may_operate``, then
# acts as them.


def refund_for(subject: Subject, *, intent_id: uuid.UUID | str, amount_fen: int, reason: str) -> Refund:
    """A refund finance operations make: 404 unless the caller reads the intent, 403 unless they may operate."""
    selectors.get_intent(subject, intent_id)
    subject.require(selectors.may_operate(subject))
    if not reason.strip():
        raise Invalid("reason-required", "请填写退款原因", "A reason is required")
    return refund(intent_id=intent_id, amount_fen=amount_fen, reason=reason.strip(), actor=subject.ref)


def import_bank_statement_for(subject: Subject, *, csv_text: str) -> ImportResult:
    subject.require(selectors.may_operate(subject))
    return import_bank_statement(csv_text=csv_text, actor=subject.ref)


def match_bank_line_for(subject: Subject, *, line_id: uuid.UUID | str, intent_id: uuid.UUID | str) -> BankStatementLine:
    subject.require(selectors.may_operate(subject))
    return match_bank_line(line_id=line_id, intent_id=intent_id, actor=subject.ref)


def confirm_deposit_for(subject: Subject, *, kind: str, ref: str, bank_txn_id: str, value_date: date) -> PaymentIntent:
    subject.require(selectors.may_operate(subject))
    return confirm_deposit(kind=kind, ref=ref, bank_txn_id=bank_txn_id, value_date=value_date, actor=subject.ref)
