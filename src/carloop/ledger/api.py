"""Ledger JSON API, mounted at /api/v1/ledger/.

Writes (manual adjustments, opening accounts) are for finance operations only (``services.manual_transfers``,
``services.open_account_for`` check it); reads follow ``selectors.readable_by``. Amounts are yuan decimal strings.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from ninja.responses import Response
from pydantic import Field

from carloop.core.authz import request_subject
from carloop.core.idempotency import REPLAY_HEADER, idempotent, service_key
from carloop.core.ids import new_id
from carloop.core.money import Yuan, parse_yuan, yuan_str
from carloop.core.pagination import Limit, Page
from carloop.ledger import selectors, services
from carloop.ledger.contracts import AccountFlags, AccountInfo, Balance, TransferFlags, TransferResult, TransferSpec

router = Router(tags=["ledger"])

FlagName = Literal["debits_must_not_exceed_credits", "credits_must_not_exceed_debits", "history"]
_FLAG_BY_NAME = {
    "debits_must_not_exceed_credits": AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
    "credits_must_not_exceed_debits": AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
    "history": AccountFlags.HISTORY,
}


def flag_names(flags: AccountFlags) -> list[str]:
    return [name for name, bit in _FLAG_BY_NAME.items() if flags & bit]


class AccountIn(Schema):
    key: str = Field(min_length=1, max_length=200)
    name: str = Field(min_length=1, max_length=200)
    code: int = Field(ge=1, le=65535)
    flags: list[FlagName] = []
    owner: str = Field(default="", max_length=80)


class AccountOut(Schema):
    id: uuid.UUID
    key: str
    name: str
    owner: str
    ledger: str
    code: int
    flags: list[str]
    debits_posted: str
    credits_posted: str
    debits_pending: str
    credits_pending: str
    normal_side: Literal["debit", "credit"]
    balance: str
    available: str
    created_at: datetime


def account_out(info: AccountInfo, bal: Balance) -> AccountOut:
    return AccountOut(
        id=info.id, key=info.key, name=info.name, owner=info.owner, ledger=info.ledger, code=info.code,
        flags=flag_names(info.flags), debits_posted=yuan_str(bal.debits_posted), credits_posted=yuan_str(bal.credits_posted),
        debits_pending=yuan_str(bal.debits_pending), credits_pending=yuan_str(bal.credits_pending),
        normal_side="debit" if bal.debit_normal else "credit", balance=yuan_str(bal.balance_fen),
        available=yuan_str(bal.available_fen), created_at=info.created_at,
    )


class TransferIn(Schema):
    id: str | None = Field(default=None, max_length=200,
                           description="Transfer id (UUID or any key); default: from the caller's Idempotency-Key, else new")
    debit: uuid.UUID | None = None
    credit: uuid.UUID | None = None
    amount: Yuan | None = None
    code: int | None = None
    memo: str = ""
    pending: bool = False
    timeout_seconds: int = Field(default=0, ge=0)
    post_pending_id: str | None = Field(default=None, max_length=200)
    void_pending_id: str | None = Field(default=None, max_length=200)


class BatchIn(Schema):
    transfers: list[TransferIn] = Field(min_length=1, max_length=1000)


class TransferOut(Schema):
    id: uuid.UUID
    kind: str
    debit: uuid.UUID
    credit: uuid.UUID
    amount: str
    code: int
    pending_id: uuid.UUID | None
    linked: bool
    memo: str
    actor: str
    created_at: datetime
    expires_at: datetime | None
    replayed: bool


def transfer_out(r: TransferResult) -> TransferOut:
    return TransferOut(
        id=r.id, kind=r.kind, debit=r.debit, credit=r.credit, amount=yuan_str(r.amount_fen), code=r.code,
        pending_id=r.pending_id, linked=bool(r.flags & TransferFlags.LINKED), memo=r.memo, actor=r.actor, created_at=r.created_at,
        expires_at=r.expires_at, replayed=r.replayed,
    )


def _specs(request: HttpRequest, items: list[TransferIn], actor: str, *, batch: bool) -> Iterator[TransferSpec]:
    """The transfers asked for, parsed one by one as the service reads them (after its role check)."""
    key = service_key(request)  # scoped to the caller: another operator's key is another transfer
    for index, body in enumerate(items):
        field = f"transfers.{index}.amount" if batch else "amount"
        default_id = (f"api:{key}:{index}" if batch else f"api:{key}") if key else str(new_id())
        yield TransferSpec(
            id=body.id or default_id, debit=body.debit, credit=body.credit,
            amount_fen=parse_yuan(body.amount, field=field) if body.amount is not None else None,
            code=body.code, memo=body.memo, pending=body.pending, timeout_seconds=body.timeout_seconds,
            post_pending_id=body.post_pending_id, void_pending_id=body.void_pending_id, actor=actor,
        )


def _created(data: Any, replayed: bool) -> HttpResponse:
    response = Response(data, status=201)
    if replayed:
        response[REPLAY_HEADER] = "true"
    return response


@router.post("/transfers", response={201: TransferOut}, summary="Manual transfer (finance ops)")
@idempotent
def create_transfer(request: HttpRequest, body: TransferIn) -> Any:
    subject = request_subject(request)
    [result] = services.manual_transfers(subject, _specs(request, [body], subject.ref, batch=False))
    return _created(transfer_out(result).model_dump(mode="json"), result.replayed)


@router.post("/transfers/batch", response={201: list[TransferOut]},
             summary="Linked batch: all transfers commit or none (finance ops)")
@idempotent
def create_transfer_batch(request: HttpRequest, body: BatchIn) -> Any:
    subject = request_subject(request)
    results = services.manual_transfers(subject, _specs(request, body.transfers, subject.ref, batch=True), batch=True)
    return _created([transfer_out(r).model_dump(mode="json") for r in results], all(r.replayed for r in results))


@router.get("/transfers/{transfer_id}", response=TransferOut, summary="One transfer (finance ops, admin, ops)")
def get_transfer(request: HttpRequest, transfer_id: str) -> TransferOut:
    subject = request_subject(request)
    subject.require_authenticated()
    return transfer_out(selectors.transfer_readable_by(subject, transfer_id))


@router.post("/accounts", response={201: AccountOut}, summary="Open an account (finance ops; idempotent by key)")
def create_account(request: HttpRequest, body: AccountIn) -> Any:
    flags = AccountFlags.NONE
    for name in body.flags:
        flags |= _FLAG_BY_NAME[name]
    info = services.open_account_for(request_subject(request), key=body.key, name=body.name, code=body.code, flags=flags,
                                     owner=body.owner)
    return Status(201, account_out(info, selectors.balance(info.id)))


class AccountListQuery(Page):
    owner: str | None = None
    code: int | None = None


@router.get("/accounts", response=list[AccountOut], summary="Accounts the caller may read")
def list_accounts(request: HttpRequest, query: Query[AccountListQuery]) -> list[AccountOut]:
    subject = request_subject(request)
    subject.require_authenticated()
    return [account_out(info, bal) for info, bal in selectors.list_readable(
        subject, owner=query.owner, code=query.code, offset=query.offset, limit=query.limit)]


@router.get("/accounts/{account_id}", response=AccountOut, summary="Account with posted/pending totals and balance")
def get_account(request: HttpRequest, account_id: uuid.UUID) -> AccountOut:
    subject = request_subject(request)
    subject.require_authenticated()
    info, bal = selectors.account_with_balance(subject, account_id)
    return account_out(info, bal)


class StatementLineOut(Schema):
    transfer_id: uuid.UUID
    created_at: datetime
    side: str
    kind: str
    amount: str
    code: int
    memo: str
    counterparty: uuid.UUID
    balance_after: str


class StatementOut(Schema):
    account: AccountOut
    lines: list[StatementLineOut]
    next_cursor: str | None


class StatementQuery(Limit):
    cursor: str | None = None


@router.get("/accounts/{account_id}/statement", response=StatementOut, summary="Balance history, newest first (keyset pages)")
def get_statement(
    request: HttpRequest, account_id: uuid.UUID, query: Query[StatementQuery]
) -> StatementOut:
    subject = request_subject(request)
    subject.require_authenticated()
    info, bal = selectors.account_with_balance(subject, account_id)
    page = selectors.statement(info.id, cursor=query.cursor, limit=query.limit)
    return StatementOut(
        account=account_out(info, bal),
        lines=[
            StatementLineOut(
                transfer_id=line.transfer_id, created_at=line.created_at, side=line.side, kind=line.kind,
                amount=yuan_str(line.amount_fen), code=line.code, memo=line.memo, counterparty=line.counterparty,
                balance_after=yuan_str(line.balance_after_fen),
            )
            for line in page.lines
        ],
        next_cursor=page.next_cursor,
    )
