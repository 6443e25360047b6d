import datetime as dt
from decimal import Decimal

import pytest

from carloop.vehicles.valuation import (
    ValuationInput,
    appraise,
    base_residual,
    mileage_adjustment,
)

AS_OF = dt.date(2026, 11, 22)


def item(**overrides):
    values = {"msrp_fen": 10_000_000, "powertrain": "BEV", "brand_tier": "mainstream",
              "registration_date": dt.date(2023, 11, 22), "odometer_km": 45_000, "condition_grade": None}
    values.update(overrides)
    return ValuationInput(**values)


def test_four_year_old_bev_at_expected_mileage_follows_the_curve():
    valuation = appraise(item(registration_date=dt.date(2022, 11, 22), odometer_km=60_000), AS_OF)
    assert valuation.factors["age_years"] == "4.0000"
    assert valuation.factors["base_residual"] == "0.4300"
    assert valuation.factors["mileage_adjustment"] == "0.0000"
    assert valuation.value_fen == 4_300_000
    assert valuation.factors["range_spread"] == "0.0900"
    assert valuation.low_fen == 3_910_000
    assert valuation.high_fen == 4_690_000
    assert valuation.low_fen < valuation.value_fen < valuation.high_fen


def test_curves_interpolate_and_decay_beyond_ten_years():
    assert base_residual("ICE", Decimal("1.5")) == Decimal("0.7500")
    assert base_residual("ICE", Decimal(12)) == Decimal("0.2000")
    assert base_residual("BEV", Decimal(30)) == Decimal("0.0500")


def test_combustion_holds_value_better_than_bev_and_premium_better_than_value_brands():
    ice = appraise(item(powertrain="ICE"), AS_OF).value_fen
    bev = appraise(item(), AS_OF).value_fen
    assert ice > bev
    assert appraise(item(brand_tier="premium"), AS_OF).value_fen > bev > appraise(item(brand_tier="value"), AS_OF).value_fen


def test_mileage_and_condition_adjust_value():
    assert mileage_adjustment(15_000, Decimal(1)) == 0
    assert mileage_adjustment(35_000, Decimal(1)) == Decimal("-0.0300")
    assert mileage_adjustment(500_000, Decimal(1)) == Decimal("-0.2000")
    assert mileage_adjustment(0, Decimal(10)) == Decimal("0.0800")
    base = appraise(item(), AS_OF)
    assert appraise(item(odometer_km=120_000), AS_OF).value_fen < base.value_fen
    assert appraise(item(condition_grade="A"), AS_OF).value_fen > base.value_fen
    graded = appraise(item(condition_grade="D"), AS_OF)
    assert graded.value_fen < base.value_fen
    assert graded.factors["condition_factor"] == "0.85"
    assert Decimal(graded.factors["range_spread"]) < Decimal(base.factors["range_spread"])


def test_amounts_are_whole_hundreds_of_yuan():
    valuation = appraise(item(msrp_fen=9_980_000, odometer_km=40_123), AS_OF)
    for amount in (valuation.value_fen, valuation.low_fen, valuation.high_fen):
        assert isinstance(amount, int) and amount % 10_000 == 0


@pytest.mark.parametrize("bad", [{"powertrain": "STEAM"}, {"brand_tier": "x"}, {"condition_grade": "Z"}])
def test_unknown_inputs_are_rejected(bad):
    with pytest.raises(ValueError):
        appraise(item(**bad), AS_OF)
