"""Versioned cache of catalog reads (trim, colours, options, rendered listings) for the hot read paths.

The catalog version lives in Django's cache (shared between processes when Redis is configured); every save or
delete of a catalog row bumps it. Entries are kept in this process's memory under the version they were read
at and expire after ``TIMEOUT_SECONDS``, so a stale entry can survive at most that long in a process that
does not share the version (a deployment without a shared cache). Orders are always priced from the
database; the cache only serves browsing and the live configurator price.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from django.core.cache import cache
from django.db.models.signals import post_delete, post_save

VERSION_KEY = "vehicles:catalog:version"
TIMEOUT_SECONDS = 60
MAX_ENTRIES = 20_000
T = TypeVar("T")

_entries: dict[str, tuple[float, Any]] = {}  # float-ok: monotonic expiry time
_state = {"version": ""}


def version() -> str:
    return str(cache.get_or_set(VERSION_KEY, lambda: uuid.uuid4().hex, None))


def bump(*_args: Any, **_kwargs: Any) -> None:
    cache.set(VERSION_KEY, uuid.uuid4().hex, None)
    _entries.clear()


def key(*parts: object) -> str:
    return ":".join(["vehicles:catalog", version(), *(str(p) for p in parts)])


def cached(parts: tuple[object, ...], load: Callable[[], T]) -> T:
    """The value for ``parts`` at the current catalog version, loading it on a miss (None is not cached)."""
    current = version()
    if current != _state["version"] or len(_entries) > MAX_ENTRIES:
        _entries.clear()
        _state["version"] = current
    name = ":".join(str(p) for p in parts)
    now = time.monotonic()
    hit = _entries.get(name)
    if hit is not None and hit[0] > now:
        return hit[1]  # type: ignore[no-any-return]
    value = load()
    if value is not None:
        _entries[name] = (now + TIMEOUT_SECONDS, value)
    return value


def connect() -> None:
    from carloop.vehicles.models import Brand, PaintColour, Series, Trim, TrimOption

    for model in (Brand, Series, Trim, PaintColour, TrimOption):
        post_save.connect(bump, sender=model, dispatch_uid=f"vehicles-catalog-save-{model.__name__}")
        post_delete.connect(bump, sender=model, dispatch_uid=f"vehicles-catalog-delete-{model.__name__}")
