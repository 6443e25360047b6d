"""Used-car valuation: residual curve by powertrain and brand tier, mileage and condition adjustments.

All ratios are Decimal; amounts are integer fen. The curves approximate published Chinese residual-value
surveys (new-energy vehicles lose value faster than combustion cars, premium brands hold value better); see
docs/commerce.md for the figures and their basis.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from carloop.core.money import round_half_up

RATIO = Decimal("0.0001")
YEAR_DAYS = Decimal("365.25")
VALUE_QUANTUM_FEN = Decimal(10_000)
ANCHOR_YEARS = (0, 1, 2, 3, 4, 5, 6, 8, 10)
RESIDUAL_CURVES: dict[str, tuple[str, ...]] = {
    "ICE": ("0.90", "0.80", "0.70", "0.62", "0.55", "0.48", "0.42", "0.32", "0.24"),
    "PHEV": ("0.87", "0.74", "0.64", "0.55", "0.48", "0.42", "0.36", "0.27", "0.20"),
    "EREV": ("0.88", "0.76", "0.66", "0.57", "0.50", "0.44", "0.38", "0.29", "0.21"),
    "BEV": ("0.85", "0.70", "0.60", "0.50", "0.43", "0.37", "0.32", "0.24", "0.17"),
}
TIER_FACTORS = {"premium": Decimal("1.05"), "mainstream": Decimal("1.00"), "value": Decimal("0.94")}
YEARLY_DECAY_AFTER_CURVE = Decimal("0.02")
RESIDUAL_FLOOR = Decimal("0.05")
EXPECTED_KM_PER_YEAR = 15_000
MILEAGE_STEP_KM = 10_000
MILEAGE_RATE_PER_STEP = Decimal("0.015")
MILEAGE_MIN = Decimal("-0.20")
MILEAGE_MAX = Decimal("0.08")
CONDITION_FACTORS = {"A": Decimal("1.04"), "B": Decimal("1.00"), "C": Decimal("0.94"), "D": Decimal("0.85"),
                     "E": Decimal("0.70")}
SPREAD_BASE = Decimal("0.05")
SPREAD_PER_YEAR = Decimal("0.01")
SPREAD_MAX = Decimal("0.12")
SPREAD_MIN = Decimal("0.03")
SPREAD_CONDITION_BONUS = Decimal("0.02")


@dataclass(frozen=True)
class Valuation:
    value_fen: int
    low_fen: int
    high_fen: int
    factors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ValuationInput:
    msrp_fen: int
    powertrain: str
    brand_tier: str
    registration_date: dt.date
    odometer_km: int
    condition_grade: str | None = None


def age_years(registration_date: dt.date, as_of: dt.date) -> Decimal:
    days = max((as_of - registration_date).days, 0)
    return round_half_up(Decimal(days) / YEAR_DAYS, RATIO)


def base_residual(powertrain: str, age: Decimal) -> Decimal:
    """Residual ratio of the new price at ``age`` years, linear between the curve's anchor years."""
    curve = [Decimal(point) for point in RESIDUAL_CURVES[powertrain]]
    last_year = ANCHOR_YEARS[-1]
    if age >= last_year:
        extra = curve[-1] - YEARLY_DECAY_AFTER_CURVE * (age - last_year)
        return round_half_up(max(extra, RESIDUAL_FLOOR), RATIO)
    for index in range(len(ANCHOR_YEARS) - 1):
        start, end = ANCHOR_YEARS[index], ANCHOR_YEARS[index + 1]
        if start <= age <= end:
            fraction = (age - start) / (end - start)
            return round_half_up(curve[index] + (curve[index + 1] - curve[index]) * fraction, RATIO)
    raise ValueError(f"age {age} outside the curve")


def mileage_adjustment(odometer_km: int, age: Decimal) -> Decimal:
    """Relative adjustment for driving more or less than the expected 15,000 km a year, clamped."""
    expected = Decimal(EXPECTED_KM_PER_YEAR) * age
    steps = (Decimal(odometer_km) - expected) / MILEAGE_STEP_KM
    adjustment = -steps * MILEAGE_RATE_PER_STEP
    return round_half_up(min(max(adjustment, MILEAGE_MIN), MILEAGE_MAX), RATIO)


def _to_hundred_yuan(fen: Decimal) -> int:
    """Quotes are given to the nearest 100 yuan."""
    return int(round_half_up(fen / VALUE_QUANTUM_FEN, Decimal(1)) * VALUE_QUANTUM_FEN)


def appraise(item: ValuationInput, as_of: dt.date) -> Valuation:
    if item.powertrain not in RESIDUAL_CURVES:
        raise ValueError(f"unknown powertrain {item.powertrain!r}")
    if item.brand_tier not in TIER_FACTORS:
        raise ValueError(f"unknown brand tier {item.brand_tier!r}")
    if item.condition_grade is not None and item.condition_grade not in CONDITION_FACTORS:
        raise ValueError(f"unknown condition grade {item.condition_grade!r}")
    age = age_years(item.registration_date, as_of)
    residual = base_residual(item.powertrain, age)
    tier = TIER_FACTORS[item.brand_tier]
    mileage = mileage_adjustment(item.odometer_km, age)
    condition = CONDITION_FACTORS[item.condition_grade] if item.condition_grade else Decimal(1)
    ratio = residual * tier * (1 + mileage) * condition
    exact_fen = Decimal(item.msrp_fen) * ratio
    value_fen = _to_hundred_yuan(exact_fen)
    spread = min(SPREAD_BASE + SPREAD_PER_YEAR * age, SPREAD_MAX)
    if item.condition_grade:
        spread = max(spread - SPREAD_CONDITION_BONUS, SPREAD_MIN)
    spread = round_half_up(spread, RATIO)
    low_fen = _to_hundred_yuan(Decimal(value_fen) * (1 - spread))
    high_fen = _to_hundred_yuan(Decimal(value_fen) * (1 + spread))
    factors = {
        "msrp_fen": str(item.msrp_fen),
        "powertrain": item.powertrain,
        "brand_tier": item.brand_tier,
        "age_years": str(age),
        "base_residual": str(residual),
        "tier_factor": str(tier),
        "odometer_km": str(item.odometer_km),
        "mileage_adjustment": str(mileage),
        "condition_grade": item.condition_grade or "",
        "condition_factor": str(condition),
        "range_spread": str(spread),
    }
    return Valuation(value_fen, low_fen, high_fen, factors)
