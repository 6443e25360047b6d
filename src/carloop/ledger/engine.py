"""Pure double-entry rules: apply a linked batch of transfer specs to locked account states.

No database here. ``services`` loads and locks the rows, calls :func:`apply_batch`, then persists the
returned transfers and the mutated account states in the same transaction. Anything invalid raises
:class:`RejectionError` before the caller writes anything, so a batch commits completely or not at all.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from carloop.ledger.contracts import AccountFlags, TransferFlags, TransferResult, TransferSpec

MAX_MEMO = 200
MAX_CODE = 65_535
MAX_AMOUNT_FEN = 10**15  # ten trillion yuan: far beyond any real transfer, well inside BIGINT
MAX_TIMEOUT_SECONDS = 365 * 24 * 3600


# message key -> (status, problem slug, zh, en)
_MESSAGES: dict[str, tuple[int, str, str, str]] = {
    "duplicate-transfer-id": (
        422, "duplicate-transfer-id", "同一批次中转账编号重复", "Transfer id repeated in the batch",
    ),
    "memo-length": (422, "invalid-memo", f"备注不能超过 {MAX_MEMO} 个字符", f"Memo longer than {MAX_MEMO} characters"),
    "post-and-void": (
        422, "invalid-transfer", "不能同时确认和撤销预授权", "Cannot both post and void a pending transfer",
    ),
    "resolution-pending": (
        422, "invalid-transfer", "确认或撤销预授权时不能再设为预授权", "A post or void cannot itself be pending",
    ),
    "timeout-not-pending": (
        422, "invalid-timeout", "只有预授权转账可以设置超时", "Only pending transfers take a timeout",
    ),
    "timeout-range": (422, "invalid-timeout", "超时时间超出范围", "Timeout out of range"),
    "code-range": (422, "invalid-code", f"转账代码须在 1 到 {MAX_CODE} 之间", f"Transfer code must be 1..{MAX_CODE}"),
    "code-missing": (422, "invalid-code", "缺少转账代码", "Transfer code missing"),
    "amount-range": (422, "invalid-amount", "金额必须大于零且在允许范围内", "Amount must be positive and within range"),
    "amount-missing": (422, "invalid-amount", "缺少金额", "Amount missing"),
    "missing-account": (422, "missing-account", "缺少账户", "Account missing"),
    "account-not-found": (422, "account-not-found", "账户不存在", "Account not found"),
    "same-account": (422, "same-account", "借方和贷方不能是同一账户", "Debit and credit account must differ"),
    "ledger-mismatch": (422, "ledger-mismatch", "两个账户不在同一账本", "Accounts are on different ledgers"),
    "insufficient-funds": (409, "insufficient-funds", "账户余额不足", "Insufficient funds in the account"),
    "pending-not-found": (422, "pending-not-found", "预授权转账不存在", "Pending transfer not found"),
    "pending-already-resolved": (
        409, "pending-already-resolved", "该预授权已确认或撤销", "The pending transfer is already posted or voided",
    ),
    "pending-account-mismatch": (
        422, "pending-mismatch", "账户与预授权转账不一致", "Account differs from the pending transfer",
    ),
    "pending-code-mismatch": (
        422, "pending-mismatch", "转账代码与预授权转账不一致", "Code differs from the pending transfer",
    ),
    "void-partial": (422, "pending-mismatch", "撤销金额必须等于预授权金额", "A void releases the full pending amount"),
    "pending-expired": (
        409, "pending-expired", "已过期的预授权只能撤销", "The pending transfer expired; it can only be voided",
    ),
    "amount-exceeds-pending": (
        422, "amount-exceeds-pending", "确认金额超过预授权金额", "Amount exceeds the pending amount",
    ),
}


class RejectionError(Exception):
    """A spec that cannot be applied. ``index`` is its position in the batch, ``field`` the offending field."""

    def __init__(self, message: str, index: int, field: str | None) -> None:
        self.status, self.slug, self.zh, self.en = _MESSAGES[message]
        super().__init__(f"{self.slug}: {self.en}")
        self.index = index
        self.field = field


@dataclass(frozen=True)
class Side:
    """One side of a new transfer and the account flag that limits it: the rule the engine applies and the
    PostgreSQL fast path (``services``) renders into its single statement, so the two cannot drift apart.

    A transfer adds its amount to ``posted`` (or to ``pending`` for a hold) of its ``name`` account. If that
    account has ``limit``, ``posted + pending + amount`` must not exceed its ``bound``: holds count against the
    limit, and only posted money of the other side covers it.
    """

    name: Literal["debit", "credit"]
    posted: str
    pending: str
    limit: AccountFlags
    bound: str

    def allows(self, state: AccountState, amount: int) -> bool:
        if not state.flags & self.limit:
            return True
        return bool(getattr(state, self.posted) + getattr(state, self.pending) + amount <= getattr(state, self.bound))

    def book(self, state: AccountState, amount: int, pending: bool) -> None:
        column = self.pending if pending else self.posted
        setattr(state, column, getattr(state, column) + amount)


DEBIT_SIDE = Side("debit", "debits_posted", "debits_pending", AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, "credits_posted")
CREDIT_SIDE = Side("credit", "credits_posted", "credits_pending", AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS, "debits_posted")
SIDES = (DEBIT_SIDE, CREDIT_SIDE)
# Posted net credit (credits - debits), the figure stored as ``*_balance_after`` on every transfer.
NET_CREDIT = (CREDIT_SIDE.posted, DEBIT_SIDE.posted)


@dataclass
class AccountState:
    id: uuid.UUID
    flags: AccountFlags
    ledger: str
    debits_posted: int = 0
    credits_posted: int = 0
    debits_pending: int = 0
    credits_pending: int = 0
    touched: bool = False

    @property
    def net_credit(self) -> int:
        plus, minus = NET_CREDIT
        return int(getattr(self, plus) - getattr(self, minus))


@dataclass
class PendingState:
    """A pending transfer that a post or void in the batch refers to."""

    id: uuid.UUID
    debit: uuid.UUID
    credit: uuid.UUID
    amount_fen: int
    code: int
    expires_at: datetime | None
    resolved: bool


@dataclass(frozen=True)
class NewTransfer:
    id: uuid.UUID
    debit: uuid.UUID
    credit: uuid.UUID
    amount_fen: int
    code: int
    flags: TransferFlags
    pending_id: uuid.UUID | None
    timeout_seconds: int
    expires_at: datetime | None
    memo: str
    actor: str
    debit_balance_after: int  # net credit (credits - debits posted) of the debit account afterwards
    credit_balance_after: int


def apply_batch(
    specs: Sequence[TransferSpec],
    accounts: Mapping[uuid.UUID, AccountState],
    pendings: dict[uuid.UUID, PendingState],
    now: datetime,
) -> list[NewTransfer]:
    """Apply ``specs`` in order to ``accounts`` (mutated in place) and return the transfers to store.

    ``pendings`` holds the pending transfers referenced by posts/voids; pendings created earlier in the
    same batch are added to it, so a batch may create and resolve a hold.
    """
    seen: set[uuid.UUID] = set()
    out: list[NewTransfer] = []
    last = len(specs) - 1
    for index, spec in enumerate(specs):
        tid = spec.uuid
        if tid in seen:
            raise RejectionError("duplicate-transfer-id", index, "id")
        seen.add(tid)
        check_common(spec, index)
        linked = TransferFlags.LINKED if index < last else TransferFlags.NONE
        kind = spec.kind
        if kind in ("single", "pending"):
            new = _apply_new(spec, tid, index, accounts, pendings, now, linked)
        else:
            new = _apply_resolution(spec, tid, index, accounts, pendings, now, linked)
        out.append(new)
    return out


def check_common(spec: TransferSpec, index: int) -> None:
    """The checks that need no account: memo, kind, timeout, code and amount ranges."""
    if len(spec.memo) > MAX_MEMO:
        raise RejectionError("memo-length", index, "memo")
    if spec.post_pending_id is not None and spec.void_pending_id is not None:
        raise RejectionError("post-and-void", index, "void_pending_id")
    if spec.pending and spec.kind != "pending":
        raise RejectionError("resolution-pending", index, "pending")
    if spec.timeout_seconds and spec.kind != "pending":
        raise RejectionError("timeout-not-pending", index, "timeout_seconds")
    if not 0 <= spec.timeout_seconds <= MAX_TIMEOUT_SECONDS:
        raise RejectionError("timeout-range", index, "timeout_seconds")
    if spec.code is not None and not 1 <= spec.code <= MAX_CODE:
        raise RejectionError("code-range", index, "code")
    if spec.amount_fen is not None and not 0 < spec.amount_fen <= MAX_AMOUNT_FEN:
        raise RejectionError("amount-range", index, "amount_fen")


def _account(
    accounts: Mapping[uuid.UUID, AccountState], account_id: uuid.UUID | None, index: int, field: str
) -> AccountState:
    if account_id is None:
        raise RejectionError("missing-account", index, field)
    state = accounts.get(account_id)
    if state is None:
        raise RejectionError("account-not-found", index, field)
    return state



def _apply_new(
    spec: TransferSpec,
    tid: uuid.UUID,
    index: int,
    accounts: Mapping[uuid.UUID, AccountState],
    pendings: dict[uuid.UUID, PendingState],
    now: datetime,
    linked: TransferFlags,
) -> NewTransfer:
    if spec.amount_fen is None:
        raise RejectionError("amount-missing", index, "amount_fen")
    if spec.code is None:
        raise RejectionError("code-missing", index, "code")
    dr = _account(accounts, spec.debit, index, "debit")
    cr = _account(accounts, spec.credit, index, "credit")
    if dr.id == cr.id:
        raise RejectionError("same-account", index, "credit")
    if dr.ledger != cr.ledger:
        raise RejectionError("ledger-mismatch", index, "credit")
    amount = spec.amount_fen
    for side, state in zip(SIDES, (dr, cr), strict=True):
        if not side.allows(state, amount):
            raise RejectionError("insufficient-funds", index, side.name)
    for side, state in zip(SIDES, (dr, cr), strict=True):
        side.book(state, amount, spec.pending)
    flags = new_flags(spec) | linked
    expires_at = hold_expiry(spec, now)
    if spec.pending:
        pendings[tid] = PendingState(tid, dr.id, cr.id, amount, spec.code, expires_at, resolved=False)
    dr.touched = cr.touched = True
    return NewTransfer(
        id=tid, debit=dr.id, credit=cr.id, amount_fen=amount, code=spec.code, flags=flags, pending_id=None,
        timeout_seconds=spec.timeout_seconds, expires_at=expires_at, memo=spec.memo, actor=spec.actor or "",
        debit_balance_after=dr.net_credit, credit_balance_after=cr.net_credit,
    )


def new_flags(spec: TransferSpec) -> TransferFlags:
    """The flags of a new (single or pending) transfer, before the batch's linked flag."""
    return TransferFlags.PENDING if spec.pending else TransferFlags.NONE


def hold_expiry(spec: TransferSpec, now: datetime) -> datetime | None:
    """When a new hold may be voided by the expiry sweep (None: never, or not a hold)."""
    return now + timedelta(seconds=spec.timeout_seconds) if spec.pending and spec.timeout_seconds else None


def _apply_resolution(
    spec: TransferSpec,
    tid: uuid.UUID,
    index: int,
    accounts: Mapping[uuid.UUID, AccountState],
    pendings: dict[uuid.UUID, PendingState],
    now: datetime,
    linked: TransferFlags,
) -> NewTransfer:
    posting = spec.kind == "post_pending"
    field = "post_pending_id" if posting else "void_pending_id"
    pid = spec.pending_uuid
    pend = pendings.get(pid) if pid is not None else None
    if pend is None:
        raise RejectionError("pending-not-found", index, field)
    if pend.resolved:
        raise RejectionError("pending-already-resolved", index, field)
    for name, given, actual in (("debit", spec.debit, pend.debit), ("credit", spec.credit, pend.credit)):
        if given is not None and given != actual:
            raise RejectionError("pending-account-mismatch", index, name)
    if spec.code is not None and spec.code != pend.code:
        raise RejectionError("pending-code-mismatch", index, "code")
    expired = pend.expires_at is not None and pend.expires_at <= now
    if posting and expired:
        raise RejectionError("pending-expired", index, field)
    if posting:
        amount = pend.amount_fen if spec.amount_fen is None else spec.amount_fen
        if amount > pend.amount_fen:
            raise RejectionError("amount-exceeds-pending", index, "amount_fen")
    else:
        if spec.amount_fen is not None and spec.amount_fen != pend.amount_fen:
            raise RejectionError("void-partial", index, "amount_fen")
        amount = pend.amount_fen
    dr = _account(accounts, pend.debit, index, "debit")
    cr = _account(accounts, pend.credit, index, "credit")
    dr.debits_pending -= pend.amount_fen
    cr.credits_pending -= pend.amount_fen
    if posting:
        dr.debits_posted += amount
        cr.credits_posted += amount
    dr.touched = cr.touched = True
    pend.resolved = True
    flags = (TransferFlags.POST_PENDING if posting else TransferFlags.VOID_PENDING) | linked
    return NewTransfer(
        id=tid, debit=dr.id, credit=cr.id, amount_fen=amount, code=pend.code, flags=flags, pending_id=pend.id,
        timeout_seconds=0, expires_at=None, memo=spec.memo, actor=spec.actor or "",
        debit_balance_after=dr.net_credit, credit_balance_after=cr.net_credit,
    )


def same_payload(spec: TransferSpec, stored: TransferResult) -> bool:
    """Whether ``spec`` describes the already stored transfer (the idempotent-replay check).

    Compared: kind, accounts, amount, code and the pending reference. Memo, actor and timeout are not
    part of the identity of a transfer; the linked flag depends on the batch position and is ignored.
    """
    kind = stored.kind
    if spec.kind != kind or spec.pending_uuid != stored.pending_id:
        return False
    if spec.debit is not None and spec.debit != stored.debit:
        return False
    if spec.credit is not None and spec.credit != stored.credit:
        return False
    if spec.code is not None and spec.code != stored.code:
        return False
    if kind in ("single", "pending"):
        return spec.amount_fen == stored.amount_fen and spec.debit is not None and spec.credit is not None
    return spec.amount_fen is None or spec.amount_fen == stored.amount_fen
