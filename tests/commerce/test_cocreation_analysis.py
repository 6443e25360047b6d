import pytest

from carloop.commerce.cocreation_analysis import (
    MULTI,
    PRICE,
    SINGLE,
    Question,
    co_occurrence,
    demand_report,
    preference_shares,
    segments,
    van_westendorp,
    wilson_interval,
)

WAN = 1_000_000  # fen in 10,000 yuan


def vw(tc, c, e, te, **extra):
    return {"vw_too_cheap": tc * WAN, "vw_cheap": c * WAN, "vw_expensive": e * WAN, "vw_too_expensive": te * WAN,
            **extra}


def test_wilson_interval_matches_published_values():
    low, high = wilson_interval(8, 10)
    assert (round(low, 4), round(high, 4)) == (0.4902, 0.9433)
    low, high = wilson_interval(0, 10)
    assert (low, round(high, 4)) == (0.0, 0.2775)
    with pytest.raises(ValueError):
        wilson_interval(3, 0)


def test_van_westendorp_symmetric_worked_example():
    # Curves by hand on the grid 6..12 (×10,000 yuan): too cheap meets not cheap at 8, too expensive meets
    # not expensive at 10, too cheap meets too expensive and cheap meets expensive at 9.
    answers = [vw(6, 7, 9, 10), vw(7, 8, 10, 11), vw(7, 8, 10, 11), vw(8, 9, 11, 12)] * 2
    points = van_westendorp(answers)
    assert (points.pmc_fen, points.pme_fen, points.opp_fen, points.ipp_fen) == (8 * WAN, 10 * WAN, 9 * WAN, 9 * WAN)
    assert points.acceptable_range_fen == (8 * WAN, 10 * WAN)
    assert points.respondents == 8


def test_van_westendorp_interpolated_worked_example():
    # Six answer (10, 20, 30, 40) and four answer (20, 30, 40, 50):
    # too cheap 1, .4, 0 | not cheap 0, 0, .6, 1 -> PMC = 20 + 10 * .4 / 1.0 = 24
    # not expensive 1, 1, .4, 0 | too expensive 0, 0, 0, .6 -> PME = 30 + 10 * .4 / 1.0 = 34
    # too cheap - too expensive is 0 exactly at 30 -> OPP = 30
    # cheap 1, 1, .4 | expensive 0, 0, .6 -> IPP = 20 + 10 * 1 / 1.2 = 28.333...
    answers = [vw(10, 20, 30, 40)] * 6 + [vw(20, 30, 40, 50)] * 4 + [vw(30, 20, 10, 5)] * 3
    points = van_westendorp(answers)
    assert points.pmc_fen == 24 * WAN
    assert points.pme_fen == 34 * WAN
    assert points.opp_fen == 30 * WAN
    assert points.ipp_fen == 28_333_333
    assert (points.respondents, points.excluded_inconsistent) == (10, 3)


def test_van_westendorp_needs_five_consistent_respondents():
    assert van_westendorp([vw(6, 7, 9, 10)] * 4) is None


COLOUR = Question("colour", SINGLE, ("white", "black", "green", "red"))
FEATURES = Question("features", MULTI, ("adas", "swap", "heat_pump", "v2l"))


def test_single_choice_shares_with_primary_and_secondary_suppression():
    answers = [{"colour": "white"}] * 12 + [{"colour": "black"}] * 6 + [{"colour": "green"}] * 5 + [{"colour": "red"}] * 2
    cells = {c["option"]: c for c in preference_shares(COLOUR, answers)}
    assert cells["white"]["count"] == 12 and cells["white"]["share"] == 0.48
    assert cells["white"]["ci_low"] < 0.48 < cells["white"]["ci_high"]
    assert cells["red"]["suppressed"] and cells["red"]["count"] is None
    assert cells["green"]["suppressed"], "the smallest visible cell hides the red count from subtraction"
    assert not cells["black"]["suppressed"]


def test_multi_choice_shares_and_co_occurrence_suppress_small_pairs():
    answers = ([{"features": ["adas", "swap"]}] * 6 + [{"features": ["adas", "heat_pump"]}] * 4
               + [{"features": ["v2l"]}] * 5)
    cells = {c["option"]: c for c in preference_shares(FEATURES, answers)}
    assert cells["adas"]["count"] == 10 and cells["adas"]["share"] == round(10 / 15, 4)
    assert cells["swap"]["count"] == 6 and not cells["heat_pump"]["count"]
    pairs = {(p["a"], p["b"]): p for p in co_occurrence(FEATURES, answers)}
    assert pairs[("adas", "swap")]["count"] == 6
    assert pairs[("adas", "swap")]["lift"] == round(6 * 15 / (10 * 6), 3)
    assert pairs[("adas", "heat_pump")]["suppressed"]
    assert pairs[("swap", "v2l")]["count"] is None


STYLE = Question("style", SINGLE, ("sporty", "classic", "cute"))
QUESTIONS = [STYLE, COLOUR, FEATURES, Question("price", PRICE)]


def synthetic_campaign():
    sporty = [{"style": "sporty", "colour": "red", "features": ["adas", "v2l"], "price": 15 * WAN,
               **vw(8, 10, 15, 18)}] * 20
    family = [{"style": "classic", "colour": "white", "features": ["swap", "heat_pump"], "price": 9 * WAN,
               **vw(5, 7, 9, 12)}] * 15
    stray = [{"style": "cute", "colour": "green", "features": ["swap"], "price": 7 * WAN, **vw(4, 5, 7, 9)}] * 2
    return sporty + family + stray


def test_segments_found_by_clustering_with_suggested_configurations():
    result = segments(QUESTIONS, synthetic_campaign(), price_key="price")
    assert result["k"] == 2
    first, second = result["segments"]
    assert (first["size"], second["size"]) in {(20, 17), (22, 15)}
    assert first["configuration"] == {"style": "sporty", "colour": "red", "features": ["adas", "v2l"]}
    assert second["configuration"]["style"] == "classic"
    assert "swap" in second["configuration"]["features"]
    assert first["median_price_fen"] == 15 * WAN
    assert all(s["size"] >= 5 for s in result["segments"])


def test_too_few_respondents_for_segments():
    assert segments(QUESTIONS, synthetic_campaign()[:9])["segments"] == []


def test_demand_report_only_contains_aggregates():
    report = demand_report(QUESTIONS, synthetic_campaign())
    assert report["respondents"] == 37
    assert report["questions"]["price"]["median_fen"] == 15 * WAN
    assert report["price_points"]["pmc_fen"] <= report["price_points"]["pme_fen"]
    assert len(report["price_curves"]["prices_fen"]) == len(report["price_curves"]["too_cheap"])
    assert all(p % 100_000 == 0 for p in report["price_curves"]["prices_fen"])
    styles = {c["option"]: c for c in report["questions"]["style"]["options"]}
    assert styles["cute"]["suppressed"]
    assert report["segments"]["k"] == 2


def test_demand_report_below_five_respondents_is_fully_suppressed():
    report = demand_report(QUESTIONS, synthetic_campaign()[:4])
    assert report["suppressed"] is True
    assert report["respondents"] is None
    assert report["questions"] == {} and report["segments"] is None
