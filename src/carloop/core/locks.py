"""Serialize transactions that check-then-insert on the same names (throttles, counters without a row to lock)."""

from __future__ import annotations

from django.db import connection


def serialize(*names: str) -> None:
    """Hold a transaction-scoped lock on each name until the current transaction ends.

    On PostgreSQL an advisory lock per name (64-bit hash of it), taken in sorted order so that two transactions
    locking overlapping names cannot deadlock. On SQLite every transaction that writes starts ``IMMEDIATE``
    (settings), so writers are serialized already and nothing is taken.
    """
    if not connection.in_atomic_block:
        raise RuntimeError("serialize() holds its locks until the transaction ends: call it inside one")
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name in sorted(set(names)):
            cursor.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", [name])
