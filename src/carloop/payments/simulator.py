"""The simulator provider: a payment provider that runs inside carloop, shaped like WeChat Pay's v3 API.

Its own side (orders, refunds) lives in :class:`SimulatorOrder` / :class:`SimulatorRefund`, never read by the
cashier except through this adapter. The customer pays on the scan-to-pay page (``payments:sim_pay``, a QR code
of the page's own address); the simulator then sends an asynchronous notification, signed with HMAC-SHA256 over
``timestamp\\nnonce\\nbody\\n`` (headers ``Sim-Timestamp``, ``Sim-Nonce``, ``Sim-Signature``; key
``CARLOOP_PAYMENTS_SIMULATOR_KEY``), to ``POST /api/v1/payments/notify/simulator``.

Withholding (代扣): :meth:`Simulator.sign_agreement` binds a card (the simulator keeps it masked) and
:meth:`Simulator.withhold` debits agreements for a batch of orders; each answer is notified like a payment, a
failed debit as ``TRANSACTION.FAIL`` with ``trade_state`` PAYERROR and ``err_code`` NOTENOUGH.

It can misbehave on purpose (:attr:`Simulator.behaviour`): notify late (held until :meth:`Simulator.flush`), twice,
with a bad signature, never, or be unreachable for queries and closes; withholdings can find not enough money.
The tests use these; the demo does not. A card whose number ends in 9995 never has enough money (the demo seed
binds one).

:data:`PAYOUT_SIMULATOR` is the payout provider beside it (payouts to merchants), with the same misbehaviours and
payouts that fail on request.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import hmac
import io
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from carloop.core.authz import Subject
from carloop.core.ids import new_id
from carloop.core.money import round_half_up, yuan_str
from carloop.core.pii import mask_bank_card
from carloop.core.timeutil import start_of_business_day
from carloop.payments.models import PaymentIntent, SimulatorAgreement, SimulatorOrder, SimulatorPayout, SimulatorRefund
from carloop.payments.providers import (
    BadSignature,
    Debit,
    MalformedNotification,
    Notification,
    OrderQuery,
    PayoutResult,
    ProviderOrder,
    ProviderUnavailable,
    RefundResult,
)
from carloop.payments.reconcile import STATEMENT_COLUMNS

SHORT_OF_MONEY_SUFFIX = "9995"  # a card ending so never has enough money (test cards, as the providers' sandboxes have)
FEE_RATE = Decimal("0.006")  # the provider's fee on each payment (0.6%, WeChat Pay's standard rate)
NotifyMode = Literal["now", "late", "twice", "bad_signature", "never"]


@dataclass
class Behaviour:
    notify: NotifyMode = "now"
    reachable: bool = True
    refunds: Literal["sync", "async"] = "async"
    withhold: Literal["success", "notenough"] = "success"
    short_of_money: set[str] = field(default_factory=set)  # agreements whose card has not enough money
    payouts: Literal["succeed", "fail"] = "succeed"


@dataclass
class _Notifier:
    """The simulated provider's side of its notifications: sent as :attr:`behaviour` says."""

    name: str = "simulator"
    behaviour: Behaviour = field(default_factory=Behaviour)
    held: list[tuple[bytes, dict[str, str]]] = field(default_factory=list)  # late notifications not yet sent

    def send(self, notification: tuple[bytes, dict[str, str]]) -> None:
        """Deliver a notification as the behaviour says (in process: what an HTTP POST to our endpoint does)."""
        mode = self.behaviour.notify
        if mode == "never":
            return
        if mode == "late":
            self.held.append(notification)
            return
        body, headers = notification
        if mode == "bad_signature":
            headers = {**headers, "Sim-Signature": "0" * 64}
        self.deliver(body, headers)
        if mode == "twice":
            self.deliver(body, headers)

    def flush(self, *, reverse_order: bool = False) -> int:
        """Send the held (late) notifications, optionally newest first; returns how many were sent."""
        held, self.held = self.held, []
        for body, headers in reversed(held) if reverse_order else held:
            self.deliver(body, headers)
        return len(held)

    def deliver(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
        raise NotImplementedError

    def _reach(self) -> None:
        if not self.behaviour.reachable:
            raise ProviderUnavailable("the simulator is unreachable")


@dataclass
class Simulator(_Notifier):
    clearing_account: str = "payment_clearing"

    # ------------------------------------------------------------------------------------ the adapter interface

    def create_order(self, *, order_no: str, amount_fen: int, description: str, expires_at: datetime) -> ProviderOrder:
        SimulatorOrder.objects.get_or_create(
            order_no=order_no, defaults={"amount_fen": amount_fen, "description": description[:200], "expires_at": expires_at})
        return ProviderOrder(order_no=order_no, pay_url=reverse("payments:sim_pay", args=[order_no]))

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        data = _verified(body, headers)
        try:
            resource = data["resource"]
            if data["event_type"] in ("TRANSACTION.SUCCESS", "TRANSACTION.FAIL"):
                return Notification(event="payment", order_no=str(resource["out_trade_no"]),
                                    status=str(resource["trade_state"]), amount_fen=int(resource["amount"]["total"]),
                                    txn_id=str(resource["transaction_id"]), err_code=str(resource.get("err_code", "")))
            if data["event_type"] == "REFUND.SUCCESS":
                return Notification(event="refund", order_no=str(resource["out_trade_no"]),
                                    status=str(resource["refund_status"]), amount_fen=int(resource["amount"]["refund"]),
                                    refund_no=str(resource["out_refund_no"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedNotification(str(exc)) from None
        raise MalformedNotification(f"unknown event type {data.get('event_type')!r}")

    def answer(self, ok: bool) -> tuple[int, dict[str, str]]:
        return (200, {"code": "SUCCESS", "message": "成功"}) if ok else (400, {"code": "FAIL", "message": "失败"})

    def query(self, order_no: str) -> OrderQuery:
        self._reach()
        order = SimulatorOrder.objects.filter(order_no=order_no).first()
        if order is None:
            return OrderQuery(order_no=order_no, status="UNKNOWN")
        return OrderQuery(order_no=order_no, status=order.status, amount_fen=order.amount_fen,  # type: ignore[arg-type]
                          txn_id=order.txn_id, paid_at=order.paid_at, err_code=order.err_code)

    def close(self, order_no: str) -> OrderQuery:
        """Close an unpaid order; a paid order stays paid (WeChat answers ORDERPAID) and is returned as such."""
        self._reach()
        SimulatorOrder.objects.filter(order_no=order_no, status=SimulatorOrder.Status.NOTPAY).update(
            status=SimulatorOrder.Status.CLOSED, updated_at=timezone.now())
        return self.query(order_no)

    def refund(self, *, order_no: str, refund_no: str, amount_fen: int) -> RefundResult:
        self._reach()
        refund, created = SimulatorRefund.objects.get_or_create(
            refund_no=refund_no, defaults={"order_no": order_no, "amount_fen": amount_fen})
        if self.behaviour.refunds == "sync":
            if refund.status != SimulatorRefund.Status.SUCCESS:
                refund.status, refund.succeeded_at = SimulatorRefund.Status.SUCCESS, timezone.now()
                refund.save(update_fields=["status", "succeeded_at", "updated_at"])
            return RefundResult(refund_no=refund_no, status="SUCCESS")
        if created:
            transaction.on_commit(lambda: self.complete_refund(refund_no))
        return RefundResult(refund_no=refund_no, status="PROCESSING")

    def sign_agreement(self, *, card_no: str) -> str:
        """Bind a card for withholding; returns the agreement number (the card itself stays here, masked)."""
        self._reach()
        agreement_no = "SIMAGR" + secrets.token_hex(12).upper()
        SimulatorAgreement.objects.create(agreement_no=agreement_no, card_masked=mask_bank_card(card_no))
        return agreement_no

    def withhold(self, debits: list[Debit]) -> None:
        """Debit agreements for a batch of orders (one request, as the providers' batch withholding APIs take).
        Each order is debited once (a repeated order number is the same order); every result is notified."""
        self._reach()
        cards = dict(SimulatorAgreement.objects.filter(agreement_no__in={d.agreement_no for d in debits})
                     .values_list("agreement_no", "card_masked"))
        now = timezone.now()
        rows = []
        for debit in debits:
            short = (self.behaviour.withhold == "notenough" or debit.agreement_no in self.behaviour.short_of_money
                     or cards.get(debit.agreement_no, "").endswith(SHORT_OF_MONEY_SUFFIX))
            ok = debit.agreement_no in cards and not short
            rows.append(SimulatorOrder(
                order_no=debit.order_no, amount_fen=debit.amount_fen, description=debit.description[:200],
                agreement_no=debit.agreement_no, expires_at=now,
                status=SimulatorOrder.Status.SUCCESS if ok else SimulatorOrder.Status.PAYERROR,
                err_code="" if ok else ("NOTENOUGH" if short else "NO_AUTH"), paid_at=now if ok else None,
                txn_id="4200" + secrets.token_hex(12) if ok else "",
                fee_fen=int(round_half_up(Decimal(debit.amount_fen) * FEE_RATE, Decimal(1))) if ok else 0))
        existing = set(SimulatorOrder.objects.filter(order_no__in=[r.order_no for r in rows]).values_list("order_no", flat=True))
        new = [r for r in rows if r.order_no not in existing]
        SimulatorOrder.objects.bulk_create(new, ignore_conflicts=True)
        for row in new:
            transaction.on_commit(functools.partial(self.send, _order_notification(row)))

    # ----------------------------------------------------------------------------------- the provider's own side

    def pay(self, order_no: str, *, even_if_closed: bool = False) -> SimulatorOrder:
        """The customer pays on the provider's page. ``even_if_closed`` models a payment the provider accepted
        while our close was under way (the case a paid-after-expiry refund exists for)."""
        with transaction.atomic():
            order = SimulatorOrder.objects.select_for_update().get(order_no=order_no)
            payable = order.status == SimulatorOrder.Status.NOTPAY or (
                even_if_closed and order.status == SimulatorOrder.Status.CLOSED)
            if payable:
                order.status, order.paid_at = SimulatorOrder.Status.SUCCESS, timezone.now()
                order.txn_id = "4200" + secrets.token_hex(12)
                order.fee_fen = int(round_half_up(Decimal(order.amount_fen) * FEE_RATE, Decimal(1)))
                order.save(update_fields=["status", "paid_at", "txn_id", "fee_fen", "updated_at"])
                transaction.on_commit(functools.partial(self.notify_order, order_no))
        return order

    def notify_order(self, order_no: str) -> None:
        self.send(self.payment_notification(order_no))

    def complete_refund(self, refund_no: str) -> None:
        with transaction.atomic():
            refund = SimulatorRefund.objects.select_for_update().get(refund_no=refund_no)
            if refund.status == SimulatorRefund.Status.SUCCESS:
                return
            refund.status, refund.succeeded_at = SimulatorRefund.Status.SUCCESS, timezone.now()
            refund.save(update_fields=["status", "succeeded_at", "updated_at"])
        self.send(self.refund_notification(refund_no))

    def payment_notification(self, order_no: str) -> tuple[bytes, dict[str, str]]:
        return _order_notification(SimulatorOrder.objects.get(order_no=order_no))

    def refund_notification(self, refund_no: str) -> tuple[bytes, dict[str, str]]:
        refund = SimulatorRefund.objects.get(refund_no=refund_no)
        return _signed({"id": str(new_id()), "event_type": "REFUND.SUCCESS", "resource": {
            "out_trade_no": refund.order_no, "out_refund_no": refund.refund_no, "refund_status": refund.status,
            "amount": {"refund": refund.amount_fen}}})

    def statement(self, day: date) -> str:
        """The provider's statement for a business date (CSV, WeChat Pay trade-bill layout): one row per payment
        (with its fee) and per refund."""
        start, end = start_of_business_day(day), start_of_business_day(day + timedelta(days=1))
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(STATEMENT_COLUMNS)
        for order in SimulatorOrder.objects.filter(status=SimulatorOrder.Status.SUCCESS, paid_at__gte=start,
                                                   paid_at__lt=end).order_by("paid_at"):
            assert order.paid_at is not None
            writer.writerow([order.paid_at.isoformat(), order.order_no, order.txn_id, "SUCCESS", yuan_str(order.amount_fen),
                             "", "0.00", yuan_str(order.fee_fen)])
        for refund in SimulatorRefund.objects.filter(status=SimulatorRefund.Status.SUCCESS, succeeded_at__gte=start,
                                                     succeeded_at__lt=end).order_by("succeeded_at"):
            assert refund.succeeded_at is not None
            writer.writerow([refund.succeeded_at.isoformat(), refund.order_no, "", "REFUND", "0.00", refund.refund_no,
                             yuan_str(refund.amount_fen), "0.00"])
        return out.getvalue()

    def deliver(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
        return deliver(self.name, body, headers)


@dataclass
class PayoutSimulator(_Notifier):
    """The simulated payout provider (a bank's or WeChat Pay's transfer-to-account API): accepts a payout,
    finishes it after our transaction commits (paid, or failed when :attr:`Behaviour.payouts` says so) and
    notifies ``POST /api/v1/payments/payouts/notify/simulator``, signed like the payment notifications."""

    def pay_out(self, *, payout_no: str, amount_fen: int, payee: str) -> PayoutResult:
        self._reach()
        payout, created = SimulatorPayout.objects.get_or_create(
            payout_no=payout_no, defaults={"amount_fen": amount_fen, "payee": payee[:200]})
        if created:
            transaction.on_commit(lambda: self.finish(payout_no))
        return _payout_result(payout)

    def verify(self, body: bytes, headers: Mapping[str, str]) -> PayoutResult:
        data = _verified(body, headers)
        try:
            resource = data["resource"]
            status = {"PAYOUT.SUCCESS": "SUCCESS", "PAYOUT.FAILED": "FAILED"}[data["event_type"]]
            return PayoutResult(payout_no=str(resource["out_batch_no"]), status=status,  # type: ignore[arg-type]
                                amount_fen=int(resource["amount"]), reason=str(resource.get("fail_reason", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedNotification(str(exc)) from None

    def answer(self, ok: bool) -> tuple[int, dict[str, str]]:
        return (200, {"code": "SUCCESS", "message": "成功"}) if ok else (400, {"code": "FAIL", "message": "失败"})

    def query(self, payout_no: str) -> PayoutResult:
        self._reach()
        payout = SimulatorPayout.objects.filter(payout_no=payout_no).first()
        return _payout_result(payout) if payout else PayoutResult(payout_no=payout_no, status="UNKNOWN")

    def finish(self, payout_no: str) -> None:
        """The provider's side completes the payout (the receiving bank answered) and notifies us."""
        with transaction.atomic():
            payout = SimulatorPayout.objects.select_for_update().get(payout_no=payout_no)
            if payout.status != SimulatorPayout.Status.PROCESSING:
                return
            if self.behaviour.payouts == "fail":
                payout.status, payout.reason = SimulatorPayout.Status.FAILED, "收款账户户名不符 / payee name mismatch"
            else:
                payout.status = SimulatorPayout.Status.SUCCESS
            payout.finished_at = timezone.now()
            payout.save(update_fields=["status", "reason", "finished_at", "updated_at"])
        self.send(self.notification(payout_no))

    def notification(self, payout_no: str) -> tuple[bytes, dict[str, str]]:
        payout = SimulatorPayout.objects.get(payout_no=payout_no)
        return _signed({"id": str(new_id()), "event_type": f"PAYOUT.{payout.status}", "resource": {
            "out_batch_no": payout.payout_no, "amount": payout.amount_fen, "fail_reason": payout.reason,
            "finished_at": payout.finished_at.isoformat() if payout.finished_at else None}})

    def deliver(self, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
        from carloop.payments import payouts

        return payouts.handle_notification(self.name, body, headers)


def _payout_result(payout: SimulatorPayout) -> PayoutResult:
    return PayoutResult(payout_no=payout.payout_no, status=payout.status,  # type: ignore[arg-type]
                        amount_fen=payout.amount_fen, reason=payout.reason)


def pay_in_full(*, kind: str, ref: str, subject: Subject) -> PaymentIntent:
    """The payer pays what is due the way the demo owner would: an intent, the simulator's page, its signed
    notification. For the demo seed and tests, which need payments made without a browser."""
    from carloop.payments import services

    intent = services.create_intent(kind=kind, ref=ref, subject=subject, actor=subject.ref)
    intent = services.confirm(intent_id=intent.pk, subject=subject, tenders=[], method=SIMULATOR.name, actor=subject.ref)
    order_no = intent.tenders.get(kind="external").provider_order_no
    assert order_no is not None
    SIMULATOR.pay(order_no)
    deliver(SIMULATOR.name, *SIMULATOR.payment_notification(order_no))
    intent.refresh_from_db()
    return intent


def deliver(provider: str, body: bytes, headers: Mapping[str, str]) -> tuple[int, dict[str, str]]:
    from carloop.payments import services

    return services.handle_notification(provider, body, headers)


def _verified(body: bytes, headers: Mapping[str, str]) -> dict[str, Any]:
    """The notification's JSON once its signature verifies (``BadSignature`` otherwise)."""
    timestamp, nonce = headers.get("Sim-Timestamp", ""), headers.get("Sim-Nonce", "")
    if not timestamp or not nonce or not hmac.compare_digest(headers.get("Sim-Signature", ""), _sign(timestamp, nonce, body)):
        raise BadSignature("signature does not verify")
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MalformedNotification(str(exc)) from None
    if not isinstance(data, dict):
        raise MalformedNotification("not an object")
    return data


def _order_notification(order: SimulatorOrder) -> tuple[bytes, dict[str, str]]:
    failed = order.status == SimulatorOrder.Status.PAYERROR
    resource: dict[str, object] = {
        "out_trade_no": order.order_no, "transaction_id": order.txn_id, "trade_state": order.status,
        "success_time": order.paid_at.isoformat() if order.paid_at else None, "amount": {"total": order.amount_fen}}
    if failed:
        resource["err_code"] = order.err_code
    return _signed({"id": str(new_id()), "event_type": "TRANSACTION.FAIL" if failed else "TRANSACTION.SUCCESS",
                    "resource": resource})


def _sign(timestamp: str, nonce: str, body: bytes) -> str:
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + body + b"\n"
    return hmac.new(settings.PAYMENTS_SIMULATOR_KEY.encode(), message, hashlib.sha256).hexdigest()


def _signed(payload: dict[str, object]) -> tuple[bytes, dict[str, str]]:
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp, nonce = str(int(timezone.now().timestamp())), secrets.token_hex(16)
    return body, {"Sim-Timestamp": timestamp, "Sim-Nonce": nonce, "Sim-Signature": _sign(timestamp, nonce, body)}


SIMULATOR = Simulator()
PAYOUT_SIMULATOR = PayoutSimulator()
