"""PostgreSQL: ≥16 threads and ≥5,000 random transfers over hot and cold accounts keep every invariant."""

from __future__ import annotations

import random
import threading
import uuid
from collections import defaultdict

import pytest
from django.db import connection, connections

from carloop.core.errors import Problem
from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, TransferSpec
from carloop.ledger.models import Transfer
from tests.ledger.invariants import assert_ledger_invariants

THREADS = 16
OPS_PER_THREAD = 330  # 16 × 330 = 5,280 operations, each one or more transfers
COUNT_LOCK = threading.Lock()
EXPECTED_REFUSALS = {"insufficient-funds", "same-account", "pending-already-resolved"}


def _open_accounts() -> tuple[uuid.UUID, list[uuid.UUID], list[uuid.UUID]]:
    source = ledger.system_account("external").id
    hot = [
        ledger.open_account(key=f"conc:hot:{i}", name=f"hot {i}", code=1999,
                            flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS).id
        for i in range(10)
    ]
    cold = [
        ledger.open_account(
            key=f"conc:cold:{i}", name=f"cold {i}", code=1999,
            flags=[AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS, AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS,
                   AccountFlags.NONE][i % 3],
        ).id
        for i in range(300)
    ]
    for i, acct in enumerate(hot):
        ledger.transfer(id=f"conc:fund:hot:{i}", debit=source, credit=acct, amount_fen=200_000, code=1)
    for i, acct in enumerate(cold):
        if i % 3 == 0:
            ledger.transfer(id=f"conc:fund:cold:{i}", debit=source, credit=acct, amount_fen=20_000, code=1)
        elif i % 3 == 1:
            ledger.transfer(id=f"conc:fund:cold:{i}", debit=acct, credit=source, amount_fen=20_000, code=1)
    return source, hot, cold


def _worker(seed: int, hot: list[uuid.UUID], cold: list[uuid.UUID], errors: list[str], counts: dict[str, int]) -> None:
    rng = random.Random(seed)
    mine_pending: list[uuid.UUID] = []
    done: list[TransferSpec] = []

    def pick() -> uuid.UUID:
        return rng.choice(hot) if rng.random() < 0.6 else rng.choice(cold)  # float-ok: a probability

    try:
        for n in range(OPS_PER_THREAD):
            tid = f"conc:{seed}:{n}"
            roll = rng.random()  # float-ok: a probability
            try:
                if roll < 0.6:
                    spec = TransferSpec(id=tid, debit=pick(), credit=pick(), amount_fen=rng.randint(1, 5_000), code=2)
                    assert spec.debit and spec.credit and spec.amount_fen
                    ledger.transfer(id=tid, debit=spec.debit, credit=spec.credit, amount_fen=spec.amount_fen, code=2)
                    done.append(spec)
                elif roll < 0.72:
                    legs = [
                        TransferSpec(id=f"{tid}:{i}", debit=pick(), credit=pick(), amount_fen=rng.randint(1, 3_000),
                                     code=3)
                        for i in range(rng.randint(2, 6))
                    ]
                    ledger.transfer_batch(legs)
                elif roll < 0.84:
                    held = ledger.transfer(id=tid, debit=pick(), credit=pick(), amount_fen=rng.randint(1, 4_000),
                                           code=4, pending=True)
                    mine_pending.append(held.id)
                elif roll < 0.94 and mine_pending:
                    pid = mine_pending.pop(rng.randrange(len(mine_pending)))
                    if rng.random() < 0.5:  # float-ok: a probability
                        ledger.post_pending(id=tid, pending_id=pid, amount_fen=None if rng.random() < 0.5 else 1)  # float-ok
                    else:
                        ledger.void_pending(id=tid, pending_id=pid)
                elif done:
                    spec = rng.choice(done)  # replay from this thread: must be a no-op
                    assert spec.debit and spec.credit and spec.amount_fen
                    again = ledger.transfer(id=spec.id, debit=spec.debit, credit=spec.credit,
                                            amount_fen=spec.amount_fen, code=2)
                    assert again.replayed
                outcome = "ok"
            except Problem as exc:
                if exc.slug not in EXPECTED_REFUSALS:
                    errors.append(f"{tid}: {exc}")
                outcome = exc.slug
            with COUNT_LOCK:
                counts[outcome] += 1
    except Exception as exc:  # any database error reaching the caller fails the test
        errors.append(f"worker {seed}: {exc!r}")
    finally:
        connections.close_all()


@pytest.mark.postgres
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_concurrent_random_transfers_keep_invariants() -> None:
    assert connection.vendor == "postgresql"
    _, hot, cold = _open_accounts()
    errors: list[str] = []
    counts: dict[str, int] = defaultdict(int)
    threads = [threading.Thread(target=_worker, args=(seed, hot, cold, errors, counts)) for seed in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert counts["ok"] >= 4_000 and counts["insufficient-funds"] > 0  # hot accounts really were contended

    assert Transfer.objects.count() >= 5_000
    assert_ledger_invariants()
