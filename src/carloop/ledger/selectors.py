"""Ledger queries: balances, transfers, statements, and what a subject may read."""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Iterable

from django.db.models import Q, QuerySet, Sum

from carloop.core.authz import ADMIN, FINANCE_OPS, OPS, Subject
from carloop.core.errors import FieldError, Invalid, NotFound
from carloop.ledger.contracts import (
    AccountFlags,
    AccountInfo,
    Balance,
    StatementLine,
    StatementPage,
    TransferResult,
    transfer_uuid,
)
from carloop.ledger.models import Account, Transfer
from carloop.ledger.services import is_debit_normal, stored_result

READER_ROLES = (FINANCE_OPS, ADMIN, OPS)  # operator roles that may read every account
MAX_PAGE = 200


def reads_every_account(subject: Subject) -> bool:
    """Finance ops, admin and ops read every account and transfer (and the operator pages over them)."""
    return subject.has_role(*READER_ROLES)


def readable_by(subject: Subject) -> QuerySet[Account]:
    """Accounts ``subject`` may read: all for finance ops/admin/ops, otherwise the subject's own
    (``owner`` = ``user:<uuid>``) and its organisations' (``org:<uuid>``)."""
    if reads_every_account(subject):
        return Account.objects.all()
    owners = [f"org:{org}" for org in subject.org_ids()]
    if subject.kind == "customer" and subject.user_id:
        owners.append(f"user:{subject.user_id}")
    return Account.objects.filter(owner__in=owners) if owners else Account.objects.none()


def _info(acct: Account) -> AccountInfo:
    return AccountInfo(
        id=acct.id, key=acct.key, name=acct.name, owner=acct.owner, ledger=acct.ledger, code=acct.code,
        flags=AccountFlags(acct.flags), created_at=acct.created_at,
    )


def _balance(acct: Account) -> Balance:
    return Balance(
        account_id=acct.id, flags=AccountFlags(acct.flags), debits_posted=acct.debits_posted,
        credits_posted=acct.credits_posted, debits_pending=acct.debits_pending, credits_pending=acct.credits_pending,
        debit_normal=is_debit_normal(acct.key, acct.flags),
    )


def get_account(account_id: uuid.UUID | str) -> AccountInfo | None:
    acct = Account.objects.filter(pk=account_id).first()
    return _info(acct) if acct else None


def account_by_key(key: str) -> AccountInfo | None:
    acct = Account.objects.filter(key=key).first()
    return _info(acct) if acct else None


def accounts_of(owner: str) -> list[AccountInfo]:
    return [_info(a) for a in Account.objects.filter(owner=owner).order_by("key")]


def balance(account_id: uuid.UUID | str) -> Balance:
    """Current totals of an account; 404 ``Problem`` if it does not exist."""
    acct = Account.objects.filter(pk=account_id).first()
    if acct is None:
        raise NotFound("账户不存在", "Account not found")
    return _balance(acct)


def balances(account_ids: list[uuid.UUID]) -> dict[uuid.UUID, Balance]:
    return {a.id: _balance(a) for a in Account.objects.filter(pk__in=account_ids)}


def account_with_balance(subject: Subject, account_id: uuid.UUID | str) -> tuple[AccountInfo, Balance]:
    """For API and pages: 404 unless ``subject`` may read the account."""
    acct = readable_by(subject).filter(pk=account_id).first()
    if acct is None:
        raise NotFound("账户不存在", "Account not found")
    return _info(acct), _balance(acct)


def list_readable(
    subject: Subject, *, owner: str | None = None, code: int | None = None, offset: int = 0, limit: int = 100
) -> list[tuple[AccountInfo, Balance]]:
    """One page (``offset``, ``limit``) of the accounts ``subject`` may read, by key, optionally filtered by owner
    and account code."""
    qs = readable_by(subject)
    if owner:
        qs = qs.filter(owner=owner)
    if code is not None:
        qs = qs.filter(code=code)
    return [(_info(a), _balance(a)) for a in qs.order_by("key")[offset : offset + limit]]


def search_accounts(subject: Subject, query: str = "") -> QuerySet[Account]:
    """For the operator list: readable accounts matching ``query`` in key, name or owner, by key."""
    qs = readable_by(subject)
    if query:
        qs = qs.filter(Q(key__icontains=query) | Q(name__icontains=query) | Q(owner__icontains=query))
    return qs.order_by("key")


def with_balances(accounts: Iterable[Account]) -> list[tuple[AccountInfo, Balance]]:
    return [(_info(a), _balance(a)) for a in accounts]


def account_names(account_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    return dict(Account.objects.filter(pk__in=set(account_ids)).values_list("id", "name"))


def get_transfer(transfer_id: uuid.UUID | str) -> TransferResult | None:
    row = Transfer.objects.filter(pk=transfer_uuid(transfer_id)).first()
    return stored_result(row) if row else None


def transfer_readable_by(subject: Subject, transfer_id: str) -> TransferResult:
    """One transfer (by UUID or any key), for those who read every account; 404 for everyone else and for none."""
    if not reads_every_account(subject):
        raise NotFound()
    try:
        result = get_transfer(transfer_id)
    except ValueError:
        result = None
    if result is None:
        raise NotFound("转账不存在", "Transfer not found")
    return result


TOTAL_FIELDS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")


def totals() -> dict[str, int]:
    """Σ over all accounts per ledger (``"CNY:debits_posted"`` …), for invariant checks and the operator page."""
    out: dict[str, int] = {}
    for row in Account.objects.values("ledger").annotate(**{f"sum_{f}": Sum(f) for f in TOTAL_FIELDS}).order_by():
        for f in TOTAL_FIELDS:
            out[f"{row['ledger']}:{f}"] = int(row[f"sum_{f}"] or 0)
    return out


# ------------------------------------------------------------------------------------------------- statements


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"seq:{seq}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        prefix, _, seq = raw.partition(":")
        if prefix != "seq" or not seq.isdigit():
            raise ValueError("not a statement cursor")
        return int(seq)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise Invalid(
            "invalid-cursor", "分页游标无效", "Invalid page cursor",
            [FieldError("/cursor", "分页游标无效", "Invalid page cursor")],
        ) from None


def statement(account_id: uuid.UUID, *, cursor: str | None = None, limit: int = 50) -> StatementPage:
    """Transfers touching the account, newest first, with the account's posted balance after each.

    Ordered by the transfers' ``seq`` (the order they were applied, so the balances follow each other even within
    a batch); keyset pagination on it: pass ``next_cursor`` back as ``cursor`` for the next page.
    """
    acct = Account.objects.filter(pk=account_id).only("id", "key", "flags").first()
    if acct is None:
        raise NotFound("账户不存在", "Account not found")
    limit = max(1, min(limit, MAX_PAGE))
    after = Q()
    if cursor:
        after = Q(seq__lt=_decode_cursor(cursor))
    rows: list[Transfer] = []
    for side in ("debit", "credit"):
        rows.extend(
            Transfer.objects.filter(after, **{f"{side}_id": acct.id}).order_by("-seq")[: limit + 1]
        )
    rows.sort(key=lambda r: r.seq, reverse=True)
    page, more = rows[:limit], len(rows) > limit
    debit_normal = is_debit_normal(acct.key, acct.flags)
    lines = []
    for row in page:
        is_debit = row.debit_id == acct.id
        net = row.debit_balance_after if is_debit else row.credit_balance_after
        lines.append(
            StatementLine(
                transfer_id=row.id, created_at=row.created_at, side="debit" if is_debit else "credit",
                kind=stored_result(row).kind, amount_fen=row.amount_fen, code=row.code, memo=row.memo,
                counterparty=row.credit_id if is_debit else row.debit_id,
                balance_after_fen=-net if debit_normal else net,
            )
        )
    next_cursor = encode_cursor(page[-1].seq) if more and page else None
    return StatementPage(lines=lines, next_cursor=next_cursor)
