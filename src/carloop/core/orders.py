"""Order references across layers: the app that owns orders (commerce) registers a lookup for its reference
prefix, so that a lower layer (finance, asked to fund an order) can check the order it is given without
importing the app above it."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class OrderTerms:
    customer_user_id: uuid.UUID
    price_fen: int
    balance_due_fen: int  # what is still to pay now; 0 once the balance is paid
    refunded: bool = False  # the order was refunded after money was paid: loans that paid it are unwound


Lookup = Callable[[str], "OrderTerms | None"]
_lookups: dict[str, Lookup] = {}


def register(prefix: str, lookup: Lookup) -> None:
    _lookups[prefix] = lookup


def known_prefix(order_ref: str) -> bool:
    return any(order_ref.startswith(prefix) for prefix in _lookups)


def terms(order_ref: str) -> OrderTerms | None:
    """The order's terms, or None when no registered app knows the reference."""
    for prefix, lookup in _lookups.items():
        if order_ref.startswith(prefix):
            return lookup(order_ref)
    return None
