"""The only way money moves: open accounts and create transfers (single, pending/post/void, linked batches).

Every command runs in its own ``transaction.atomic()`` (a savepoint inside the caller's transaction), locks
the touched account rows with ``SELECT … FOR NO KEY UPDATE`` in primary-key order (so concurrent transfers
never deadlock on each other), applies :mod:`carloop.ledger.engine` and writes the transfers and balances.
Transfer ids are idempotency keys: the insert uses ``ON CONFLICT DO NOTHING`` and a conflict is answered as an
idempotent replay (same payload) or a 422 ``transfer-id-reused``.
"""

from __future__ import annotations

import functools
import random
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from django.db import DatabaseError, IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from carloop.core import audit
from carloop.core.authz import FINANCE_OPS, Subject
from carloop.core.errors import Conflict, FieldError, Invalid, Problem
from carloop.ledger import engine
from carloop.ledger.contracts import (
    LEDGER_CNY,
    AccountFlags,
    AccountInfo,
    TransferFlags,
    TransferResult,
    TransferSpec,
)
from carloop.ledger.models import Account, Transfer

MAX_ATTEMPTS = 8
# Transactions locking more accounts than this first take one advisory lock, so wide batches queue behind each
# other instead of each holding part of its row locks while waiting for the rest (a lock convoy).
WIDE_BATCH_ACCOUNTS = 32
_WIDE_BATCH_LOCK = 0x1ED6E5
RETRYABLE_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock_detected, serialization_failure
# admin_shutdown (pg_terminate_backend), crash_shutdown, cannot_connect_now; class 08 and no SQLSTATE at all
# ("server closed the connection unexpectedly") also mean the connection is gone.
CONNECTION_LOST_SQLSTATES = frozenset({"57P01", "57P02", "57P03"})
# duplicate_prepared_statement, invalid_sql_statement_name: psycopg's record of the connection's prepared
# statements is out of step with the server's (seen under backend terminations); a fresh connection starts clean.
STALE_PREPARED_SQLSTATES = frozenset({"42P05", "26000"})
_LIMIT_CONSTRAINTS = frozenset({"ledger_account_debits_within_credits", "ledger_account_credits_within_debits"})
KNOWN_ACCOUNT_FLAGS = (
    AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS | AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS | AccountFlags.HISTORY
)
LEDGERS = (LEDGER_CNY,)
_API_FIELD = {"amount_fen": "amount"}  # pointers name the API's field where it differs from the Python one

# Well-known platform accounts: name -> (code, name zh, name en, debit-normal). Codes documented in docs/ledger.md.
SYSTEM_ACCOUNTS: dict[str, tuple[int, str, str, bool]] = {
    "platform_cash": (1001, "平台银行存款", "Platform cash at bank", True),
    "payment_clearing": (1002, "支付通道清算", "Payment gateway clearing", True),
    "platform_revenue": (1101, "平台收入", "Platform revenue", False),
    "promotion_expense": (1201, "平台补贴支出", "Promotion and subsidy expense", True),
    "suspense": (1901, "待查明款项", "Suspense", False),
    "rounding": (1902, "尾差调整", "Rounding differences", False),
    "external": (1999, "外部世界", "External world (money entering or leaving carloop)", False),
}
_DEBIT_NORMAL_KEYS = frozenset(f"system:{name}" for name, spec in SYSTEM_ACCOUNTS.items() if spec[3])


def is_debit_normal(key: str, flags: AccountFlags | int) -> bool:
    """Which side an account's balance is reported on: debit for accounts flagged CREDITS_MUST_NOT_EXCEED_DEBITS
    (receivables) and for the platform's asset and expense accounts, credit otherwise."""
    return bool(flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS) or key in _DEBIT_NORMAL_KEYS


# Transfer codes of the ledger's own range (1000-1999); see docs/ledger.md.
CODE_CAPITAL = 1001  # capital injected into the platform
CODE_SETTLEMENT = 1002  # payment gateway clearing settled into the bank account
CODE_SUSPENSE_IN = 1003  # money received that cannot yet be matched
CODE_SUSPENSE_OUT = 1004  # suspense matched or returned to the payer


class _Collision(Exception):  # noqa: N818 - control flow, never escapes this module
    """Some transfer ids of the batch already exist: answer as a replay or refuse."""


# --------------------------------------------------------------------------------------------------- accounts


def _account_info(acct: Account) -> AccountInfo:
    return AccountInfo(
        id=acct.id, key=acct.key, name=acct.name, owner=acct.owner, ledger=acct.ledger, code=acct.code,
        flags=AccountFlags(acct.flags), created_at=acct.created_at,
    )


def open_account(
    *,
    key: str,
    name: str,
    code: int,
    flags: AccountFlags = AccountFlags.NONE,
    owner: str = "",
    ledger: str = LEDGER_CNY,
) -> AccountInfo:
    """Open an account, idempotent by ``key``: an existing account is returned if code, flags, owner and
    ledger match, otherwise 409 ``account-key-conflict``."""
    errors = []
    if not key.strip() or len(key) > 200:
        errors.append(FieldError("/key", "账户键不能为空且不超过 200 个字符", "Key must be 1..200 characters"))
    if not name.strip() or len(name) > 200:
        errors.append(FieldError("/name", "名称不能为空且不超过 200 个字符", "Name must be 1..200 characters"))
    if not 1 <= code <= engine.MAX_CODE:
        errors.append(FieldError("/code", f"账户代码须在 1 到 {engine.MAX_CODE} 之间", f"Code must be 1..{engine.MAX_CODE}"))
    if int(flags) & ~int(KNOWN_ACCOUNT_FLAGS):
        errors.append(FieldError("/flags", "未知的账户标志", "Unknown account flags"))
    if flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS and flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS:
        errors.append(FieldError("/flags", "两个余额限制标志不能同时设置", "The two balance limits are mutually exclusive"))
    if len(owner) > 80:
        errors.append(FieldError("/owner", "所有者过长", "Owner too long"))
    if ledger not in LEDGERS:
        errors.append(FieldError("/ledger", "不支持的账本", "Unsupported ledger"))
    if errors:
        raise Invalid("invalid-account", "账户信息无效", "Invalid account", errors)
    with transaction.atomic():
        acct, created = Account.objects.get_or_create(
            key=key, defaults={"name": name, "code": code, "flags": int(flags), "owner": owner, "ledger": ledger}
        )
    if not created and (acct.code, acct.flags, acct.owner, acct.ledger) != (code, int(flags), owner, ledger):
        raise Conflict(
            "account-key-conflict", "该账户键已用于不同设置的账户", "This account key exists with different settings"
        )
    return _account_info(acct)


def system_account(name: str) -> AccountInfo:
    """A well-known platform account (see :data:`SYSTEM_ACCOUNTS`), created on first use."""
    try:
        code, zh, _en, _debit_normal = SYSTEM_ACCOUNTS[name]
    except KeyError:
        raise ValueError(f"unknown system account {name!r}; known: {', '.join(SYSTEM_ACCOUNTS)}") from None
    return open_account(key=f"system:{name}", name=zh, code=code)


# -------------------------------------------------------------------------------------------------- transfers


def transfer(
    *,
    id: uuid.UUID | str,  # noqa: A002 - the ledger API names it id
    debit: uuid.UUID,
    credit: uuid.UUID,
    amount_fen: int,
    code: int,
    memo: str = "",
    pending: bool = False,
    timeout_seconds: int = 0,
    actor: str | None = None,
) -> TransferResult:
    """Move ``amount_fen`` from ``debit`` to ``credit`` (or hold it when ``pending``)."""
    spec = TransferSpec(
        id=id, debit=debit, credit=credit, amount_fen=amount_fen, code=code, memo=memo, pending=pending,
        timeout_seconds=timeout_seconds, actor=actor,
    )
    return _execute([spec], batch=False)[0]


def post_pending(
    *,
    id: uuid.UUID | str,  # noqa: A002
    pending_id: uuid.UUID | str,
    amount_fen: int | None = None,
    memo: str = "",
    actor: str | None = None,
) -> TransferResult:
    """Post a pending transfer, fully (``amount_fen=None``) or partially; the rest of the hold is released."""
    spec = TransferSpec(id=id, post_pending_id=pending_id, amount_fen=amount_fen, memo=memo, actor=actor)
    return _execute([spec], batch=False)[0]


def void_pending(
    *,
    id: uuid.UUID | str,  # noqa: A002
    pending_id: uuid.UUID | str,
    memo: str = "",
    actor: str | None = None,
) -> TransferResult:
    """Release a pending transfer's hold without moving money."""
    spec = TransferSpec(id=id, void_pending_id=pending_id, memo=memo, actor=actor)
    return _execute([spec], batch=False)[0]


def submit(spec: TransferSpec) -> TransferResult:
    """One transfer of any kind (single, pending, post or void) described by a spec; not linked to others."""
    return _execute([spec], batch=False)[0]


def transfer_batch(specs: Sequence[TransferSpec]) -> list[TransferResult]:
    """Apply ``specs`` as one linked chain: all of them commit, or none (the first failure is raised)."""
    if not specs:
        return []
    return _execute(list(specs), batch=True)


def manual_transfers(subject: Subject, specs: Iterable[TransferSpec], *, batch: bool = False) -> list[TransferResult]:
    """Finance operations move money by hand (the ledger API): one transfer, or a linked batch that commits whole.
    ``specs`` is read only after the role check. A transfer id names one transfer: replaying it answers only the
    caller who made it (409 ``transfer-id-taken`` otherwise). Each new transfer is audited."""
    subject.require_role(FINANCE_OPS)
    todo = list(specs)
    with transaction.atomic():
        results = transfer_batch(todo) if batch else [submit(spec) for spec in todo]
        for i, r in enumerate(results):
            if r.replayed and r.actor != subject.ref:
                pointer = "/id" if len(results) == 1 else f"/transfers/{i}/id"
                raise Problem(409, "transfer-id-taken", "该转账编号已被其他调用方使用",
                              "This transfer id is already taken by another caller",
                              errors=[FieldError(pointer, "请换一个转账编号", "Choose another transfer id")])
        for r in results:
            if not r.replayed:
                audit.record(subject.ref, "ledger.manual_transfer", "ledger.transfer", r.id,
                             {"debit": str(r.debit), "credit": str(r.credit), "amount_fen": r.amount_fen, "code": r.code,
                              "kind": r.kind})
    return results


def open_account_for(subject: Subject, *, key: str, name: str, code: int, flags: AccountFlags = AccountFlags.NONE,
                     owner: str = "") -> AccountInfo:
    """Finance operations open an account by hand (:func:`open_account`, idempotent by key), audited."""
    subject.require_role(FINANCE_OPS)
    with transaction.atomic():
        info = open_account(key=key, name=name, code=code, flags=flags, owner=owner)
        audit.record(subject.ref, "ledger.open_account", "ledger.account", info.id, {"key": info.key, "flags": int(flags)})
    return info


def void_expired_pendings(now: datetime | None = None, limit: int = 1000) -> int:
    """Void pending transfers whose timeout passed; returns how many were voided. Idempotent."""
    cutoff = now or timezone.now()
    expired = list(
        Transfer.objects.filter(expires_at__lte=cutoff, resolutions__isnull=True)
        .order_by("expires_at")
        .values_list("id", flat=True)[:limit]
    )
    voided = 0
    for pending_id in expired:
        try:
            void_pending(id=f"ledger:expire:{pending_id}", pending_id=pending_id, memo="超时自动撤销", actor="system")
        except Problem as exc:
            if exc.slug != "pending-already-resolved":  # posted (or voided) concurrently: nothing to do
                raise
        else:
            voided += 1
    return voided


def _pointer(field: str | None, index: int, batch: bool) -> str:
    name = _API_FIELD.get(field or "", field or "")
    prefix = f"/transfers/{index}" if batch else ""
    return f"{prefix}/{name}" if name else prefix or "/"


def _problem(rej: engine.RejectionError, batch: bool) -> Problem:
    return Problem(
        rej.status, rej.slug, rej.zh, rej.en,
        errors=[FieldError(_pointer(rej.field, rej.index, batch), rej.zh, rej.en)],
        extra={"index": rej.index} if batch else {},
    )


def _check_ids(specs: Sequence[TransferSpec], batch: bool) -> None:
    """Every transfer id and pending reference must map to a UUID (422 otherwise)."""
    for index, spec in enumerate(specs):
        try:
            _ = spec.uuid, spec.pending_uuid
        except (ValueError, AttributeError, TypeError):
            raise Invalid(
                "invalid-transfer-id", "转账编号无效", "Invalid transfer id",
                [FieldError(_pointer("id", index, batch), "转账编号无效", "Invalid transfer id")],
            ) from None


def _stale_connection(exc: DatabaseError) -> bool:
    """Whether the PostgreSQL connection must be replaced before a new attempt: the server ended it or it broke
    (a lost-connection SQLSTATE, class 08, or a driver error with no SQLSTATE at all, such as protocol data out of
    order from a dying backend), or its prepared statements are out of step with the server's."""
    if connection.vendor != "postgresql":
        return False
    import psycopg

    cause = exc.__cause__
    if not isinstance(cause, psycopg.Error):
        return False
    sqlstate = cause.sqlstate
    return (sqlstate is None or sqlstate in CONNECTION_LOST_SQLSTATES or sqlstate in STALE_PREPARED_SQLSTATES
            or sqlstate.startswith("08"))


def _transient(exc: DatabaseError) -> bool:
    """A failure that a new attempt can get past: a deadlock, a serialization failure, or a connection to replace."""
    return getattr(exc.__cause__, "sqlstate", None) in RETRYABLE_SQLSTATES or _stale_connection(exc)


def _retry_problem() -> Problem:
    return Problem(
        503, "retry-transaction",
        "数据库冲突或连接中断，转账未完成；请重试整个事务",
        "A database conflict or a lost connection stopped the transfer; retry the whole transaction",
    )


def _constraint_problem(exc: IntegrityError) -> Problem | None:
    """A CHECK constraint of the ledger tables refused the write (the rules should have refused it first)."""
    cause = exc.__cause__
    diag = getattr(cause, "diag", None)
    name = getattr(diag, "constraint_name", None) or str(exc).rpartition("CHECK constraint failed: ")[2].strip()
    sqlstate = getattr(cause, "sqlstate", None)
    if sqlstate != "23514" and "CHECK constraint failed" not in str(exc):
        return None
    if name in _LIMIT_CONSTRAINTS:
        return Conflict("insufficient-funds", "账户余额不足", "Insufficient funds in the account")
    return Conflict(
        "ledger-constraint-violated", "账本数据约束拒绝了该转账", "A ledger constraint refused the transfer",
        constraint=name,
    )


def _execute(specs: list[TransferSpec], *, batch: bool) -> list[TransferResult]:
    """Run the command, retrying transient failures. Outside a caller's transaction every attempt is a
    transaction of its own, so a retry (on a fresh connection when it was lost) is safe: transfer ids make a
    replay of a committed attempt idempotent. Inside a caller's transaction the caller's work is lost or
    holds locks no retry here can release, so the failure is a 503 ``retry-transaction`` problem."""
    _check_ids(specs, batch)
    in_callers_transaction = connection.in_atomic_block
    for attempt in range(MAX_ATTEMPTS):
        try:
            return _attempt(specs, batch)
        except IntegrityError as exc:
            problem = _constraint_problem(exc)
            if problem is None:
                raise
            raise problem from exc
        except DatabaseError as exc:
            if not _transient(exc):
                raise
            if in_callers_transaction or attempt == MAX_ATTEMPTS - 1:
                raise _retry_problem() from exc
            if _stale_connection(exc):
                connection.close()  # the next attempt connects afresh
        time.sleep(random.uniform(0, 0.002 * 2**attempt))  # float-ok: back-off seconds, not money
    raise AssertionError("unreachable")


_BALANCE_COLUMNS = ("debits_posted", "credits_posted", "debits_pending", "credits_pending")

# The hot path is raw SQL: one statement each to lock, insert and update, whatever the batch size. On
# PostgreSQL the rows travel as arrays (``= ANY``, ``unnest``) so the statement text stays constant.
_TRANSFER_COLUMNS = (
    ("id", "uuid"), ("debit_id", "uuid"), ("credit_id", "uuid"), ("amount_fen", "bigint"), ("ledger", "text"),
    ("code", "integer"), ("flags", "smallint"), ("pending_id", "uuid"), ("timeout_seconds", "integer"),
    ("expires_at", "timestamptz"), ("memo", "text"), ("actor", "text"), ("created_at", "timestamptz"),
    ("debit_balance_after", "bigint"), ("credit_balance_after", "bigint"),
)


def _postgres() -> bool:
    return connection.vendor == "postgresql"


@contextmanager
def _cursor() -> Iterator[Any]:
    """A cursor for the hot-path statements. On PostgreSQL a plain psycopg cursor on Django's connection (same
    transaction): server-side parameter binding sends the arrays in binary and lets psycopg prepare the
    statements after a few uses, where Django's client-side binding would quote every element as text. The
    arrays use ``%b`` placeholders (binary format). Its errors pass through Django's error wrapper, so they are
    Django's ``DatabaseError``s (the psycopg error as ``__cause__``) and a broken connection is known to Django,
    which drops it at the next ``close_old_connections``."""
    with connection.wrap_database_errors:
        if _postgres():
            import psycopg

            raw = connection.connection
            if raw is not None and not connection.in_atomic_block and (
                    raw.info.transaction_status != psycopg.pq.TransactionStatus.IDLE or not raw.autocommit):
                # Outside a caller's transaction the statement must commit by itself: a connection something left
                # inside a transaction (a failed COMMIT, a driver error) would take the write in uncommitted and
                # the caller would be told "ok" for it. Start afresh instead.
                connection.close()
            connection.ensure_connection()
            cursor: Any = psycopg.Cursor(connection.connection)
        else:
            cursor = connection.cursor()
        with cursor:
            yield cursor


def _as_uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def _db_uuid(value: uuid.UUID | None) -> Any:
    return Account._meta.get_field("id").get_db_prep_value(value, connection)


def _lock_accounts(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, engine.AccountState]:
    """Lock the rows in primary-key order and read their balances."""
    wanted = sorted(ids)
    if not wanted:
        return {}
    qn = connection.ops.quote_name
    select = (
        f"SELECT {qn('id')}, {qn('flags')}, {qn('ledger')}, {', '.join(qn(c) for c in _BALANCE_COLUMNS)} "
        f"FROM {qn(Account._meta.db_table)} WHERE "
    )
    if _postgres():
        if len(wanted) > WIDE_BATCH_ACCOUNTS:
            with _cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_WIDE_BATCH_LOCK])
        sql = select + f"{qn('id')} = ANY(%b::uuid[]) ORDER BY {qn('id')} FOR NO KEY UPDATE"
        params: list[Any] = [wanted]
    else:
        sql = select + f"{qn('id')} IN ({', '.join(['%s'] * len(wanted))}) ORDER BY {qn('id')}"
        params = [_db_uuid(i) for i in wanted]
    with _cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    states = {}
    for row in rows:
        acct = _as_uuid(row[0])
        states[acct] = engine.AccountState(
            id=acct, flags=AccountFlags(row[1]), ledger=row[2], debits_posted=row[3], credits_posted=row[4],
            debits_pending=row[5], credits_pending=row[6],
        )
    return states


def _load_pendings(specs: Sequence[TransferSpec]) -> dict[uuid.UUID, engine.PendingState]:
    wanted = {pid for spec in specs if (pid := spec.pending_uuid) is not None}
    if not wanted:
        return {}
    rows = Transfer.objects.filter(pk__in=wanted).values_list(
        "id", "debit_id", "credit_id", "amount_fen", "code", "expires_at", "flags"
    )
    return {
        row[0]: engine.PendingState(row[0], row[1], row[2], row[3], row[4], row[5], resolved=False)
        for row in rows
        if row[6] & TransferFlags.PENDING
    }


def _attempt(specs: list[TransferSpec], batch: bool) -> list[TransferResult]:
    if not batch and _postgres():
        fast = _fast_single(specs[0])
        if fast is not None:
            return [fast]
    return _attempt_locked(specs, batch)


def _fast_single(spec: TransferSpec) -> TransferResult | None:
    """PostgreSQL: a new single transfer or hold in one statement (one round trip outside a caller's transaction).

    The statement locks both accounts in primary-key order, checks what the engine checks against the accounts
    (both exist, same ledger, each side's limit: rendered from :data:`engine.SIDES`), inserts the transfer
    (``ON CONFLICT DO NOTHING``) and stores both balances. None when the spec is not such a transfer or the
    statement wrote nothing (an account missing, a limit, the id taken): the caller then runs the general path,
    which refuses with the engine's own problem, replays, or books a transfer that became possible meanwhile.
    """
    if (
        spec.kind not in ("single", "pending") or spec.debit is None or spec.credit is None
        or spec.amount_fen is None or spec.code is None or spec.debit == spec.credit
    ):
        return None
    try:
        engine.check_common(spec, 0)
    except engine.RejectionError:
        return None  # the general path answers (a replay, or the engine's problem)
    from psycopg.types.numeric import Int2, Int4, Int8

    now = timezone.now()
    tid, held = spec.uuid, spec.pending
    expires_at = engine.hold_expiry(spec, now)
    flags = engine.new_flags(spec)
    params = {
        "id": tid, "debit": spec.debit, "credit": spec.credit, "amount": Int8(spec.amount_fen),
        "posted": Int8(0 if held else spec.amount_fen), "held": Int8(spec.amount_fen if held else 0),
        "ledger": LEDGER_CNY, "code": Int4(spec.code), "flags": Int2(int(flags)),
        "timeout": Int4(spec.timeout_seconds), "expires_at": expires_at, "memo": spec.memo, "actor": spec.actor or "",
        "now": now,
    }
    with transaction.atomic() if connection.in_atomic_block else nullcontext(), _cursor() as cursor:
        cursor.execute(_fast_single_sql(engine.SIDES, engine.NET_CREDIT), params)
        row = cursor.fetchone()
    if row is None or not row[0]:
        return None
    return TransferResult(
        id=tid, debit=_as_uuid(spec.debit), credit=_as_uuid(spec.credit), amount_fen=spec.amount_fen,
        code=spec.code, flags=flags, pending_id=None, memo=spec.memo, actor=spec.actor or "", created_at=now,
        expires_at=expires_at,
    )


@functools.cache
def _fast_single_sql(sides: tuple[engine.Side, ...], net_credit: tuple[str, str]) -> str:
    """The fast path's statement, rendered from the engine's sides (cached: the text must stay constant so that
    psycopg prepares it, see ``CARLOOP_PG_PREPARE_THRESHOLD``)."""
    qn = connection.ops.quote_name
    accounts, transfers = qn(Account._meta.db_table), qn(Transfer._meta.db_table)
    balances = ", ".join(qn(c) for c in _BALANCE_COLUMNS)
    alias = {"debit": "dr", "credit": "cr"}

    def after(side: engine.Side, column: str) -> str:
        added = " + %(posted)s" if column == side.posted else " + %(held)s" if column == side.pending else ""
        return f"{alias[side.name]}.{qn(column)}{added}"

    limits = " AND ".join(
        f"(({a}.{qn('flags')} & {int(side.limit)}) = 0 OR "
        f"{a}.{qn(side.posted)} + {a}.{qn(side.pending)} + %(amount)s <= {a}.{qn(side.bound)})"
        for side in sides
        for a in [alias[side.name]]
    )
    moved_columns = ", ".join(
        f"{after(side, c)} AS {alias[side.name]}_{c}" for side in sides for c in _BALANCE_COLUMNS
    )
    plus, minus = net_credit
    balance_after = ", ".join(f"{a}_{plus} - {a}_{minus}" for a in ("dr", "cr"))
    values = ", ".join(
        f"({a}_id, {', '.join(f'{a}_{c}' for c in _BALANCE_COLUMNS)})" for a in ("dr", "cr")
    )
    columns = ", ".join(qn(name) for name, _ in _TRANSFER_COLUMNS)
    return (
        f"WITH acct AS MATERIALIZED (SELECT {qn('id')}, {qn('flags')}, {qn('ledger')}, {balances} FROM {accounts} "
        f"WHERE {qn('id')} = ANY(ARRAY[%(debit)s::uuid, %(credit)s::uuid]) ORDER BY {qn('id')} FOR NO KEY UPDATE), "
        f"dr AS (SELECT * FROM acct WHERE {qn('id')} = %(debit)s::uuid), "
        f"cr AS (SELECT * FROM acct WHERE {qn('id')} = %(credit)s::uuid), "
        f"moved AS MATERIALIZED (SELECT dr.{qn('id')} AS dr_id, cr.{qn('id')} AS cr_id, {moved_columns} FROM dr, cr "
        f"WHERE dr.{qn('ledger')} = cr.{qn('ledger')} AND {limits}), "
        f"ins AS (INSERT INTO {transfers} ({columns}) SELECT %(id)s::uuid, dr_id, cr_id, %(amount)s, "
        f"%(ledger)s::text, %(code)s, %(flags)s, NULL, %(timeout)s, %(expires_at)s::timestamptz, %(memo)s::text, "
        f"%(actor)s::text, %(now)s::timestamptz, {balance_after} FROM moved ON CONFLICT DO NOTHING RETURNING 1), "
        f"upd AS (UPDATE {accounts} AS a SET ({balances}, {qn('updated_at')}) = "
        f"({', '.join(f'v.{qn(c)}' for c in _BALANCE_COLUMNS)}, %(now)s::timestamptz) "
        f"FROM moved, LATERAL (VALUES {values}) AS v({qn('id')}, {balances}) "
        f"WHERE a.{qn('id')} = v.{qn('id')} AND EXISTS (SELECT FROM ins)) "
        f"SELECT count(*) = 1 FROM ins"
    )


def _attempt_locked(specs: list[TransferSpec], batch: bool) -> list[TransferResult]:
    """The general path: lock the accounts, apply the engine in Python, write the transfers and balances."""
    try:
        with transaction.atomic():
            pendings = _load_pendings(specs)
            account_ids = {a for s in specs for a in (s.debit, s.credit) if a is not None}
            account_ids |= {a for p in pendings.values() for a in (p.debit, p.credit)}
            states = _lock_accounts(account_ids)
            if pendings:  # read under the account locks, which every resolution of these pendings also takes
                resolved = set(
                    Transfer.objects.filter(pending_id__in=list(pendings)).values_list("pending_id", flat=True)
                )
                for pid in resolved:
                    pendings[pid].resolved = True
            now = timezone.now()
            try:
                new = engine.apply_batch(specs, states, pendings, now)
            except engine.RejectionError as rej:
                replay = _replay(specs, batch)
                if replay is not None:
                    return replay
                raise _problem(rej, batch) from None
            if not _write(new, [s for s in states.values() if s.touched], now):
                raise _Collision()
    except _Collision:
        replay = _replay(specs, batch)
        if replay is not None:
            return replay
        raise Conflict(
            "pending-already-resolved", "该预授权已确认或撤销", "The pending transfer is already posted or voided"
        ) from None
    return [_new_result(n, now) for n in new]


def _write(new: Sequence[engine.NewTransfer], touched: Sequence[engine.AccountState], now: datetime) -> bool:
    """Insert the transfers and, only if none of their ids existed, store the new balances.

    Returns False when some id already existed (the caller rolls the savepoint back). On PostgreSQL both
    writes are one statement (data-modifying CTEs) with the rows passed as arrays: one round trip whatever
    the batch size.
    """
    qn = connection.ops.quote_name
    rows = [
        (n.id, n.debit, n.credit, n.amount_fen, LEDGER_CNY, n.code, int(n.flags), n.pending_id, n.timeout_seconds,
         n.expires_at, n.memo, n.actor, now, n.debit_balance_after, n.credit_balance_after)
        for n in new
    ]
    columns = ", ".join(qn(name) for name, _ in _TRANSFER_COLUMNS)
    transfers, accounts = qn(Transfer._meta.db_table), qn(Account._meta.db_table)
    if _postgres():
        arrays = ", ".join(f"%b::{kind}[]" for _, kind in _TRANSFER_COLUMNS)
        sets = ", ".join(f"{qn(c)} = v.{qn(c)}" for c in _BALANCE_COLUMNS)
        sql = (
            f"WITH ins AS (INSERT INTO {transfers} ({columns}) SELECT * FROM unnest({arrays}) "
            f"ON CONFLICT DO NOTHING RETURNING 1), "
            f"upd AS (UPDATE {accounts} AS a SET {sets}, {qn('updated_at')} = %s "
            f"FROM unnest(%b::uuid[], %b::bigint[], %b::bigint[], %b::bigint[], %b::bigint[]) "
            f"AS v({qn('id')}, {', '.join(qn(c) for c in _BALANCE_COLUMNS)}) "
            f"WHERE a.{qn('id')} = v.{qn('id')} AND (SELECT count(*) FROM ins) = %s RETURNING 1) "
            f"SELECT (SELECT count(*) FROM ins)"
        )
        params: list[Any] = [list(col) for col in zip(*rows, strict=True)]
        params += [
            now, [s.id for s in touched], [s.debits_posted for s in touched], [s.credits_posted for s in touched],
            [s.debits_pending for s in touched], [s.credits_pending for s in touched], len(rows),
        ]
        with _cursor() as cursor:
            cursor.execute(sql, params)
            inserted = cursor.fetchone()
        return inserted is not None and inserted[0] == len(rows)
    # SQLite: the i-th row's seq is the last rowid plus i (strictly increasing in batch order whether the subquery
    # sees the statement's earlier rows or not; the table only grows, and IMMEDIATE transactions serialize writers).
    placeholders = ", ".join(["%s"] * len(_TRANSFER_COLUMNS))
    insert = (
        f"INSERT INTO {transfers} ({columns}, {qn('seq')}) VALUES "
        + ", ".join(f"({placeholders}, (SELECT coalesce(max(rowid), 0) FROM {transfers}) + %s)" for _ in rows)
        + f" ON CONFLICT DO NOTHING RETURNING {qn('id')}"
    )
    update = (
        f"UPDATE {accounts} SET " + ", ".join(f"{qn(c)} = %s" for c in (*_BALANCE_COLUMNS, "updated_at"))
        + f" WHERE {qn('id')} = %s"
    )
    stamp = connection.ops.adapt_datetimefield_value(now)
    with _cursor() as cursor:
        cursor.execute(insert, [
            param
            for i, row in enumerate(rows, start=1)
            for param in (*(_generic_param(kind, v) for (_, kind), v in zip(_TRANSFER_COLUMNS, row, strict=True)), i)
        ])
        if len(cursor.fetchall()) != len(rows):
            return False
        cursor.executemany(update, [
            (s.debits_posted, s.credits_posted, s.debits_pending, s.credits_pending, stamp, _db_uuid(s.id)) for s in touched
        ])
    return True


def _generic_param(kind: str, value: Any) -> Any:
    if kind == "uuid":
        return _db_uuid(value)
    if kind == "timestamptz" and value is not None:
        return connection.ops.adapt_datetimefield_value(value)
    return value


def _new_result(n: engine.NewTransfer, now: datetime) -> TransferResult:
    return TransferResult(
        id=n.id, debit=n.debit, credit=n.credit, amount_fen=n.amount_fen, code=n.code, flags=n.flags,
        pending_id=n.pending_id, memo=n.memo, actor=n.actor, created_at=now, expires_at=n.expires_at,
    )


def stored_result(row: Transfer) -> TransferResult:
    return TransferResult(
        id=row.id, debit=row.debit_id, credit=row.credit_id, amount_fen=row.amount_fen, code=row.code,
        flags=TransferFlags(row.flags), pending_id=row.pending_id, memo=row.memo, actor=row.actor,
        created_at=row.created_at, expires_at=row.expires_at,
    )


def _replay(specs: Sequence[TransferSpec], batch: bool) -> list[TransferResult] | None:
    """The original results if every spec's id exists with the same payload; None if none exists;
    otherwise 422 ``transfer-id-reused``."""
    ids = [s.uuid for s in specs]
    rows = {row.id: row for row in Transfer.objects.filter(pk__in=ids)}
    if not rows:
        return None
    for index, spec in enumerate(specs):
        row = rows.get(spec.uuid)
        if row is None or not engine.same_payload(spec, stored_result(row)):
            raise Invalid(
                "transfer-id-reused", "该转账编号已用于另一笔不同的转账", "This transfer id was already used for a different transfer",
                [FieldError(_pointer("id", index, batch), "转账编号已被使用", "Transfer id already used")],
            )
    return [replace(stored_result(rows[s.uuid]), replayed=True) for s in specs]


def move_history_back(*, until: datetime, by: timedelta) -> int:
    """Seeding only: a demo history booked in one sitting is told as the days before today. Every transfer booked
    before ``until`` moves back ``by`` (the whole head of the journal, so the moments still follow the order the
    transfers were applied in and every account's statement walks back as before). Returns how many moved."""
    return Transfer.objects.filter(created_at__lt=until).update(created_at=F("created_at") - by)
