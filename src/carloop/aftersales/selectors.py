"""After-sales queries. The store network, the service catalog, prices and free slots are public; bookings are
read through ``bookings_readable_by(subject)`` (another party's booking is a 404)."""

from __future__ import annotations

import math
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.db.models import QuerySet

from carloop.aftersales.models import Booking, OpeningHours, ServiceItem, Slot, Store
from carloop.core import authz
from carloop.core.authz import Subject
from carloop.core.money import round_half_up
from carloop.core.timeutil import SHANGHAI, now

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE_LATITUDE = 111.2
SLOT = timedelta(hours=1)
BOOKING_HORIZON = timedelta(days=60)


# ---- who may do what ----------------------------------------------------------------------------------------

def runs_store(subject: Subject, store_organisation_id: uuid.UUID) -> bool:
    """The store's manager and technicians see its bookings; the manager cancels them."""
    return subject.in_org(store_organisation_id, authz.STORE_MANAGER, authz.TECHNICIAN)


def manages_store(subject: Subject, store_organisation_id: uuid.UUID) -> bool:
    return subject.in_org(store_organisation_id, authz.STORE_MANAGER)


def oversees_network(subject: Subject) -> bool:
    """Operations read every store's bookings."""
    return subject.has_role(authz.OPS)


def is_booker(subject: Subject, booking: Booking) -> bool:
    return subject.kind == "customer" and booking.customer_id == subject.user_id


def may_cancel(subject: Subject, booking: Booking) -> bool:
    return is_booker(subject, booking) or manages_store(subject, booking.store.organisation_id) or oversees_network(subject)


# ---- the network --------------------------------------------------------------------------------------------

def stores() -> QuerySet[Store]:
    return Store.objects.filter(active=True).select_related("city")


def get_store(store_id: uuid.UUID | str) -> Store | None:
    try:
        key = store_id if isinstance(store_id, uuid.UUID) else uuid.UUID(str(store_id))
    except ValueError:
        return None
    return stores().filter(pk=key).first()


def stores_run_by(subject: Subject) -> QuerySet[Store]:
    """The stores whose organisation the subject works for (manager or technician)."""
    return stores().filter(organisation_id__in=subject.org_ids(authz.STORE_MANAGER, authz.TECHNICIAN))


def services_offered(store: Store) -> list[ServiceItem]:
    return list(ServiceItem.objects.filter(pk__in=store.offered.values("service_id")).order_by("category", "code"))


def get_service(code: str) -> ServiceItem | None:
    return ServiceItem.objects.filter(code=code).first()


def catalog() -> QuerySet[ServiceItem]:
    return ServiceItem.objects.prefetch_related("parts").order_by("category", "code")


# ---- prices -------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuoteLine:
    kind: str  # "part" or "labour"
    code: str
    name: str
    name_en: str
    quantity: Decimal
    unit_fen: int
    amount_fen: int


@dataclass(frozen=True)
class Quote:
    store_id: uuid.UUID
    service_code: str
    labour_hours: Decimal
    labour_rate_fen: int
    parts_fen: int
    labour_fen: int
    total_fen: int
    lines: tuple[QuoteLine, ...]


def _fen(value: Decimal) -> int:
    return int(round_half_up(value, Decimal(1)))


def quote(store: Store, service: ServiceItem) -> Quote:
    """The transparent price: each part at the platform price × quantity, plus the standard labour hours × the
    store's labour rate; every line rounded half-up to the fen, the total the sum of the lines."""
    lines = [QuoteLine("part", p.part_no, p.name, p.name_en, p.quantity, p.unit_price_fen, _fen(p.quantity * p.unit_price_fen))
             for p in service.parts.all()]
    labour = QuoteLine("labour", service.code, "工时费", "Labour", service.labour_hours, store.labour_rate_fen,
                       _fen(service.labour_hours * store.labour_rate_fen))
    parts_fen = sum(line.amount_fen for line in lines)
    return Quote(store_id=store.pk, service_code=service.code, labour_hours=service.labour_hours,
                 labour_rate_fen=store.labour_rate_fen, parts_fen=parts_fen, labour_fen=labour.amount_fen,
                 total_fen=parts_fen + labour.amount_fen, lines=(*lines, labour))


def hours_needed(service: ServiceItem) -> int:
    """The one-hour slots a service holds: its labour hours rounded up."""
    return max(1, math.ceil(service.labour_hours))


# ---- opening hours and slots --------------------------------------------------------------------------------

def opening_hours(store: Store) -> dict[int, OpeningHours]:
    return {h.weekday: h for h in store.hours.all()}


def within_opening_hours(hours: dict[int, OpeningHours], starts_at: datetime, duration: timedelta) -> bool:
    local = starts_at.astimezone(SHANGHAI)
    day = hours.get(local.weekday())
    end = local + duration
    return day is not None and end.date() == local.date() and day.opens <= local.time() and end.time() <= day.closes


def is_open_at(store: Store, at: datetime) -> bool:
    local = at.astimezone(SHANGHAI)
    day = opening_hours(store).get(local.weekday())
    return day is not None and day.opens <= local.time() < day.closes


def earliest_free_slot(store: Store, service: ServiceItem | None = None, *, after: datetime | None = None,
                       days: int = 14) -> datetime | None:
    """The first whole hour from ``after`` (default now) when the store has a bay free for the service's hours."""
    start = (after or now()).astimezone(SHANGHAI).replace(minute=0, second=0, microsecond=0) + SLOT
    needed = hours_needed(service) if service else 1
    hours = opening_hours(store)
    until = start + timedelta(days=days)
    full = set(Slot.objects.filter(store=store, starts_at__gte=start, starts_at__lt=until + SLOT * needed,
                                   booked__gte=store.bays).values_list("starts_at", flat=True))
    at = start
    while at < until:
        if within_opening_hours(hours, at, SLOT * needed) and not any(at + SLOT * i in full for i in range(needed)):
            return at
        at += SLOT
    return None


# ---- nearest stores -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class StoreHit:
    store: Store
    distance_km: Decimal


def haversine_km(lat1: float, lng1: float, lat2: float, lng2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def nearest_stores(*, latitude: Decimal, longitude: Decimal, radius_km: int = 50, service_code: str = "",
                   kinds: Iterable[str] = (), min_rating: Decimal | None = None, open_at: datetime | None = None,
                   limit: int = 20) -> list[StoreHit]:
    """Active stores within ``radius_km`` of a point, nearest first. A latitude/longitude box around the point
    narrows the rows on the position index; the great-circle distance orders and trims them."""
    lat, lng = float(latitude), float(longitude)
    dlat = radius_km / KM_PER_DEGREE_LATITUDE
    dlng = radius_km / (KM_PER_DEGREE_LATITUDE * max(math.cos(math.radians(lat)), 0.01))
    qs = stores().filter(latitude__gte=Decimal(str(round(lat - dlat, 6))), latitude__lte=Decimal(str(round(lat + dlat, 6))),
                         longitude__gte=Decimal(str(round(lng - dlng, 6))), longitude__lte=Decimal(str(round(lng + dlng, 6))))
    if service_code:
        qs = qs.filter(offered__service__code=service_code)
    kinds = list(kinds)
    if kinds:
        qs = qs.filter(kind__in=kinds)
    if min_rating is not None:
        qs = qs.filter(rating__gte=min_rating)
    if open_at is not None:
        local = open_at.astimezone(SHANGHAI)
        qs = qs.filter(hours__weekday=local.weekday(), hours__opens__lte=local.time(), hours__closes__gt=local.time())
    hits = []
    for store in qs:
        km = haversine_km(lat, lng, float(store.latitude), float(store.longitude))
        if km <= radius_km:
            hits.append(StoreHit(store, Decimal(str(round(km, 2)))))
    hits.sort(key=lambda h: (h.distance_km, h.store.code))
    return hits[:limit]


# ---- bookings -----------------------------------------------------------------------------------------------

def bookings_readable_by(subject: Subject) -> QuerySet[Booking]:
    """Owners see their bookings, a store's staff the store's, operations every store's."""
    qs = Booking.objects.select_related("store__city", "service")
    if oversees_network(subject):
        return qs
    if subject.kind == "customer":
        return qs.filter(customer_id=subject.user_id)
    orgs = subject.org_ids(authz.STORE_MANAGER, authz.TECHNICIAN)
    return qs.filter(store__organisation_id__in=orgs) if orgs else qs.none()


def get_booking(subject: Subject, booking_id: uuid.UUID) -> Booking | None:
    return bookings_readable_by(subject).filter(pk=booking_id).first()


def bookings_on(subject: Subject, store: Store, day_start: datetime) -> QuerySet[Booking]:
    """A store's bookings starting within the 24 hours from ``day_start``, as the subject may read them."""
    return bookings_readable_by(subject).filter(store=store, starts_at__gte=day_start,
                                                starts_at__lt=day_start + timedelta(days=1)).order_by("starts_at")
