"""Vehicle queries: the catalog (public), a customer's garage, odometer history and condition reports."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

from django.db.models import Q, QuerySet

from carloop.core.authz import Subject
from carloop.core.errors import Unauthorized
from carloop.vehicles import catalog_cache
from carloop.vehicles.contracts import ColourInfo, OdometerEntry, OptionInfo, OwnedVehicle, TrimInfo
from carloop.vehicles.models import ConditionReport, OdometerReading, PaintColour, Trim, TrimOption, Vehicle

T = TypeVar("T")


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        return None


_TRIM_FIELDS = {
    "id": "id", "code": "code", "brand": "series__brand__name", "brand_zh": "series__brand__name_zh",
    "brand_tier": "series__brand__tier", "manufacturer_org_id": "series__brand__manufacturer_id",
    "series_id": "series_id", "series": "series__name", "series_zh": "series__name_zh",
    "body_type": "series__body_type", "model_year": "model_year", "name": "name", "name_zh": "name_zh",
    "powertrain": "powertrain", "battery_kwh": "battery_kwh", "cltc_range_km": "cltc_range_km", "seats": "seats",
    "msrp_fen": "msrp_fen", "battery_swap_capable": "battery_swap_capable", "battery_price_fen": "battery_price_fen",
    "is_active": "is_active",
}


def _trim_infos(qs: QuerySet[Trim]) -> list[TrimInfo]:
    """TrimInfo DTOs straight from one joined query (no model instances: the catalog listing is hot)."""
    columns = list(_TRIM_FIELDS.values())
    return [TrimInfo(**dict(zip(_TRIM_FIELDS, row, strict=True))) for row in qs.values_list(*columns)]


def get_trim(trim_id: uuid.UUID | str) -> TrimInfo | None:
    key = _uuid(trim_id)
    found = _trim_infos(Trim.objects.filter(pk=key)) if key else []
    return found[0] if found else None


def get_trims(trim_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, TrimInfo]:
    return {t.id: t for t in _trim_infos(Trim.objects.filter(pk__in=list(trim_ids)))}


def catalog(*, brand: str = "", powertrain: str = "", swap_only: bool = False, max_price_fen: int | None = None,
            min_price_fen: int | None = None, series_id: uuid.UUID | None = None, q: str = "") -> list[TrimInfo]:
    """Active trims, cheapest first within each series (public: no subject needed). ``q`` is a text search: every
    word must appear in the brand, series or trim name (Chinese or English) or the model year."""
    qs = Trim.objects.filter(is_active=True)
    for word in q.split()[:8]:
        qs = qs.filter(Q(name__icontains=word) | Q(name_zh__icontains=word) | Q(series__name__icontains=word)
                       | Q(series__name_zh__icontains=word) | Q(series__brand__name__icontains=word)
                       | Q(series__brand__name_zh__icontains=word)
                       | Q(model_year=int(word) if word.isdigit() and len(word) == 4 else -1))
    if brand:
        qs = qs.filter(series__brand__slug=brand)
    if powertrain:
        qs = qs.filter(powertrain=powertrain)
    if swap_only:
        qs = qs.filter(battery_swap_capable=True)
    if max_price_fen is not None:
        qs = qs.filter(msrp_fen__lte=max_price_fen)
    if min_price_fen is not None:
        qs = qs.filter(msrp_fen__gte=min_price_fen)
    if series_id is not None:
        qs = qs.filter(series_id=series_id)
    return _trim_infos(qs)


def brands() -> list[tuple[str, str, str]]:
    """(slug, name, name_zh) of brands with active trims."""
    from carloop.vehicles.models import Brand

    return list(Brand.objects.filter(series__trims__is_active=True).distinct().order_by("name")
                .values_list("slug", "name", "name_zh"))


@dataclass(frozen=True)
class TrimConfig:
    trim: TrimInfo
    colours: tuple[ColourInfo, ...]
    options: tuple[OptionInfo, ...]


def cached_catalog(parts: tuple[object, ...], load: Callable[[], T]) -> T:
    """Cache a catalog-derived value (e.g. a rendered listing) until the catalog changes."""
    return catalog_cache.cached(parts, load)


def trim_config(trim_id: uuid.UUID | str, *, fresh: bool = False) -> TrimConfig | None:
    """A trim with its colours and options; from the versioned catalog cache unless ``fresh``."""
    key = _uuid(trim_id)
    if key is None:
        return None

    def load() -> TrimConfig | None:
        info = get_trim(key)
        return None if info is None else TrimConfig(info, tuple(colours(info.series_id)), tuple(options(info.series_id)))

    return load() if fresh else catalog_cache.cached(("trim-config", key), load)


def colours(series_id: uuid.UUID) -> list[ColourInfo]:
    return [ColourInfo(c.code, c.name, c.name_zh, c.hex, c.price_fen)
            for c in PaintColour.objects.filter(series_id=series_id)]


def options(series_id: uuid.UUID) -> list[OptionInfo]:
    return [OptionInfo(o.code, o.name, o.name_zh, o.price_fen) for o in TrimOption.objects.filter(series_id=series_id)]


def latest_odometer_km(vehicle_id: uuid.UUID) -> int | None:
    reading = OdometerReading.objects.filter(vehicle_id=vehicle_id).order_by("-read_on", "-created_at").first()
    return reading.km if reading else None


def owned_dto(vehicle: Vehicle) -> OwnedVehicle:
    trim = vehicle.trim
    return OwnedVehicle(
        id=vehicle.pk, vin=vehicle.vin, plate=vehicle.plate, owner_user_id=vehicle.owner_id,
        brand=trim.series.brand.name if trim else vehicle.brand_name,
        model_name=f"{trim.series.name} {trim.model_year} {trim.name}" if trim else vehicle.model_name,
        trim_id=vehicle.trim_id, registration_date=vehicle.registration_date,
        odometer_km=latest_odometer_km(vehicle.pk),
    )


def _vehicles() -> QuerySet[Vehicle]:
    return Vehicle.objects.select_related("trim__series__brand")


def get_owned_vehicle(owner_user_id: uuid.UUID | str, vehicle_id: uuid.UUID | str) -> OwnedVehicle | None:
    """The vehicle if ``owner_user_id`` owns it now, else None (not found and not owned look the same)."""
    owner, key = _uuid(owner_user_id), _uuid(vehicle_id)
    if owner is None or key is None:
        return None
    vehicle = _vehicles().filter(pk=key, owner_id=owner, status=Vehicle.Status.OWNED).first()
    return owned_dto(vehicle) if vehicle else None


def garage(owner_user_id: uuid.UUID) -> list[OwnedVehicle]:
    return [owned_dto(v) for v in _vehicles().filter(owner_id=owner_user_id, status=Vehicle.Status.OWNED).order_by("created_at")]


def user_id_of(subject: Subject) -> uuid.UUID:
    """The authenticated caller's user id (401 for anonymous callers)."""
    if subject.user_id is None:
        raise Unauthorized()
    return subject.user_id


def odometer_history(vehicle_id: uuid.UUID) -> list[OdometerEntry]:
    return [OdometerEntry(r.km, r.read_on, r.source, r.meter_replaced)
            for r in OdometerReading.objects.filter(vehicle_id=vehicle_id).order_by("read_on", "created_at")]


def latest_condition_grade(vehicle_id: uuid.UUID) -> str | None:
    report = ConditionReport.objects.filter(vehicle_id=vehicle_id).order_by("-inspected_on", "-created_at").first()
    return report.grade if report else None


def vehicle_id_for_vin(vin: str) -> uuid.UUID | None:
    return Vehicle.objects.filter(vin=vin.strip().upper()).values_list("pk", flat=True).first()


def trim_id_for_vin(vin: str) -> uuid.UUID | None:
    """The catalog trim of the registered vehicle with this VIN (None when unknown or not in the catalog)."""
    return Vehicle.objects.filter(vin=vin.strip().upper()).values_list("trim_id", flat=True).first()
