"""Finance's ledger accounts and transfer codes (range 2000–2999), and the per-funder account set.

Every funder (a partner institution, or the platform itself) has:

* ``pool`` (credit-normal, may not go negative): the funder's money at the platform, lendable; capital comes in,
  disbursements go out, collected principal and the funder's interest come back.
* ``receivable`` (debit-normal, may not go below zero): principal borrowers owe the funder — equal, to the fen,
  to the outstanding principal of the funder's share of every active loan.
* ``lent`` (credit-normal): the counterpart of ``receivable`` (principal lent and not yet repaid or written off).
* ``writeoff`` (debit-normal): principal written off (the funder's loss).

The platform also has ``income`` (service fees: the interest spread, instalment and upfront fees, penalty interest,
prepayment fees). Disbursements go to a merchant's ``settlement`` account (purchase instalments) or to the
customer's ``payout`` account (car-secured loans). Borrowers' money comes in through the cashier
(``finance.repayment`` intents, the COB's withholding) into ``repayments_received`` (flagged: it never goes below
zero), and each repayment moves it on to the funders' pools and the platform's income.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.db import transaction

from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, AccountInfo

PLATFORM = "platform"

# account codes
POOL, RECEIVABLE, LENT, WRITEOFF, INCOME, SETTLEMENT, PAYOUT, RECEIVED = 2100, 2110, 2120, 2130, 2200, 2300, 2310, 2320

# transfer codes
T_CAPITAL = 6002  # the cashier's transfer of confirmed money to its payable (a capital call's pool); payments' code
T_DISBURSE = 2101
T_BOOK = 2102
T_UPFRONT_FEE = 2103
T_PRINCIPAL = 2201
T_INTEREST = 2202
T_SERVICE_FEE = 2203
T_FEE = 2204
T_PENALTY = 2205
T_PREPAYMENT_FEE = 2206
T_UNBOOK = 2207
T_WRITEOFF = 2301
T_UNWIND = 2401  # a refunded order's loan: the dealer returns the disbursement, the platform the upfront fee
T_REFUND = 2402  # ... and the customer gets back what they repaid


def funder_key(partner_id: uuid.UUID | str | None) -> str:
    return str(partner_id) if partner_id else PLATFORM


def _owner(key: str) -> str:
    return "platform" if key == PLATFORM else f"org:{key}"


_cache: dict[str, AccountInfo] = {}
_within: ContextVar[dict[str, AccountInfo] | None] = ContextVar("finance_accounts_within", default=None)


def _open(key: str, name: str, code: int, flags: AccountFlags, owner: str) -> AccountInfo:
    """``ledger.open_account`` with a process cache that only learns accounts once their creation committed
    (and, inside :func:`memo`, remembers them for the block)."""
    info = _cache.get(key)
    within = _within.get()
    if info is None and within is not None:
        info = within.get(key)
    if info is None:
        info = ledger.open_account(key=key, name=name, code=code, flags=flags, owner=owner)
        transaction.on_commit(lambda: _cache.__setitem__(key, info))
        if within is not None:
            within[key] = info
    return info


@contextmanager
def memo() -> Iterator[None]:
    """Accounts opened in this block are looked up once (a batch inside one transaction, where the process cache
    learns nothing until the commit). The block must not outlive the transaction."""
    token = _within.set({})
    try:
        yield
    finally:
        _within.reset(token)


def clear_cache() -> None:
    """Forget cached account ids (tests that flush the database call this)."""
    _cache.clear()


def pool(funder: str) -> AccountInfo:
    return _open(f"finance:funder:{funder}:pool", f"放款资金池 {funder}", POOL,
                 AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, _owner(funder))


def receivable(funder: str) -> AccountInfo:
    return _open(f"finance:funder:{funder}:receivable", f"应收本金 {funder}", RECEIVABLE,
                 AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS, _owner(funder))


def lent(funder: str) -> AccountInfo:
    return _open(f"finance:funder:{funder}:lent", f"已放本金 {funder}", LENT, AccountFlags.NONE, _owner(funder))


def writeoff(funder: str) -> AccountInfo:
    return _open(f"finance:funder:{funder}:writeoff", f"核销损失 {funder}", WRITEOFF,
                 AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS, _owner(funder))


def income() -> AccountInfo:
    return _open("finance:platform:income", "金融服务费收入", INCOME, AccountFlags.NONE, "platform")


def settlement(merchant_id: uuid.UUID | str) -> AccountInfo:
    return _open(f"finance:merchant:{merchant_id}:settlement", f"商户放款结算 {merchant_id}", SETTLEMENT,
                 AccountFlags.NONE, f"org:{merchant_id}")


def payout(user_id: uuid.UUID | str) -> AccountInfo:
    return _open(f"finance:customer:{user_id}:payout", f"客户放款 {user_id}", PAYOUT, AccountFlags.NONE,
                 f"user:{user_id}")


def received() -> AccountInfo:
    return _open("finance:repayments:received", "还款待分配", RECEIVED, AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
                 "platform")

