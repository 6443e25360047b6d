"""Published vehicle DTOs: other apps import these, ``selectors`` and ``services``, never the models."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from carloop.core import labels
from carloop.vehicles.valuation import Valuation
from carloop.vehicles.vin import VinReport

__all__ = ["POWERTRAINS", "ColourInfo", "OdometerEntry", "OptionInfo", "OwnedVehicle", "TrimInfo", "Valuation", "VinReport"]

CONDITION_REPORT_CREATED = "vehicles.condition_report.created"
POWERTRAINS: dict[str, tuple[str, str]] = {
    "BEV": ("纯电动", "Battery electric (BEV)"),
    "PHEV": ("插电混动", "Plug-in hybrid (PHEV)"),
    "EREV": ("增程式", "Range extender (EREV)"),
    "ICE": ("燃油", "Petrol (ICE)"),
}
labels.register("vehicles.powertrain", POWERTRAINS)


@dataclass(frozen=True)
class OwnedVehicle:
    id: uuid.UUID
    vin: str
    plate: str
    owner_user_id: uuid.UUID | None
    brand: str
    model_name: str
    trim_id: uuid.UUID | None
    registration_date: date | None
    odometer_km: int | None


@dataclass(frozen=True)
class OdometerEntry:
    km: int
    read_on: date
    source: str
    meter_replaced: bool


@dataclass(frozen=True)
class ColourInfo:
    code: str
    name: str
    name_zh: str
    hex: str
    price_fen: int


@dataclass(frozen=True)
class OptionInfo:
    code: str
    name: str
    name_zh: str
    price_fen: int


@dataclass(frozen=True)
class TrimInfo:
    id: uuid.UUID
    code: str
    brand: str
    brand_zh: str
    brand_tier: str
    manufacturer_org_id: uuid.UUID | None
    series_id: uuid.UUID
    series: str
    series_zh: str
    body_type: str
    model_year: int
    name: str
    name_zh: str
    powertrain: str
    battery_kwh: Decimal | None
    cltc_range_km: int | None
    seats: int
    msrp_fen: int
    battery_swap_capable: bool
    battery_price_fen: int
    is_active: bool
