"""Builders for parts tests."""

from __future__ import annotations

import itertools
import uuid

from carloop.core import authz
from carloop.core.authz import Subject
from carloop.parts import services
from carloop.parts.models import Part, Stock, Warehouse
from carloop.parts.network import ensure_warehouses

OPERATIONS = Subject(kind="operator", user_id=uuid.UUID("00000000-0000-7000-8000-00000000000b"), roles=frozenset({authz.OPS}))
_counter = itertools.count(1)


def make_part(*, category: str = "wear", price_fen: int = 12_800, pack_size: int = 1, oe: tuple[str, ...] = (),
              brand: str = "博世", number: str | None = None, name_zh: str = "机油滤清器", attributes=None) -> Part:
    n = next(_counter)
    return services.add_part(OPERATIONS, brand=brand, brand_part_no=number or f"F-026-{n:05d}", name=f"Part {n}",
                             name_zh=name_zh, category=category, price_fen=price_fen, pack_size=pack_size,
                             attributes=attributes or {}, oe_numbers=oe)


def stock(part: Part, warehouse: Warehouse, on_hand: int, reserved: int = 0) -> Stock:
    row, _ = Stock.objects.update_or_create(part=part, warehouse=warehouse, defaults={"on_hand": on_hand, "reserved": reserved})
    return row


def two_warehouses() -> tuple[Warehouse, Warehouse]:
    all_ = ensure_warehouses()
    return all_[0], all_[1]
