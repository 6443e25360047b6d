"""What can be paid, and with what: the contract between the cashier (``carloop.payments``) and every other app.

The cashier sits above finance and wallet and below commerce, after-sales and parts, and must not read any of
their tables. So each app that owns something payable registers a **payable kind** at start-up (in its
``AppConfig.ready``), and each app that owns an internal means of payment (coupons, points, e-cards, a credit
line) registers a **tender source**::

    payables.register_kind(payables.PayableKind(
        kind="commerce.deposit", name_zh="购车定金", name_en="Car deposit",
        lookup=lambda ref: ...,          # -> Payable | None (None: unknown reference)
        on_paid=lambda paid: ...,        # the intent succeeded: record it (no money movement; the cashier moved it)
        on_refunded=lambda refunded: ..., # a refund of it succeeded
    ))

The cashier moves the money itself: each tender's hold goes from the tender's account to the payable's
``destination_account``; ``on_paid`` / ``on_refunded`` run inside the cashier's transaction, so the owner's
record and the money commit together (a callback that raises rolls both back).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

# Tenders are applied in this order; refunds go back in the reverse order.
TENDER_ORDER = ("coupon", "points", "ecard", "credit_line", "external")
INTERNAL_TENDERS = TENDER_ORDER[:-1]


@dataclass(frozen=True)
class Payable:
    """One payable thing as its owner sees it now."""

    ref: str  # the owner's reference, e.g. "commerce:order:<uuid>"
    amount_due_fen: int  # what is to be paid now; 0 or less: nothing to pay
    destination_account: uuid.UUID  # the ledger account the payment lands in (the owner's liability/receivable)
    payer_user_id: uuid.UUID | None = None  # the customer who may pay it
    payer_org_id: uuid.UUID | None = None  # or an organisation whose enterprise admins may pay it
    title_zh: str = ""
    title_en: str = ""
    merchant: str = ""  # who is owed the money in the end, e.g. "org:<uuid>" (settlement)


@dataclass(frozen=True)
class Paid:
    kind: str
    ref: str
    intent_id: uuid.UUID
    amount_fen: int
    actor: str


@dataclass(frozen=True)
class Refunded:
    kind: str
    ref: str
    intent_id: uuid.UUID
    refund_id: uuid.UUID
    amount_fen: int  # this refund's amount
    refunded_total_fen: int  # every refund of the intent so far, this one included
    actor: str


@dataclass(frozen=True)
class PayableKind:
    kind: str
    name_zh: str
    name_en: str
    lookup: Callable[[str], Payable | None]
    on_paid: Callable[[Paid], None]
    on_refunded: Callable[[Refunded], None]
    # True: only the owner refunds it (through ``payments.services.refund_payable``, e.g. a car order's
    # cancellation under the deposit rules); finance operations' own refund of such an intent is a 409.
    refunded_by_owner: bool = False
    # Optional batch forms for volume (the COB's withholding): ``lookup_many(refs)`` answers many references at
    # once ({ref: Payable}, unknown ones left out); ``on_paid_many(paids)`` records many payments whose money is in
    # the destination and returns the ledger transfers (``carloop.ledger.contracts.TransferSpec``) that move it on,
    # for the cashier to post after its own in one linked batch; it raises a Problem when one of them does not fit
    # (nothing recorded), and the cashier books them one by one instead.
    lookup_many: Callable[[list[str]], dict[str, Payable]] | None = None
    on_paid_many: Callable[[list[Paid]], list[Any]] | None = None


@dataclass(frozen=True)
class TenderSource:
    """An internal means of payment. ``account(payer_user_id, instrument)`` returns the ledger account to hold
    from (a flagged account, so a hold can never overdraw it), or raises a 404 ``Problem`` when the instrument
    is unknown or not the payer's."""

    kind: str  # one of INTERNAL_TENDERS
    name_zh: str
    name_en: str
    account: Callable[[uuid.UUID | None, str], uuid.UUID]


@dataclass(frozen=True)
class Agreement:
    """A withholding agreement (代扣协议) the payer signed with a provider: its number and the card, masked."""

    agreement_no: str
    card_masked: str


@dataclass(frozen=True)
class WithholdingRequest:
    """Debit what ``kind``/``ref`` owes now from the card of ``agreement_no`` (it must be the payer's)."""

    kind: str
    ref: str
    agreement_no: str


@dataclass(frozen=True)
class WithholdingAttempt:
    """The latest debit asked for under a reference prefix: when, how much, and its intent's state (a code of
    the ``payments.paymentintent.state`` labels: processing, succeeded, failed …)."""

    ref: str
    at: datetime
    amount_fen: int
    state: str


@dataclass(frozen=True)
class Cashier:
    """What the cashier (registered by ``carloop.payments`` at start-up) offers apps below it that may not import
    it:

    * ``confirm_deposit(kind=, ref=, bank_txn_id=, value_date=, actor=)`` books money finance operations saw
      arrive in our bank account for a payable (a funder's capital), as a bank-transfer intent matched by them;
      it returns the intent's id. Finance's demo seed funds its pools this way.
    * ``sign_withholding(payer_user_id=, card_no=, actor=)`` binds the payer's card with the provider's
      withholding (代扣) API and returns the :class:`Agreement` (the card number is never stored in clear).
    * ``withhold(requests, actor=)`` opens one intent per request for what its payable owes now and asks the
      provider to debit the agreements (in batches, after the caller's transaction commits); the money is booked
      only when the provider's verified notification (or the query job) says it was taken. A payable with an
      intent of the same reference already, or nothing due, is skipped. Returns how many intents were opened.
    * ``last_withholdings(kind=, prefixes=)`` answers, for each reference prefix (one loan's withholdings), the
      latest :class:`WithholdingAttempt` made under it; a prefix with none is left out.
    * ``refund_paid(intent_id=, amount_fen=, reason=, actor=)``: the owner of a kind it refunds itself
      (``refunded_by_owner``) gives back ``amount_fen`` of an intent that paid it, to the tenders that paid it
      (an unwound loan's repayments); the kind's ``on_refunded`` runs when the provider has paid it back.
    """

    confirm_deposit: Callable[..., uuid.UUID]
    sign_withholding: Callable[..., Agreement]
    withhold: Callable[..., int]
    refund_paid: Callable[..., object]
    last_withholdings: Callable[..., dict[str, WithholdingAttempt]]


_kinds: dict[str, PayableKind] = {}
_tenders: dict[str, TenderSource] = {}
_cashier: list[Cashier] = []


def register_cashier(cashier: Cashier) -> None:
    _cashier[:] = [cashier]


def cashier() -> Cashier:
    if not _cashier:
        raise RuntimeError("no cashier registered (is carloop.payments installed?)")
    return _cashier[0]


def register_kind(kind: PayableKind) -> None:
    _kinds[kind.kind] = kind


def register_tender(source: TenderSource) -> None:
    if source.kind not in INTERNAL_TENDERS:
        raise ValueError(f"unknown tender kind {source.kind!r}; one of {', '.join(INTERNAL_TENDERS)}")
    _tenders[source.kind] = source


def payable_kind(kind: str) -> PayableKind | None:
    return _kinds.get(kind)


def tender_source(kind: str) -> TenderSource | None:
    return _tenders.get(kind)


def kinds() -> list[PayableKind]:
    return sorted(_kinds.values(), key=lambda k: k.kind)


def unregister(kind: str) -> None:
    """Tests register throwaway kinds and tender sources; this removes one of either."""
    _kinds.pop(kind, None)
    _tenders.pop(kind, None)
