"""Commerce's ledger accounts and the transfers behind every order money movement (codes 3000–3999).

Customer money enters and leaves through the cashier (``carloop.payments``): it pays deposits and balances into
flagged liability accounts (``deposits_held``, ``balances_held``) and refunds them from there. They are held until
delivery, when they are settled to the seller payable; a forfeited deposit becomes income, the seller's penalty
when it cannot deliver is an expense, a trade-in car is inventory.
"""

from __future__ import annotations

import uuid

from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, TransferSpec

HELD = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS

ACCOUNTS: dict[str, tuple[int, str, AccountFlags]] = {
    "deposits_held": (3101, "购车定金/意向金（代收）", HELD),
    "balances_held": (3102, "购车尾款（代收）", HELD),
    "seller_payable": (3201, "应付车款（销售方）", AccountFlags.NONE),
    "forfeited_deposits": (3301, "定金罚没收入", AccountFlags.NONE),
    "deposit_penalties": (3302, "定金双倍返还支出", AccountFlags.NONE),
    "trade_in_inventory": (3401, "置换二手车库存", AccountFlags.NONE),
}

DEPOSIT_FORFEIT = 3004
DEPOSIT_PENALTY = 3005
SETTLE_SELLER = 3007
TRADE_IN_CREDIT = 3008


def account_id(name: str) -> uuid.UUID:
    """Open (idempotently) and return one of commerce's accounts; ``external`` is the ledger's outside world."""
    if name == "external":
        return ledger.system_account("external").id
    code, label, flags = ACCOUNTS[name]
    return ledger.open_account(key=f"commerce:{name}", name=label, code=code, flags=flags).id


def move(order_ref: str, step: str, debit: str, credit: str, amount_fen: int, code: int, actor: str) -> None:
    """One transfer whose id is derived from the order and the step, so a retried command never moves twice."""
    if amount_fen <= 0:
        return
    ledger.transfer(id=f"{order_ref}:{step}", debit=account_id(debit), credit=account_id(credit),
                    amount_fen=amount_fen, code=code, memo=f"{order_ref} {step}", actor=actor)


def move_all(order_ref: str, steps: list[tuple[str, str, str, int, int]], actor: str) -> None:
    """Linked transfers (all or none): (step, debit, credit, amount, code)."""
    specs = [TransferSpec(id=f"{order_ref}:{step}", debit=account_id(debit), credit=account_id(credit),
                          amount_fen=amount, code=code, memo=f"{order_ref} {step}", actor=actor)
             for step, debit, credit, amount, code in steps if amount > 0]
    if specs:
        ledger.transfer_batch(specs)
