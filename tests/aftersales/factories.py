"""Builders for after-sales tests: a city, a store with opening hours and services, a catalog service."""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal

from carloop.aftersales.models import City, OpeningHours, ServiceItem, ServicePart, Store, StoreService
from carloop.core.timeutil import SHANGHAI, now

_counter = itertools.count(1)


def beijing() -> City:
    city, _ = City.objects.get_or_create(code="110100", defaults={
        "name": "北京市", "name_en": "Beijing", "province": "北京市",
        "latitude": Decimal("39.904200"), "longitude": Decimal("116.407400")})
    return city


def make_service(code: str = "", *, hours: str = "1.00", parts: tuple[tuple[str, str, int], ...] = ()) -> ServiceItem:
    code = code or f"svc-{next(_counter)}"
    service = ServiceItem.objects.create(code=code, name=f"服务{code}", name_en=f"Service {code}",
                                         category=ServiceItem.Category.MAINTENANCE, labour_hours=Decimal(hours))
    for i, (part_no, quantity, unit_fen) in enumerate(parts):
        ServicePart.objects.create(service=service, part_no=part_no, name=f"配件{i}", name_en=f"Part {i}",
                                   quantity=Decimal(quantity), unit_price_fen=unit_fen)
    return service


def make_store(organisation, *, bays: int = 2, rate_fen: int = 18_000, services=(), lat: str = "39.904200",
               lng: str = "116.407400", kind: str = Store.Kind.FRANCHISE, rating: str = "4.5",
               opens: dt.time = dt.time(0, 0), closes: dt.time = dt.time(23, 59)) -> Store:
    n = next(_counter)
    store = Store.objects.create(organisation=organisation, code=f"store-{n}", name=f"门店{n}", name_en=f"Store {n}",
                                 kind=kind, city=beijing(), address="朝阳路1号", latitude=Decimal(lat),
                                 longitude=Decimal(lng), bays=bays, labour_rate_fen=rate_fen, rating=Decimal(rating))
    for weekday in range(7):
        OpeningHours.objects.create(store=store, weekday=weekday, opens=opens, closes=closes)
    for service in services:
        StoreService.objects.create(store=store, service=service)
    return store


def next_hour(days: int = 1, hour: int = 10) -> dt.datetime:
    """A whole hour ``days`` from today at ``hour`` o'clock, Asia/Shanghai."""
    day = (now().astimezone(SHANGHAI) + dt.timedelta(days=days)).date()
    return dt.datetime.combine(day, dt.time(hour), tzinfo=SHANGHAI)
