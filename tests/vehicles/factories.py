"""Small catalog and garage builders shared by the vehicles and commerce tests."""

from __future__ import annotations

import itertools
from decimal import Decimal

from carloop.vehicles.models import Brand, PaintColour, Series, Trim, TrimOption, Vehicle
from carloop.vehicles.seed import stock_vin

_counter = itertools.count(1)


def make_trim(*, msrp_yuan: int = 89_800, powertrain: str = "BEV", swap: bool = False, battery_yuan: int = 0,
              stock: int = 2, tier: str = "mainstream", manufacturer_id=None) -> Trim:
    n = next(_counter)
    brand = Brand.objects.create(slug=f"brand-{n}", name=f"Brand {n}", name_zh=f"品牌{n}", tier=tier,
                                 manufacturer_id=manufacturer_id)
    series = Series.objects.create(brand=brand, slug=f"series-{n}", name=f"Series {n}", name_zh=f"车系{n}",
                                   body_type="hatchback")
    PaintColour.objects.create(series=series, code="white", name="White", name_zh="白", hex="#ffffff", price_fen=0)
    PaintColour.objects.create(series=series, code="green", name="Green", name_zh="绿", hex="#00ff00", price_fen=200_000)
    TrimOption.objects.create(series=series, code="heat-pump", name="Heat pump", name_zh="热泵", price_fen=300_000)
    TrimOption.objects.create(series=series, code="adas", name="ADAS", name_zh="智驾", price_fen=600_000)
    trim = Trim.objects.create(series=series, model_year=2025, code=f"trim-{n}", name=f"Trim {n}", name_zh=f"配置{n}",
                               powertrain=powertrain, battery_kwh=Decimal("44.1"), cltc_range_km=420, seats=5,
                               msrp_fen=msrp_yuan * 100, battery_swap_capable=swap, battery_price_fen=battery_yuan * 100)
    for s in range(stock):
        Vehicle.objects.create(vin=stock_vin("LMG", 2025, n % 1000, s + 1 + n * 10), trim=trim, colour_code="white")
    return trim


def owned_vehicle(owner, *, trim: Trim | None = None, registration_date=None, km: int = 30_000) -> Vehicle:
    import datetime as dt

    from carloop.vehicles import services

    trim = trim or make_trim(stock=0)
    n = next(_counter)
    dto = services.register_vehicle(owner_user_id=owner.pk, vin=stock_vin("LK6", 2022, n % 1000, 900_000 + n),
                                    plate=f"京AD{n % 10000:04d}"[:3] + f"{n % 100000:05d}", trim_id=trim.pk,
                                    registration_date=registration_date or dt.date(2022, 6, 1), odometer_km=km)
    return Vehicle.objects.get(pk=dto.id)
