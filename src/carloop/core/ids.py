"""Sortable public identifiers (UUID7): time-ordered for index locality, never sequential integers."""

from __future__ import annotations

import uuid

import uuid6


def new_id() -> uuid.UUID:
    """A new UUID7 as a standard ``uuid.UUID``."""
    return uuid.UUID(bytes=uuid6.uuid7().bytes)


_KEY_NAMESPACE = uuid.UUID("5b0a6c1e-7d43-4f43-9b59-6361726c6f6f")


def id_from_key(key: str | uuid.UUID) -> uuid.UUID:
    """Map a client-supplied key to a UUID: UUIDs pass through, any other string maps deterministically (uuid5)."""
    if isinstance(key, uuid.UUID):
        return key
    try:
        return uuid.UUID(str(key))
    except ValueError:
        return uuid.uuid5(_KEY_NAMESPACE, str(key))
