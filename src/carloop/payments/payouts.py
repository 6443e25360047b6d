"""Payouts: the platform pays merchants what their settlement statements say it owes.

Finance operations **prepare** a batch: every merchant whose unpaid statements' net adds up to at least its
contract's minimum payout (and more than zero) gets one payout of that sum; the statements are then in payout and
no other batch takes them. **Another** finance operator approves it (four-eyes: whoever prepared a batch cannot
approve it, 403 ``four-eyes``). On approval each payout's money is held in the ledger — a pending transfer from the
merchant's settlement account to ``external`` (6210) — and sent through the payout provider. The hold is posted
only when the provider's verified notification (or a query) says the payout arrived, and voided when it failed:
the statements are unpaid again and the next batch takes them. A prepared batch can be sent back instead
(:func:`reject`): nothing is paid and its statements are unpaid again. A payout whose result never came is asked after
(:func:`recover`, in the job ``payments.recover_notifications``); one the provider never received is sent again
under the same number.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from carloop.core import audit, events
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Invalid, NotFound, Problem
from carloop.identity import selectors as identity
from carloop.ledger import services as ledger
from carloop.payments import providers, selectors
from carloop.payments.models import (
    NotificationOutcome,
    Payout,
    PayoutBatch,
    PayoutBatchState,
    PayoutState,
    ProviderNotification,
    SettlementContract,
    SettlementStatement,
    StatementState,
)
from carloop.payments.settlement import merchant_account
from carloop.payments.simulator import PAYOUT_SIMULATOR

CODE_PAYOUT = 6210  # merchant settlement account → external, pending until the payout provider's word
PROVIDER = PAYOUT_SIMULATOR.name

providers.register_payout(PAYOUT_SIMULATOR)


def hold_id(payout: Payout, step: str = "hold") -> str:
    """The ledger transfer ids of a payout: ``…:hold`` (pending), ``…:post`` (paid), ``…:void`` (failed)."""
    return f"payments:payout:{payout.pk}:{step}"


# ----------------------------------------------------------------------------------------------- prepare


def prepare(subject: Subject, *, merchant_ids: list[uuid.UUID] | None = None, key: str | None = None) -> PayoutBatch:
    """Finance operations gather the unpaid statements of every merchant (or those named) into a batch awaiting
    a second operator's approval. 409 ``nothing-to-pay`` when no merchant is owed its minimum payout. ``key``
    (the request's idempotency key) makes a repeated request return the batch it made."""
    subject.require(selectors.may_operate(subject))
    assert subject.user_id is not None
    if key:
        made = PayoutBatch.objects.filter(request_key=key, prepared_by_id=subject.user_id).first()
        if made is not None:
            return made
    with transaction.atomic():
        unpaid = SettlementStatement.objects.select_for_update().filter(state=StatementState.UNPAID)
        if merchant_ids is not None:
            unpaid = unpaid.filter(merchant_id__in=merchant_ids)
        by_merchant: dict[uuid.UUID, list[SettlementStatement]] = defaultdict(list)
        for statement in unpaid.order_by("merchant_id", "period_end"):
            by_merchant[statement.merchant_id].append(statement)
        minimum = dict(SettlementContract.objects.filter(merchant_id__in=by_merchant)
                       .values_list("merchant_id", "minimum_payout_fen"))
        owed = {m: (sum(s.net_fen for s in rows), rows) for m, rows in by_merchant.items()}
        due = {m: (total, rows) for m, (total, rows) in owed.items() if total > 0 and total >= minimum.get(m, 0)}
        if not due:
            raise Conflict("nothing-to-pay", "没有达到最低付款额的待付结算单", "No merchant is owed its minimum payout")
        batch = PayoutBatch.objects.create(prepared_by_id=subject.user_id, total_fen=sum(t for t, _ in due.values()),
                                           request_key=key)
        for merchant_id, (total, rows) in due.items():
            payout = Payout.objects.create(batch=batch, merchant_id=merchant_id, amount_fen=total, provider=PROVIDER,
                                           payout_no="PO" + uuid.uuid4().hex[:30].upper())
            payout.statements.set(rows)
            SettlementStatement.objects.filter(pk__in=[s.pk for s in rows]).update(
                state=StatementState.IN_PAYOUT, updated_at=timezone.now())
        audit.record(subject.ref, "payments.payout.prepared", "payments.payout_batch", batch.pk,
                     {"payouts": len(due), "total_fen": batch.total_fen})
        return batch


# ----------------------------------------------------------------------------------------------- approve


def approve(subject: Subject, *, batch_id: uuid.UUID | str) -> PayoutBatch:
    """A second finance operator approves a prepared batch: each payout's money is held and the payouts are
    sent. Whoever prepared the batch cannot approve it (403 ``four-eyes``); a batch approved already is a 409."""
    with transaction.atomic():
        batch = _lock_prepared(subject, batch_id, four_eyes=True)
        external = ledger.system_account("external").id
        payouts = list(batch.payouts.select_for_update().order_by("merchant_id"))
        for payout in payouts:
            ledger.transfer(id=hold_id(payout), debit=merchant_account(payout.merchant_id), credit=external,
                            amount_fen=payout.amount_fen, code=CODE_PAYOUT, pending=True,
                            memo=f"payout {payout.payout_no}", actor=subject.ref)
        Payout.objects.filter(batch=batch).update(state=PayoutState.PROCESSING, updated_at=timezone.now())
        batch.state, batch.approved_by_id, batch.approved_at = PayoutBatchState.PROCESSING, subject.user_id, timezone.now()
        batch.save(update_fields=["state", "approved_by", "approved_at", "updated_at"])
        audit.record(subject.ref, "payments.payout.approved", "payments.payout_batch", batch.pk,
                     {"payouts": len(payouts), "total_fen": batch.total_fen})
    for payout in payouts:
        payout.state = PayoutState.PROCESSING
        _send(payout)
    batch.refresh_from_db()
    return batch


def _lock_prepared(subject: Subject, batch_id: uuid.UUID | str, *, four_eyes: bool) -> PayoutBatch:
    """The batch, locked, for a finance operator to decide on (approval: not its preparer); 404 outside what the
    subject reads, 409 once it was decided."""
    batch = selectors.get_batch(subject, batch_id)
    subject.require(selectors.may_operate(subject))
    if four_eyes and not selectors.may_approve(subject, batch):
        raise Problem(403, "four-eyes", "付款批次须由另一位金融运营人员复核，准备人不能审批",
                      "A payout batch is approved by another finance operator than the one who prepared it")
    batch = PayoutBatch.objects.select_for_update().get(pk=batch.pk)
    if batch.state != PayoutBatchState.PREPARED:
        raise Conflict("batch-not-prepared", "该付款批次已审批或已退回", "This payout batch was already approved or sent back",
                       state=batch.state)
    return batch


def reject(subject: Subject, *, batch_id: uuid.UUID | str, reason: str) -> PayoutBatch:
    """A finance operator sends a prepared batch back (the reviewer disagrees, or its preparer withdraws it):
    nothing is paid and its statements are unpaid again for the next batch. 409 once it was approved."""
    if not reason.strip():
        raise Invalid("reason-required", "请填写退回原因", "Say why the batch is sent back",
                      [FieldError("/reason", "请填写退回原因", "A reason is required")])
    with transaction.atomic():
        batch = _lock_prepared(subject, batch_id, four_eyes=False)
        now = timezone.now()
        SettlementStatement.objects.filter(payouts__batch=batch, state=StatementState.IN_PAYOUT).update(
            state=StatementState.UNPAID, updated_at=now)
        batch.payouts.update(state=PayoutState.CANCELLED, completed_at=now, updated_at=now)
        batch.state, batch.rejection, batch.completed_at = PayoutBatchState.REJECTED, reason.strip()[:200], now
        batch.save(update_fields=["state", "rejection", "completed_at", "updated_at"])
        audit.record(subject.ref, "payments.payout.rejected", "payments.payout_batch", batch.pk, {"reason": batch.rejection})
        return batch


def _send(payout: Payout) -> None:
    """Hand the payout to its provider (again, under the same number, when it never arrived there)."""
    adapter = providers.get_payout(payout.provider)
    if adapter is None:
        raise AssertionError(f"payout {payout.pk} has no provider")
    org = identity.get_organisation(payout.merchant_id)
    try:
        result = adapter.pay_out(payout_no=payout.payout_no, amount_fen=payout.amount_fen, payee=org.name if org else "")
    except providers.ProviderUnavailable:
        return  # stays processing; recover() sends it again
    Payout.objects.filter(pk=payout.pk, sent_at=None).update(sent_at=timezone.now(), updated_at=timezone.now())
    if result.status in ("SUCCESS", "FAILED"):
        conclude(provider=payout.provider, result=result, actor=f"provider:payout:{payout.provider}")


# ---------------------------------------------------------------------------------------------- results


def conclude(*, provider: str, result: providers.PayoutResult, actor: str) -> str:
    """Book what the payout provider says of a payout: paid posts the hold and pays the statements; failed voids
    it and leaves the statements unpaid for the next batch. Idempotent: returns the outcome."""
    found = Payout.objects.filter(provider=provider, payout_no=result.payout_no).first()
    if found is None:
        return NotificationOutcome.UNKNOWN
    if result.status not in ("SUCCESS", "FAILED"):
        return NotificationOutcome.NOT_PAID
    with transaction.atomic():
        batch = PayoutBatch.objects.select_for_update().get(pk=found.batch_id)
        payout = Payout.objects.select_for_update().get(pk=found.pk)
        if payout.state != PayoutState.PROCESSING:
            return NotificationOutcome.DUPLICATE
        if result.amount_fen != payout.amount_fen:
            audit.record(actor, "payments.payout.amount_mismatch", "payments.payout", payout.pk,
                         {"notified_fen": result.amount_fen})
            return NotificationOutcome.MISMATCH
        paid = result.status == "SUCCESS"
        if paid:
            ledger.post_pending(id=hold_id(payout, "post"), pending_id=hold_id(payout), actor=actor)
        else:
            ledger.void_pending(id=hold_id(payout, "void"), pending_id=hold_id(payout), actor=actor)
        now = timezone.now()
        payout.state = PayoutState.PAID if paid else PayoutState.FAILED
        payout.completed_at, payout.failure = now, "" if paid else result.reason[:200]
        payout.save(update_fields=["state", "completed_at", "failure", "updated_at"])
        payout.statements.update(state=StatementState.PAID if paid else StatementState.UNPAID, updated_at=now)
        if not batch.payouts.filter(state__in=[PayoutState.PENDING, PayoutState.PROCESSING]).exists():
            batch.state, batch.completed_at = PayoutBatchState.COMPLETED, now
            batch.save(update_fields=["state", "completed_at", "updated_at"])
        audit.record(actor, f"payments.payout.{payout.state}", "payments.payout", payout.pk,
                     {"amount_fen": payout.amount_fen, "reason": payout.failure})
        events.publish(f"payments.payout.{payout.state}", f"payments:payout:{payout.pk}",
                       {"merchant": f"org:{payout.merchant_id}", "amount_fen": payout.amount_fen}, actor=actor)
        return NotificationOutcome.PAYOUT_PAID if paid else NotificationOutcome.PAYOUT_FAILED


def handle_notification(provider: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
    """Verify, log and book one payout provider notification; returns the answer for the provider. A bad
    signature or an unknown shape changes nothing; a replay is answered without booking twice."""
    adapter = providers.get_payout(provider)
    if adapter is None:
        raise NotFound()
    text, source = body.decode("utf-8", "replace")[:20000], f"payout:{provider}"[:20]
    try:
        result = adapter.verify(body, headers)
    except (providers.BadSignature, providers.MalformedNotification) as exc:
        forged = isinstance(exc, providers.BadSignature)
        ProviderNotification.objects.create(provider=source, body=text, signature_valid=not forged,
                                            outcome=NotificationOutcome.BAD_SIGNATURE if forged
                                            else NotificationOutcome.MALFORMED)
        return adapter.answer(False)
    outcome = conclude(provider=provider, result=result, actor=f"provider:payout:{provider}")
    ProviderNotification.objects.create(provider=source, body=text, signature_valid=True, outcome=outcome,
                                        order_no=result.payout_no[:40])
    return adapter.answer(outcome != NotificationOutcome.MISMATCH)


def recover(older_than: timedelta = timedelta(minutes=2), limit: int = 500) -> int:
    """Ask the payout provider about payouts still in progress (a result notification that never came, a
    forged one we refused) and book their result; send again those it never received. Returns how many
    payouts this concluded."""
    cutoff = timezone.now() - older_than
    waiting = list(Payout.objects.filter(state=PayoutState.PROCESSING, updated_at__lte=cutoff).order_by("updated_at")[:limit])
    concluded = 0
    for payout in waiting:
        adapter = providers.get_payout(payout.provider)
        if adapter is None:
            continue
        try:
            result = adapter.query(payout.payout_no)
        except providers.ProviderUnavailable:
            continue
        if result.status == "UNKNOWN":
            _send(payout)
        elif result.status in ("SUCCESS", "FAILED"):
            outcome = conclude(provider=payout.provider, result=result, actor=f"system:query:payout:{payout.provider}")
            concluded += outcome in (NotificationOutcome.PAYOUT_PAID, NotificationOutcome.PAYOUT_FAILED)
    return concluded
