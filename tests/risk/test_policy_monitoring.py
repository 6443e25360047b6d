import pytest

from carloop.risk import monitoring, policy


def ctx(**kw):
    base = {
        "kyc_verified": True,
        "age": 30,
        "age_at_maturity": 33,
        "blacklisted": False,
        "amount_fen": 10_000_000,
        "term_months": 36,
        "product.max_amount_fen": 50_000_000,
        "product.min_amount_fen": 1_000_000,
        "product.max_term_months": 60,
        "product.max_ltv": "0.80",
        "ltv": "0.50",
        "dti": "0.30",
    }
    base.update(kw)
    return base


RULES = policy.validate({"rules": policy.DEFAULT_RULES})


def codes(context):
    return [h.code for h in policy.evaluate(RULES, context)]


def test_clean_application_passes():
    hits = policy.evaluate(RULES, ctx())
    assert hits == [] and policy.outcome_of(hits) == "pass"


@pytest.mark.parametrize(
    ("changes", "code", "outcome"),
    [
        ({"age": 17}, "P_AGE_MIN", "decline"),
        ({"kyc_verified": False}, "P_KYC", "decline"),
        ({"blacklisted": True}, "P_BLACKLIST", "decline"),
        ({"amount_fen": 60_000_000}, "P_AMOUNT_MAX", "decline"),
        ({"ltv": "0.81"}, "P_LTV", "decline"),
        ({"dti": "0.55"}, "P_DTI_REFER", "refer"),
        ({"dti": None, "amount_fen": 6_000_000}, "P_INCOME_MISSING", "refer"),
        ({"f.max_dpd_365d": 120}, "P_DPD", "decline"),
    ],
)
def test_rules_fire(changes, code, outcome):
    hits = policy.evaluate(RULES, ctx(**changes))
    assert code in [h.code for h in hits]
    assert policy.outcome_of(hits) == outcome


def test_decline_beats_refer_and_boundaries_are_exact():
    assert policy.outcome_of(policy.evaluate(RULES, ctx(dti="0.75"))) == "decline"
    assert codes(ctx(ltv="0.80")) == []  # equal to the maximum is allowed
    assert codes(ctx(age=18)) == []


def test_missing_reference_does_not_fire():
    context = ctx()
    del context["product.max_ltv"]
    assert "P_LTV" not in codes(context | {"ltv": "0.99"})


def test_in_and_not_and_any():
    rules = policy.validate(
        {
            "rules": [
                {
                    "code": "X",
                    "action": "refer",
                    "zh": "测试",
                    "en": "test",
                    "when": {
                        "any": [
                            {"field": "product_kind", "op": "in", "value": ["cash_loan"]},
                            {"not": {"field": "term_months", "op": "le", "value": 12}},
                        ]
                    },
                }
            ]
        }
    )
    assert policy.evaluate(rules, {"product_kind": "cash_loan", "term_months": 6})
    assert policy.evaluate(rules, {"product_kind": "car", "term_months": 24})
    assert not policy.evaluate(rules, {"product_kind": "car", "term_months": 12})


def test_validation_reports_pointers():
    with pytest.raises(policy.RuleSetError) as err:
        policy.validate(
            {
                "rules": [
                    {"code": "A", "action": "approve", "zh": "x", "en": "x", "when": {"field": "age", "op": "lt", "value": 18}},
                    {"code": "A", "action": "refer", "zh": "x", "en": "", "when": {"field": "age", "op": "lt", "value": "old"}},
                    {"code": "B", "action": "refer", "zh": "x", "en": "x", "when": {"field": "age", "op": "between"}},
                ]
            }
        )
    pointers = [p for p, _, _ in err.value.errors]
    assert pointers == ["/rules/0/action", "/rules/1/code", "/rules/1/en", "/rules/1/when/value", "/rules/2/when/op"]
    with pytest.raises(policy.RuleSetError):
        policy.validate({"rule": []})


def test_psi_identical_is_zero_and_shift_alerts():
    base = [100, 200, 300, 200, 100]
    assert monitoring.psi(base, base) == pytest.approx(0)
    assert monitoring.psi(base, [b * 3 for b in base]) == pytest.approx(0, abs=1e-3)
    assert monitoring.psi([500, 500, 0], [5, 5, 0]) == pytest.approx(0, abs=1e-3)  # an empty bin on both sides adds nothing
    shifted = [10, 50, 200, 350, 290]
    value = monitoring.psi(base, shifted)
    assert value > monitoring.PSI_ALERT and monitoring.level(value) == "alert"
    assert monitoring.level(0.05) == "ok" and monitoring.level(0.2) == "warn"


def test_band_counts_and_quantile_edges():
    assert monitoring.band_counts([400, 450, 455, 800, None], [450, 500]) == [1, 2, 1, 1]
    edges = monitoring.quantile_edges(list(range(100)), 4)
    assert edges == [25, 50, 75]
    assert monitoring.quantile_edges([1, 1, 1, 1], 4) == [1]
