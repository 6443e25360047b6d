"""The one pagination shape of list endpoints: ``limit`` (1–500) and ``offset`` (0–100,000), both bounded.

In an endpoint: ``def list_things(request, page: Query[Page], ...)`` and ``page.slice(rows)``. Keyset pages
(a ``cursor`` instead of an offset) extend :class:`Limit`.
"""

from __future__ import annotations

from typing import TypeVar

from ninja import Schema
from pydantic import Field

MAX_LIMIT = 500
MAX_OFFSET = 100_000

T = TypeVar("T")


class Limit(Schema):
    limit: int = Field(100, ge=1, le=MAX_LIMIT, description=f"At most this many items (1–{MAX_LIMIT})")


class Page(Limit):
    offset: int = Field(0, ge=0, le=MAX_OFFSET, description=f"Skip this many items first (0–{MAX_OFFSET})")

    def slice(self, rows: T) -> T:
        """``rows[offset : offset + limit]`` of a queryset or a sequence."""
        return rows[self.offset : self.offset + self.limit]  # type: ignore[index, no-any-return]
