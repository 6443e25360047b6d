"""Bank transfer (对公转账), for enterprises: the intent shows our receiving account and a reference; the payer
transfers from their bank; finance operations import the bank statement (CSV) and each incoming line is matched
to an intent by reference and amount (or by hand). There are no notifications: a statement line is the proof.
Refunds are paid back by finance operations from the bank account and succeed when they record them."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.conf import settings

from carloop.payments.providers import BadSignature, Notification, OrderQuery, ProviderOrder, RefundResult


class BankTransfer:
    name = "bank_transfer"
    clearing_account = "platform_cash"  # the money is in our own bank account once the statement shows it

    def create_order(self, *, order_no: str, amount_fen: int, description: str, expires_at: datetime) -> ProviderOrder:
        return ProviderOrder(order_no=order_no, pay_url="")

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Notification:
        raise BadSignature("bank transfers are confirmed by statement import, not by notification")

    def answer(self, ok: bool) -> tuple[int, dict[str, str]]:
        return (200, {"code": "SUCCESS"}) if ok else (400, {"code": "FAIL"})

    def query(self, order_no: str) -> OrderQuery:
        return OrderQuery(order_no=order_no, status="NOTPAY")

    def close(self, order_no: str) -> OrderQuery:
        return OrderQuery(order_no=order_no, status="CLOSED")

    def refund(self, *, order_no: str, refund_no: str, amount_fen: int) -> RefundResult:
        return RefundResult(refund_no=refund_no, status="SUCCESS")


def receiving_account() -> str:
    return str(settings.PAYMENTS_RECEIVING_ACCOUNT)


BANK_TRANSFER = BankTransfer()
