"""The ledger's invariants, recomputed from the immutable transfer log (PostgreSQL tests under load check them)."""

from __future__ import annotations

import uuid
from collections import defaultdict

from carloop.ledger import selectors as ledger_q
from carloop.ledger.contracts import AccountFlags, TransferFlags
from carloop.ledger.models import Account, Transfer


def assert_ledger_invariants() -> None:
    """Debits equal credits in total; every account's maintained totals equal a recomputation from the transfer
    log; no flagged account is over its limit."""
    totals = ledger_q.totals()
    assert totals["CNY:debits_posted"] == totals["CNY:credits_posted"]
    assert totals["CNY:debits_pending"] == totals["CNY:credits_pending"]
    expect: dict[uuid.UUID, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    resolved = set(Transfer.objects.filter(pending__isnull=False).values_list("pending_id", flat=True))
    for tid, debit, credit, amount, flags in Transfer.objects.values_list("id", "debit_id", "credit_id", "amount_fen", "flags"):
        if flags & TransferFlags.VOID_PENDING:
            continue
        if flags & TransferFlags.PENDING:
            if tid not in resolved:
                expect[debit][2] += amount
                expect[credit][3] += amount
            continue
        expect[debit][0] += amount
        expect[credit][1] += amount
    for acct in Account.objects.all():
        got = [acct.debits_posted, acct.credits_posted, acct.debits_pending, acct.credits_pending]
        assert got == expect[acct.id], acct.key
        if acct.flags & AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS:
            assert acct.debits_posted + acct.debits_pending <= acct.credits_posted, acct.key
        if acct.flags & AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS:
            assert acct.credits_posted + acct.credits_pending <= acct.debits_posted, acct.key
