"""A deliberately simple in-memory ledger: the oracle the database implementation is checked against."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

DR_LIMIT = 2  # AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CR_LIMIT = 4  # AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS


@dataclass
class ModelAccount:
    flags: int
    dp: int = 0  # debits posted
    cp: int = 0
    dpe: int = 0  # debits pending
    cpe: int = 0


@dataclass
class ModelLedger:
    accounts: dict[uuid.UUID, ModelAccount] = field(default_factory=dict)
    transfers: dict[uuid.UUID, tuple[str, uuid.UUID, uuid.UUID, int]] = field(default_factory=dict)
    open_pendings: set[uuid.UUID] = field(default_factory=set)

    def can(self, debit: uuid.UUID, credit: uuid.UUID, amount: int) -> bool:
        d, c = self.accounts[debit], self.accounts[credit]
        if d.flags & DR_LIMIT and d.dp + d.dpe + amount > d.cp:
            return False
        return not (c.flags & CR_LIMIT and c.cp + c.cpe + amount > c.dp)

    def apply(self, tid: uuid.UUID, kind: str, debit: uuid.UUID, credit: uuid.UUID, amount: int) -> None:
        d, c = self.accounts[debit], self.accounts[credit]
        if kind == "single":
            d.dp += amount
            c.cp += amount
        else:
            d.dpe += amount
            c.cpe += amount
            self.open_pendings.add(tid)
        self.transfers[tid] = (kind, debit, credit, amount)

    def resolve(self, tid: uuid.UUID, pending_id: uuid.UUID, amount: int | None) -> None:
        _, debit, credit, held = self.transfers[pending_id]
        d, c = self.accounts[debit], self.accounts[credit]
        d.dpe -= held
        c.cpe -= held
        if amount is not None:
            d.dp += amount
            c.cp += amount
        self.open_pendings.discard(pending_id)
        self.transfers[tid] = ("post" if amount is not None else "void", debit, credit, amount or held)
