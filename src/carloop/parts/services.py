"""Parts commands: catalog upkeep (parts, OE numbers, cross-references, fitment), and B2B orders from stores that
reserve warehouse stock exactly — the stock rows are locked in one order, so concurrent buyers of the last units
never oversell — and release it when cancelled or expired."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import F

from carloop.core import audit, authz
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Problem
from carloop.core.timeutil import now
from carloop.identity import selectors as identity
from carloop.parts import selectors
from carloop.parts.models import Category, CrossReference, Fitment, OeNumber, Part, PartsOrder, PartsOrderLine, Stock
from carloop.parts.numbers import normalise

ORDER_HOLD = dt.timedelta(minutes=30)  # an unpaid order keeps its reservation this long
MAX_LINES = 100


def _bad(slug: str, pointer: str, zh: str, en: str) -> Problem:
    return Invalid(slug, zh, en, errors=[FieldError(pointer, zh, en)])


def may_manage_catalog(subject: Subject, supplier_id: uuid.UUID | None) -> bool:
    """Operations manage the whole catalog; supplier staff their own parts."""
    return subject.has_role(authz.OPS) or (supplier_id is not None and subject.in_org(supplier_id, authz.SUPPLIER_STAFF))


@transaction.atomic
def add_part(subject: Subject, *, brand: str, brand_part_no: str, name: str, name_zh: str, category: str,
             price_fen: int, pack_size: int = 1, attributes: dict[str, object] | None = None,
             oe_numbers: Iterable[str] = (), supplier_id: uuid.UUID | None = None) -> Part:
    subject.require(may_manage_catalog(subject, supplier_id))
    norm = normalise(brand_part_no)
    if not brand.strip() or not norm:
        raise _bad("part-number-required", "/brand_part_no", "请填写品牌和品牌编号", "Brand and brand part number are required")
    if category not in Category.values:
        raise _bad("unknown-category", "/category", "未知的配件类别", "Unknown part category")
    if price_fen <= 0:
        raise _bad("price-not-positive", "/price_fen", "价格必须大于零", "The price must be positive")
    if pack_size < 1:
        raise _bad("pack-size-not-positive", "/pack_size", "包装数量至少为 1", "The pack size is at least 1")
    if Part.objects.filter(brand=brand.strip(), brand_part_no_norm=norm).exists():
        raise Conflict("part-exists", "该品牌编号已存在", "This brand already lists this part number")
    part = Part.objects.create(brand=brand.strip(), brand_part_no=brand_part_no.strip(), brand_part_no_norm=norm, name=name,
                               name_zh=name_zh, category=category, attributes=attributes or {}, pack_size=pack_size,
                               price_fen=price_fen, supplier_id=supplier_id)
    for number in oe_numbers:
        add_oe_number(part, number)
    audit.record(subject.ref, "parts.part.added", "parts.part", part.pk, {"brand": part.brand, "number": norm})
    return part


def add_oe_number(part: Part, number: str) -> OeNumber:
    norm = normalise(number)
    if not norm:
        raise _bad("oe-number-required", "/oe_numbers", "原厂编号不能为空", "An OE number cannot be empty")
    found, _ = OeNumber.objects.get_or_create(part=part, number_norm=norm, defaults={"number": number.strip()})
    return found


def add_cross_reference(subject: Subject, *, part_id: uuid.UUID, brand: str, number: str) -> CrossReference:
    part = selectors.get_part(part_id)
    subject.require(may_manage_catalog(subject, part.supplier_id))
    norm = normalise(number)
    if not norm or not brand.strip():
        raise _bad("number-required", "/number", "请填写品牌和编号", "Brand and number are required")
    found, _ = CrossReference.objects.get_or_create(part=part, brand=brand.strip(), number_norm=norm,
                                                    defaults={"number": number.strip()})
    return found


def add_fitment(subject: Subject, *, part_id: uuid.UUID, trim_id: uuid.UUID, engine_code: str = "",
                year_from: int | None = None, year_to: int | None = None, position: str = "", note: str = "") -> Fitment:
    from carloop.vehicles import selectors as vehicles

    part = selectors.get_part(part_id)
    subject.require(may_manage_catalog(subject, part.supplier_id))
    if vehicles.get_trim(trim_id) is None:
        raise _bad("unknown-trim", "/trim_id", "车型库中没有该配置", "No such trim in the vehicle catalog")
    if year_from is not None and year_to is not None and year_from > year_to:
        raise _bad("year-range-reversed", "/year_to", "结束年款早于开始年款", "The last model year is before the first")
    found, _ = Fitment.objects.get_or_create(part=part, trim_id=trim_id, engine_code=engine_code, position=position,
                                             defaults={"year_from": year_from, "year_to": year_to, "note": note})
    return found


@dataclass(frozen=True)
class OrderLine:
    part_id: uuid.UUID
    quantity: int


def _check_lines(lines: list[OrderLine]) -> dict[uuid.UUID, Part]:
    if not lines:
        raise _bad("order-empty", "/lines", "订单至少需要一行", "An order needs at least one line")
    if len(lines) > MAX_LINES:
        raise _bad("order-too-long", "/lines", f"一单最多 {MAX_LINES} 行", f"At most {MAX_LINES} lines per order")
    ids = [line.part_id for line in lines]
    if len(set(ids)) != len(ids):
        raise _bad("duplicate-line", "/lines", "同一配件只能出现一行", "Each part appears on one line only")
    parts = {p.pk: p for p in Part.objects.filter(pk__in=ids, is_active=True)}
    for i, line in enumerate(lines):
        part = parts.get(line.part_id)
        if part is None:
            raise _bad("unknown-part", f"/lines/{i}/part_id", "没有该配件", "No such part")
        if line.quantity < 1 or line.quantity % part.pack_size:
            raise _bad("bad-quantity", f"/lines/{i}/quantity", f"数量须为包装数 {part.pack_size} 的正整数倍",
                       f"The quantity must be a positive multiple of the pack size {part.pack_size}")
    return parts


@transaction.atomic
def place_order(subject: Subject, *, store_id: uuid.UUID, lines: list[OrderLine], vin: str = "",
                fitment_override: bool = False, preferred_warehouse_id: uuid.UUID | None = None) -> PartsOrder:
    """A store manager orders parts: each line's units are reserved in the preferred warehouse first, then in the
    warehouses with the most available units (a line is split when one cannot serve it). With a VIN every part must
    fit that vehicle unless ``fitment_override``. 409 ``insufficient-stock`` when the network cannot serve a line."""
    subject.require(selectors.may_order_for(subject, store_id))
    store = identity.get_organisation(store_id)
    if store is None or store.kind != "store":
        raise Forbidden("只有门店可以订购配件", "Only stores order parts")
    parts = _check_lines(lines)
    clean_vin = ""
    if vin:
        clean_vin, _, _ = selectors.trim_and_year_for_vin(vin)
        misfits = set(parts) - selectors.fitting_part_ids(clean_vin, set(parts))
        if misfits and not fitment_override:
            raise Conflict("part-does-not-fit", "有配件不适配该车辆（如确需订购请明确覆盖）",
                           "Some parts do not fit this vehicle (override explicitly to order them anyway)",
                           part_ids=sorted(str(p) for p in misfits))
    # Lock every stock row of every ordered part in one (primary key) order: concurrent orders queue, never deadlock.
    locked = list(Stock.objects.select_for_update().filter(part_id__in=list(parts), warehouse__is_active=True).order_by("pk"))
    allocations: list[tuple[Stock, Part, int]] = []
    for i, line in enumerate(lines):
        candidates = sorted((s for s in locked if s.part_id == line.part_id and s.available > 0),
                            key=lambda s: (s.warehouse_id != preferred_warehouse_id, -s.available, s.warehouse_id))
        wanted = line.quantity
        for stock in candidates:
            take = min(wanted, stock.available)
            allocations.append((stock, parts[line.part_id], take))
            wanted -= take
            if not wanted:
                break
        if wanted:
            raise Conflict("insufficient-stock", "库存不足", "Not enough stock for this line", pointer=f"/lines/{i}",
                           part_id=str(line.part_id), available=line.quantity - wanted)
    total = sum(part.price_fen * take for _, part, take in allocations)
    order = PartsOrder.objects.create(store_id=store_id, placed_by=subject.ref, total_fen=total, expires_at=now() + ORDER_HOLD,
                                      vin=clean_vin, fitment_override=bool(clean_vin) and fitment_override)
    for stock, part, take in allocations:
        Stock.objects.filter(pk=stock.pk).update(reserved=F("reserved") + take)
        PartsOrderLine.objects.create(order=order, part=part, warehouse_id=stock.warehouse_id, quantity=take,
                                      unit_price_fen=part.price_fen)
    audit.record(subject.ref, "parts.order.placed", "parts.order", order.pk,
                 {"store_id": str(store_id), "total_fen": total, "lines": len(allocations), "override": order.fitment_override})
    return order


def _release(order: PartsOrder, status: str) -> None:
    for line in order.lines.all():
        Stock.objects.filter(part_id=line.part_id, warehouse_id=line.warehouse_id).update(reserved=F("reserved") - line.quantity)
    order.status = status
    order.save(update_fields=["status", "updated_at"])


@transaction.atomic
def cancel_order(subject: Subject, *, order_id: uuid.UUID) -> PartsOrder:
    subject.require_authenticated()
    order = selectors.orders_readable_by(subject).select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound()
    subject.require(selectors.may_order_for(subject, order.store_id))
    if order.status != PartsOrder.Status.RESERVED:
        raise Conflict("order-not-cancellable", "该订单已不能取消", "This order can no longer be cancelled")
    _release(order, PartsOrder.Status.CANCELLED)
    audit.record(subject.ref, "parts.order.cancelled", "parts.order", order.pk, {})
    return order


def expire_orders(at: dt.datetime | None = None) -> int:
    """Unpaid orders past their hold release their reservations; returns how many expired."""
    cutoff = at or now()
    expired = 0
    for order_id in PartsOrder.objects.filter(status=PartsOrder.Status.RESERVED, expires_at__lte=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            order = PartsOrder.objects.select_for_update().filter(pk=order_id, status=PartsOrder.Status.RESERVED,
                                                                  expires_at__lte=cutoff).first()
            if order is None:
                continue
            _release(order, PartsOrder.Status.EXPIRED)
            audit.record("system", "parts.order.expired", "parts.order", order.pk, {})
            expired += 1
    return expired
