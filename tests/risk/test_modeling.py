import json
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carloop.risk.modeling import artifacts, cli, cv
from carloop.risk.modeling.data import DataError, load_csv
from carloop.risk.modeling.metrics import CostMatrix, auc, best_threshold, expected_cost
from carloop.risk.modeling.models import GbmModel, ScorecardModel, ScoreScale

from .synthetic import make_rows, write_csv


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("data") / "train.csv", make_rows(600, seed=1))


@pytest.fixture(scope="module")
def holdout_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("data") / "holdout.csv", make_rows(400, seed=2))


@pytest.fixture(scope="module")
def dataset(data_csv):
    return load_csv(data_csv, "status", "bad")


@pytest.fixture(scope="module")
def scorecard(dataset):
    return ScorecardModel().fit(dataset.x, dataset.y, dataset.categorical)


# --- loading -------------------------------------------------------------------------------------------


def test_load_infers_types_and_keeps_missing(dataset):
    assert dataset.numeric == ["income", "utilisation", "noise"]
    assert dataset.categorical == ["region"]
    assert dataset.x["income"].isna().sum() == len(range(0, 600, 17))
    assert dataset.x["region"].isna().sum() == len(range(0, 600, 23))
    assert set(np.unique(dataset.y)) == {0, 1}
    assert len(dataset.sha256) == 64


@pytest.mark.parametrize(
    ("content", "target", "slug"),
    [
        ("a,b,status\n1,2,bad\n3,4,good\n", "nope", "unknown-target"),
        ("a,b,status\n1,2,good\n3,4,good\n", "status", "single-class"),
        ("a,b,status\n1,2,bad\n3,4,good,9\n", "status", "malformed-csv"),
        ("a,b,status\n1,2,bad\n3,good\n", "status", "malformed-csv"),
        ("1,2,3\n4,5,6\n", "status", "missing-header"),
        ("", "status", "empty-csv"),
        ("a,b,status\n", "status", "empty-csv"),
        ("a,a,status\n1,2,bad\n", "status", "malformed-csv"),
        ("a,b,status\n1,2,\n3,4,good\n", "status", "missing-target"),
    ],
)
def test_bad_input_is_a_clear_error(tmp_path, content, target, slug):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(DataError) as err:
        load_csv(path, target, "bad")
    assert err.value.slug == slug
    assert err.value.zh and err.value.en


# --- scale, binning, scorecard ---------------------------------------------------------------------------


def test_points_scale_base_and_pdo():
    scale = ScoreScale(600, 50, 20)
    logit_at_base_odds = math.log(1 / 50)  # P(bad)/P(good) = 1/50
    assert scale.score_from_logit(logit_at_base_odds) == 600
    assert scale.score_from_logit(math.log(1 / 100)) == 620  # odds doubled -> +PDO
    assert ScoreScale(500, 20, 40).score_from_logit(math.log(1 / 40)) == 540


def test_binning_finds_trends_and_woe_sign(scorecard):
    features = scorecard.binner.features
    assert features["income"].trend == -1  # more income, fewer bads
    assert features["utilisation"].trend == 1
    woe = features["utilisation"].woe[:-1]
    assert woe == sorted(woe)  # monotonic, positive = riskier
    assert features["noise"].iv < features["utilisation"].iv


def test_scorecard_points_and_tables(scorecard, dataset):
    points = scorecard.points_table()
    assert all(c > 0 for c in scorecard.coef)
    util = points["utilisation"][:-2]  # regular bins
    assert util == sorted(util, reverse=True)  # higher utilisation, fewer points
    tables = scorecard.binning_tables()
    assert tables["region"][-1]["bin"] == "Missing"
    assert sum(r["count"] for r in tables["income"]) == len(dataset.y)
    p = scorecard.predict_proba(dataset.x)
    assert auc(dataset.y, p) > 0.75


def test_compiled_row_matches_batch(scorecard, dataset):
    compiled = scorecard.compile()
    logits = scorecard.logits(dataset.x.iloc[:50])
    for i, (_, row) in enumerate(dataset.x.iloc[:50].iterrows()):
        result = compiled.score_row(row.to_dict())
        assert result.prob_bad == pytest.approx(1 / (1 + math.exp(-logits[i])))
        assert result.score == scorecard.scale.score_from_logit(logits[i])
    unseen = compiled.score_row({"income": 3.0, "utilisation": 0.97, "region": "mars"})
    assert 0 < unseen.prob_bad < 1


def test_reason_codes_are_the_biggest_point_losses(scorecard):
    scorecard.labels = {"utilisation": ("额度使用率", "Credit utilisation")}
    compiled = scorecard.compile()
    risky = compiled.score_row({"income": 4.0, "utilisation": 0.99, "region": "west", "noise": 0})
    safe = compiled.score_row({"income": 18.0, "utilisation": 0.01, "region": "north", "noise": 0})
    assert safe.score > risky.score
    assert 1 <= len(risky.reasons) <= 4
    assert [r.impact for r in risky.reasons] == sorted((r.impact for r in risky.reasons), reverse=True)
    util = next(r for r in risky.reasons if r.feature == "utilisation")
    assert util.zh.startswith("额度使用率") and util.en.startswith("Credit utilisation")
    assert safe.reasons == [] or all(r.impact > 0 for r in safe.reasons)


def test_gbm_respects_monotone_constraints(dataset):
    model = GbmModel().fit(dataset.x, dataset.y, dataset.categorical)
    constraint = dict(zip(model.features, model.constraints, strict=True))
    assert constraint["utilisation"] == 1 and constraint["income"] == -1 and constraint["region"] == 1
    grid = pd.DataFrame({"income": 10.0, "utilisation": np.linspace(0, 1, 41), "region": "south", "noise": 0.0})
    p = model.predict_proba(grid)
    assert np.all(np.diff(p) >= -1e-12)
    row = model.compile().score_row({"income": 4.0, "utilisation": 0.99, "region": "west", "noise": 0.1})
    assert row.prob_bad == pytest.approx(
        float(model.predict_proba(pd.DataFrame([{"income": 4.0, "utilisation": 0.99, "region": "west", "noise": 0.1}]))[0])
    )
    assert len(row.reasons) <= 4 and all(r.impact > 0 for r in row.reasons)


def test_gbm_drops_a_trend_that_reverses_next_to_a_correlated_feature():
    rng = np.random.default_rng(3)
    n = 2000
    duration = rng.uniform(6, 60, n)
    amount = duration * 150 + rng.normal(0, 2000, n)  # rises with duration, so it looks risky on its own
    logit = -1.0 + 0.1 * (duration - 30) - 0.0002 * (amount - 4500)
    y = (rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    x = pd.DataFrame({"duration": duration.round(), "amount": amount.round()})
    model = GbmModel().fit(x, y, [])
    assert model.binner.features["amount"].trend == 1
    assert dict(zip(model.features, model.constraints, strict=True)) == {"duration": 1, "amount": 0}


# --- metrics and CV ----------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 20)), min_size=2, max_size=40))
def test_best_threshold_is_optimal(pairs):
    y = np.array([a for a, _ in pairs])
    p = np.array([b / 20 for _, b in pairs])
    costs = CostMatrix(5, 1)
    chosen = expected_cost(y, p, best_threshold(y, p, costs), costs)
    brute = min(expected_cost(y, p, t, costs) for t in [*np.unique(p), 2.0])
    assert chosen == pytest.approx(brute)


def test_threshold_is_chosen_on_training_folds_only(dataset, monkeypatch):
    seen = []
    real = cv.inner_threshold

    def spy(x, y, *args, **kwargs):
        seen.append(set(x.index))
        return real(x, y, *args, **kwargs)

    monkeypatch.setattr(cv, "inner_threshold", spy)
    result = cv.cross_validate(dataset.x, dataset.y, dataset.categorical, ScorecardModel, k=3, repeats=1, costs=CostMatrix(), inner_k=2)
    splits = list(cv.RepeatedStratifiedKFold(n_splits=3, n_repeats=1, random_state=42).split(dataset.x, dataset.y))
    assert len(seen) == 3
    for train_index, (train, test) in zip(seen, splits, strict=True):
        assert train_index == set(dataset.x.index[train])
        assert not train_index & set(dataset.x.index[test])
    assert all(f.threshold is not None and f.cost is not None for f in result.folds)
    assert result.summary()["gini"] == pytest.approx(2 * result.auc - 1, abs=1e-4)


def test_cv_needs_enough_rows_per_class(dataset):
    with pytest.raises(DataError) as err:
        cv.check_folds(np.array([0] * 50 + [1] * 3), 5)
    assert err.value.slug == "too-few-rows"


# --- artifacts and command line ----------------------------------------------------------------------------


def test_train_writes_artifact_and_loads_it(dataset, tmp_path, holdout_csv):
    out = tmp_path / "model"
    result = artifacts.train(dataset, "scorecard", out, k=3, costs=CostMatrix(5, 1), inner_k=2)
    meta = json.loads((out / "meta.json").read_text())
    assert meta["model"] == "scorecard" and meta["data_sha256"] == dataset.sha256
    assert meta["version"] == result.version and meta["features"] == dataset.features
    assert {"auc", "auc_std", "ks", "gini", "cost"} <= set(meta["metrics"])
    assert meta["created_at"] and meta["threshold"] is not None
    loaded = artifacts.load(out)
    frame = pd.read_csv(holdout_csv, dtype=str, keep_default_na=False, na_values=[""])
    p = loaded.predict_proba(frame)
    row = loaded.score_row(loaded.coerce(frame.iloc[[0]]).iloc[0].to_dict())
    assert row.prob_bad == pytest.approx(p[0])
    report = artifacts.evaluate(loaded, holdout_csv, "status", "bad")
    assert report["auc"] > 0.7 and report["cost"] is not None and report["n_rows"] == 400


def test_cli_train_json_and_evaluate(data_csv, holdout_csv, tmp_path, capsys):
    out = tmp_path / "gbm"
    code = cli.main([
        "train", "--data", str(data_csv), "--target", "status", "--bad-value", "bad", "--model", "gbm",
        "--cv", "3", "--inner-cv", "2", "--cost-bad-as-good", "5", "--cost-good-as-bad", "1",
        "--out", str(out), "--json",
    ])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert list(doc) == ["model", "auc", "auc_std", "ks", "gini", "cost", "threshold", "n_rows", "n_features", "out"]
    assert doc["model"] == "gbm" and doc["n_rows"] == 600 and doc["n_features"] == 4 and doc["out"] == str(out)
    assert 0 < doc["threshold"] < 1 and doc["auc"] > 0.7
    code = cli.main([
        "evaluate", "--model", str(out), "--data", str(holdout_csv), "--target", "status", "--bad-value", "bad",
        "--json",
    ])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "gbm" and doc["auc"] > 0.7 and doc["cost"] is not None


def test_cli_without_cost_matrix_has_no_threshold(data_csv, tmp_path, capsys):
    code = cli.main([
        "train", "--data", str(data_csv), "--target", "status", "--bad-value", "bad", "--cv", "3",
        "--out", str(tmp_path / "m"), "--json",
    ])  # fmt: skip
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["cost"] is None and doc["threshold"] is None


@pytest.mark.parametrize(
    ("content", "target", "slug"),
    [
        ("a,status\n1,bad\n2,good\n", "missing", "unknown-target"),
        ("a,status\n1,good\n2,good\n", "status", "single-class"),
        ('a,status\n1,bad\n"2,good\n', "status", "malformed-csv"),
    ],
)
def test_cli_bad_input_exit_code(tmp_path, capsys, content, target, slug):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    code = cli.main(["train", "--data", str(path), "--target", target, "--bad-value", "bad", "--json"])
    assert code == 2
    err = json.loads(capsys.readouterr().err)
    assert err["error"] == slug and err["detail"] and err["detail_zh"]


def test_cli_evaluate_missing_model_dir(tmp_path, data_csv, capsys):
    code = cli.main(["evaluate", "--model", str(tmp_path), "--data", str(data_csv), "--target", "status",
                     "--bad-value", "bad"])  # fmt: skip
    assert code == 2
    assert "meta.json" in capsys.readouterr().err


def test_blend_model_round_trip(dataset, tmp_path):
    out = tmp_path / "blend"
    artifacts.train(dataset, "blend", out, k=3)
    loaded = artifacts.load(out)
    assert loaded.kind == "blend" and {"scorecard.json", "model.txt", "gbm.json"} <= {p.name for p in out.iterdir()}
    row = dataset.x.iloc[0].to_dict()
    scored = loaded.score_row(row)
    assert scored.prob_bad == pytest.approx(float(loaded.model.predict_proba(dataset.x.iloc[[0]])[0]))
    assert all(r.zh and r.en for r in scored.reasons)
