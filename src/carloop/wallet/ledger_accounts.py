"""Wallet's ledger account and transfer codes (range 4000–4999, docs/ledger.md).

Every card has its own account ``wallet:card:<number>`` (code 4100), a liability of the platform to the holder:
credit-normal and flagged DEBITS_MUST_NOT_EXCEED_CREDITS, so no spend or hold can take it below zero. The cashier
credits it when a purchase or recharge is paid (its transfer code 6002) and holds and posts spends from it
(6010) to the payable's destination, the merchant's account."""

from __future__ import annotations

from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, AccountInfo

CARD = 4100


def open_card_account(number: str) -> AccountInfo:
    return ledger.open_account(key=f"wallet:card:{number}", name=f"电子卡 {number[:4]}…{number[-4:]}", code=CARD,
                               flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, owner="wallet")
