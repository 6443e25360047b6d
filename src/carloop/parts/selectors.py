"""Reads of the parts catalog, stock and orders. Orders are read through ``orders_readable_by``: another store's
order is not found."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum

from carloop.core import authz
from carloop.core.authz import Subject
from carloop.core.errors import NotFound
from carloop.parts.models import CrossReference, Fitment, OeNumber, Part, PartsOrder, Stock, Warehouse
from carloop.parts.numbers import normalise
from carloop.vehicles import selectors as vehicles
from carloop.vehicles.services import validated_vin
from carloop.vehicles.vin import decode_vin

SEARCH_LIMIT = 50


def search_parts(query: str = "", *, category: str = "", attribute: tuple[str, str] | None = None,
                 limit: int = SEARCH_LIMIT) -> list[Part]:
    """Active parts whose name contains ``query``, or whose brand number, OE number or cross-reference number is
    ``query`` once normalised (spaces, dashes and case ignored); optionally one category and one attribute value."""
    parts = Part.objects.filter(is_active=True)
    text = (query or "").strip()
    if text:
        norm = normalise(text)
        match = Q(name_zh__icontains=text) | Q(name__icontains=text)
        if norm:
            match |= (Q(brand_part_no_norm=norm)
                      | Q(pk__in=OeNumber.objects.filter(number_norm=norm).values("part_id"))
                      | Q(pk__in=CrossReference.objects.filter(number_norm=norm).values("part_id")))
        parts = parts.filter(match)
    if category:
        parts = parts.filter(category=category)
    if attribute:
        key, value = attribute
        parts = parts.filter(**{f"attributes__{key}": value})
    return list(parts.order_by("brand", "brand_part_no")[:limit])


@dataclass(frozen=True)
class VinFitment:
    vin: str
    trim_id: uuid.UUID
    model_year: int | None
    parts: dict[str, list[Part]]  # category → fitting parts


def _fitments_for(trim_id: uuid.UUID, model_year: int | None) -> QuerySet[Fitment]:
    rows = Fitment.objects.filter(trim_id=trim_id)
    if model_year is not None:
        rows = rows.filter(Q(year_from__isnull=True) | Q(year_from__lte=model_year),
                           Q(year_to__isnull=True) | Q(year_to__gte=model_year))
    return rows


def trim_and_year_for_vin(vin: str) -> tuple[str, uuid.UUID, int | None]:
    """A valid VIN (422 otherwise) of a vehicle in the catalog (404 otherwise), its trim and decoded model year."""
    clean = validated_vin(vin)
    trim_id = vehicles.trim_id_for_vin(clean)
    if trim_id is None:
        raise NotFound("车型库中没有该 VIN 对应的车辆", "No vehicle with this VIN in the catalog")
    return clean, trim_id, decode_vin(clean).model_year


def parts_for_vin(vin: str, *, category: str = "") -> VinFitment:
    """VIN → trim (vehicles' VIN decoding and registry) → the active parts that fit it, grouped by category."""
    clean, trim_id, year = trim_and_year_for_vin(vin)
    parts = Part.objects.filter(is_active=True, pk__in=_fitments_for(trim_id, year).values("part_id"))
    if category:
        parts = parts.filter(category=category)
    grouped: dict[str, list[Part]] = {}
    for part in parts.order_by("category", "brand", "brand_part_no"):
        grouped.setdefault(part.category, []).append(part)
    return VinFitment(clean, trim_id, year, grouped)


def fitting_part_ids(vin: str, part_ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Which of ``part_ids`` fit the vehicle with this VIN."""
    _, trim_id, year = trim_and_year_for_vin(vin)
    return set(_fitments_for(trim_id, year).filter(part_id__in=part_ids).values_list("part_id", flat=True))


def get_part(part_id: uuid.UUID | str) -> Part:
    part = Part.objects.filter(pk=part_id, is_active=True).first()
    if part is None:
        raise NotFound()
    return part


def warehouses() -> list[Warehouse]:
    return list(Warehouse.objects.filter(is_active=True).order_by("code"))


def stock_of(part_id: uuid.UUID) -> list[Stock]:
    """Stock of one part per active warehouse (on hand, reserved, available)."""
    return list(Stock.objects.filter(part_id=part_id, warehouse__is_active=True).select_related("warehouse")
                .order_by("warehouse__code"))


def available_units(part_id: uuid.UUID) -> int:
    totals = Stock.objects.filter(part_id=part_id, warehouse__is_active=True).aggregate(on_hand=Sum("on_hand"),
                                                                                      reserved=Sum("reserved"))
    return (totals["on_hand"] or 0) - (totals["reserved"] or 0)


def may_order_for(subject: Subject, store_id: uuid.UUID | str | None) -> bool:
    return subject.in_org(store_id, authz.STORE_MANAGER)


def orders_readable_by(subject: Subject) -> QuerySet[PartsOrder]:
    """Operations see every parts order; store members see their stores' orders; everyone else none."""
    orders = PartsOrder.objects.all()
    if subject.has_role(authz.OPS):
        return orders
    return orders.filter(store_id__in=subject.org_ids())


def get_order(subject: Subject, order_id: uuid.UUID | str) -> PartsOrder:
    order = orders_readable_by(subject).filter(pk=order_id).prefetch_related("lines__part", "lines__warehouse").first()
    if order is None:
        raise NotFound()
    return order
