"""Published ledger DTOs: other apps import these (and ``services`` / ``selectors``), never the models.

Amounts are integer fen. Transfer ids are idempotency keys: a UUID, or any string key that is mapped
deterministically to a UUID with :func:`transfer_uuid`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag
from typing import Literal
from uuid import UUID

from carloop.core.ids import id_from_key

LEDGER_CNY = "CNY"


TransferKind = Literal["single", "pending", "post_pending", "void_pending"]


class AccountFlags(IntFlag):
    """Account constraints; bit values as in TigerBeetle (bit 0, ``linked``, is unused here)."""

    NONE = 0
    DEBITS_MUST_NOT_EXCEED_CREDITS = 1 << 1
    CREDITS_MUST_NOT_EXCEED_DEBITS = 1 << 2
    HISTORY = 1 << 3


class TransferFlags(IntFlag):
    NONE = 0
    LINKED = 1 << 0
    PENDING = 1 << 1
    POST_PENDING = 1 << 2
    VOID_PENDING = 1 << 3


def transfer_uuid(key: uuid.UUID | str) -> uuid.UUID:
    """Map a client transfer id to the stored UUID.

    A UUID (or its canonical string form) is used as is; any other string is mapped with uuid5
    (``carloop.core.ids.id_from_key``), so ``"finance:loan:<id>:disburse"`` always names the same transfer.
    """
    if isinstance(key, str) and not key.strip():
        raise ValueError("empty transfer id")
    return id_from_key(key)


@dataclass(frozen=True)
class TransferSpec:
    """One transfer request.

    * single: ``debit``, ``credit``, ``amount_fen`` and ``code`` required.
    * pending (a hold): as single plus ``pending=True``; optional ``timeout_seconds`` after which the
      hold may be voided by the expiry task.
    * post / void a pending transfer: ``post_pending_id`` or ``void_pending_id``; ``amount_fen`` for a
      partial post (``None`` posts the full amount); debit/credit/code default to the pending transfer's.
    """

    id: uuid.UUID | str
    debit: uuid.UUID | None = None
    credit: uuid.UUID | None = None
    amount_fen: int | None = None
    code: int | None = None
    memo: str = ""
    pending: bool = False
    timeout_seconds: int = 0
    post_pending_id: uuid.UUID | str | None = None
    void_pending_id: uuid.UUID | str | None = None
    actor: str | None = None

    @property
    def uuid(self) -> uuid.UUID:
        return transfer_uuid(self.id)

    @property
    def kind(self) -> TransferKind:
        if self.post_pending_id is not None:
            return "post_pending"
        if self.void_pending_id is not None:
            return "void_pending"
        return "pending" if self.pending else "single"

    @property
    def pending_uuid(self) -> UUID | None:
        ref = self.post_pending_id if self.post_pending_id is not None else self.void_pending_id
        return None if ref is None else transfer_uuid(ref)


@dataclass(frozen=True)
class TransferResult:
    """A stored transfer. ``replayed`` is True when the id already existed with the same payload."""

    id: uuid.UUID
    debit: uuid.UUID
    credit: uuid.UUID
    amount_fen: int
    code: int
    flags: TransferFlags
    pending_id: uuid.UUID | None
    memo: str
    actor: str
    created_at: datetime
    expires_at: datetime | None
    replayed: bool = False

    @property
    def kind(self) -> TransferKind:
        if self.flags & TransferFlags.POST_PENDING:
            return "post_pending"
        if self.flags & TransferFlags.VOID_PENDING:
            return "void_pending"
        return "pending" if self.flags & TransferFlags.PENDING else "single"


@dataclass(frozen=True)
class Balance:
    """Posted and pending totals of one account.

    ``balance_fen`` is the posted balance on the account's normal side: debit-normal (debits - credits) for
    accounts flagged CREDITS_MUST_NOT_EXCEED_DEBITS (e.g. a receivable) and for the platform's asset and expense
    accounts; credit-normal (credits - debits) otherwise: wallets, funding, revenue, suspense.
    ``available_fen`` additionally subtracts pending holds that reduce the normal side.
    """

    account_id: uuid.UUID
    flags: AccountFlags
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int
    debit_normal: bool = False

    @property
    def balance_fen(self) -> int:
        net = self.credits_posted - self.debits_posted
        return -net if self.debit_normal else net

    @property
    def available_fen(self) -> int:
        held = self.credits_pending if self.debit_normal else self.debits_pending
        return self.balance_fen - held


@dataclass(frozen=True)
class StatementLine:
    """One transfer touching an account, with the account's posted balance after it (normal side)."""

    transfer_id: uuid.UUID
    created_at: datetime
    side: Literal["debit", "credit"]
    kind: TransferKind
    amount_fen: int
    code: int
    memo: str
    counterparty: uuid.UUID
    balance_after_fen: int


@dataclass(frozen=True)
class StatementPage:
    lines: list[StatementLine]
    next_cursor: str | None


@dataclass(frozen=True)
class AccountInfo:
    id: uuid.UUID
    key: str
    name: str
    owner: str
    ledger: str
    code: int
    flags: AccountFlags
    created_at: datetime
