"""One adapter interface for every external payment method, modelled on WeChat Pay, Alipay and UnionPay:
create the provider order, let the customer pay on the provider's page or QR code, receive an asynchronous
notification signed by the provider, verify it, answer, and book; query an order whose notification never came;
close an order on expiry; refund (with its own result, synchronous or notified).

Adapters are registered by name (``simulator``, ``bank_transfer``); the cashier only talks to this interface.

Payouts to merchants go the other way through a payout adapter (a bank's or WeChat Pay's transfer API): send a
payout under our number (`pay_out`), receive its signed result notification (paid or failed), query one whose result never
came. Registered by name beside the payment adapters (``simulator``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

OrderStatus = Literal["NOTPAY", "SUCCESS", "CLOSED", "PAYERROR", "UNKNOWN"]  # PAYERROR: a withholding failed
RefundStatus = Literal["PROCESSING", "SUCCESS", "FAILED"]
PayoutStatus = Literal["PROCESSING", "SUCCESS", "FAILED", "UNKNOWN"]


class BadSignature(Exception):  # noqa: N818 - what the provider's SDKs call it
    """The notification's signature does not verify: nothing in it may be trusted."""


class ProviderUnavailable(Exception):  # noqa: N818
    """The provider did not answer (network failure, outage): try again later."""


class MalformedNotification(Exception):  # noqa: N818
    """The notification verified but is not of a shape we know."""


@dataclass(frozen=True)
class ProviderOrder:
    order_no: str
    pay_url: str  # the page (or the QR code's content) where the customer pays


@dataclass(frozen=True)
class OrderQuery:
    order_no: str
    status: OrderStatus
    amount_fen: int = 0
    txn_id: str = ""
    paid_at: datetime | None = None
    err_code: str = ""  # why a withholding failed (NOTENOUGH: insufficient funds)


@dataclass(frozen=True)
class Notification:
    """A verified notification: a payment (``event="payment"``) or a refund result (``event="refund"``)."""

    event: Literal["payment", "refund"]
    order_no: str
    status: str
    amount_fen: int
    txn_id: str = ""
    refund_no: str = ""
    err_code: str = ""  # a failed withholding (status PAYERROR): why


@dataclass(frozen=True)
class Debit:
    """One withholding order (代扣): debit ``amount_fen`` from the card bound by ``agreement_no``."""

    agreement_no: str
    order_no: str
    amount_fen: int
    description: str = ""


@dataclass(frozen=True)
class RefundResult:
    refund_no: str
    status: RefundStatus


class ProviderAdapter(Protocol):
    name: str
    clearing_account: str  # the ledger system account where this method's money sits before settlement

    def create_order(self, *, order_no: str, amount_fen: int, description: str, expires_at: datetime) -> ProviderOrder: ...

    def verify(self, body: bytes, headers: Mapping[str, str]) -> Notification: ...

    def answer(self, ok: bool) -> tuple[int, dict[str, str]]: ...

    def query(self, order_no: str) -> OrderQuery: ...

    def close(self, order_no: str) -> OrderQuery: ...

    def refund(self, *, order_no: str, refund_no: str, amount_fen: int) -> RefundResult: ...


_adapters: dict[str, ProviderAdapter] = {}


def register(adapter: ProviderAdapter) -> None:
    _adapters[adapter.name] = adapter


def get(name: str) -> ProviderAdapter | None:
    return _adapters.get(name)


def names() -> list[str]:
    return sorted(_adapters)


# ------------------------------------------------------------------------------------------------ payouts


@dataclass(frozen=True)
class PayoutResult:
    """What the payout provider says of one payout (a verified notification or a query). ``UNKNOWN``: it never
    received it."""

    payout_no: str
    status: PayoutStatus
    amount_fen: int = 0
    reason: str = ""


class PayoutAdapter(Protocol):
    name: str

    def pay_out(self, *, payout_no: str, amount_fen: int, payee: str) -> PayoutResult: ...

    def verify(self, body: bytes, headers: Mapping[str, str]) -> PayoutResult: ...

    def answer(self, ok: bool) -> tuple[int, dict[str, str]]: ...

    def query(self, payout_no: str) -> PayoutResult: ...


_payout_adapters: dict[str, PayoutAdapter] = {}


def register_payout(adapter: PayoutAdapter) -> None:
    _payout_adapters[adapter.name] = adapter


def get_payout(name: str) -> PayoutAdapter | None:
    return _payout_adapters.get(name)
