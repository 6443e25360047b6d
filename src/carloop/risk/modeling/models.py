"""The two model kinds: a points scorecard (binning + logistic regression) and a monotone LightGBM.

Both predict the probability that an applicant turns out bad, map it onto the same points scale and
explain a single row with reason codes: the features that lowered the score most.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .binning import Binner, BinningParams, FeatureBinning

N_REASONS = 4
MIN_TREND_AGREEMENT = 0.5  # float-ok: see GbmModel._agreed_trends


@dataclass(frozen=True)
class ScoreScale:
    """Points scale: ``base_score`` points at good:bad odds ``base_odds``; ``pdo`` points double the odds."""

    base_score: int = 600
    base_odds: int = 50
    pdo: int = 20

    @property
    def factor(self) -> float:  # float-ok: points per log-odds
        return self.pdo / math.log(2)

    @property
    def offset(self) -> float:  # float-ok
        return self.base_score - self.factor * math.log(self.base_odds)

    def score_from_logit(self, logit_bad: float) -> int:  # float-ok
        return round(self.offset - self.factor * logit_bad)

    def scores_from_logits(self, logits_bad: np.ndarray) -> np.ndarray:
        return np.rint(self.offset - self.factor * logits_bad).astype(np.int64)


@dataclass(frozen=True)
class ReasonCode:
    feature: str
    code: str
    zh: str
    en: str
    impact: float  # float-ok: points lost (scorecard) or log-odds added (gbm)


@dataclass(frozen=True)
class RowScore:
    prob_bad: float  # float-ok: a probability
    score: int
    reasons: list[ReasonCode]


Labels = dict[str, tuple[str, str]]


def _reason(feature: str, bin_label: str, impact: float, labels: Labels) -> ReasonCode:  # float-ok
    zh_name, en_name = labels.get(feature, (feature, feature))
    return ReasonCode(
        feature=feature,
        code=f"RC_{feature}".upper(),
        zh=f"{zh_name}（{bin_label}）使评分降低",
        en=f"{en_name} ({bin_label}) lowered the score",
        impact=round(impact, 4),
    )


def _sigmoid(z: float) -> float:  # float-ok
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


def _bin_label(fb: FeatureBinning, idx: int) -> str:
    if idx < 0:
        return "未见取值 / unseen value"
    return fb.labels()[idx]


@dataclass
class ScorecardParams:
    C: float = 1.0  # float-ok: inverse regularisation strength
    min_iv: float = 0.02  # float-ok
    binning: BinningParams | None = None


class ScorecardModel:
    kind = "scorecard"

    def __init__(self, params: ScorecardParams | None = None, scale: ScoreScale | None = None) -> None:
        self.params = params or ScorecardParams()
        self.scale = scale or ScoreScale()
        self.binner = Binner(self.params.binning)
        self.selected: list[str] = []
        self.coef: list[float] = []  # float-ok
        self.intercept: float = 0.0  # float-ok
        self.labels: Labels = {}

    def fit(self, x: pd.DataFrame, y: np.ndarray, categorical: list[str]) -> ScorecardModel:
        from sklearn.linear_model import LogisticRegression

        self.binner.fit(x, y, categorical)
        ranked = sorted(self.binner.features.values(), key=lambda fb: fb.iv, reverse=True)
        selected = [fb.name for fb in ranked if fb.iv >= self.params.min_iv] or [ranked[0].name]
        while True:
            woe = self.binner.woe_matrix(x, selected)
            lr = LogisticRegression(C=self.params.C, max_iter=1000)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                lr.fit(woe, y)
            coef = lr.coef_[0]
            # A WoE coefficient <= 0 means the feature points against its own univariate evidence
            # (collinearity); drop it so that every bin's points read the right way round.
            keep = [name for name, c in zip(selected, coef, strict=True) if c > 0]
            if len(keep) == len(selected) or not keep:
                break
            selected = keep
        self.selected = selected
        self.coef = [float(c) for c in coef]  # float-ok
        self.intercept = float(lr.intercept_[0])  # float-ok
        return self

    def logits(self, x: pd.DataFrame) -> np.ndarray:
        woe = self.binner.woe_matrix(x, self.selected)
        out: np.ndarray = self.intercept + woe @ np.asarray(self.coef)
        return out

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        out: np.ndarray = 1.0 / (1.0 + np.exp(-self.logits(x)))
        return out

    def points_table(self) -> dict[str, list[int]]:
        """Points per bin (regular bins, missing bin, unseen) of every selected feature."""
        factor = self.scale.factor
        return {
            name: [round(-factor * c * w) for w in [*self.binner.features[name].woe, 0.0]]
            for name, c in zip(self.selected, self.coef, strict=True)
        }

    def base_points(self) -> int:
        return round(self.scale.offset - self.scale.factor * self.intercept)

    def binning_tables(self) -> dict[str, list[dict[str, Any]]]:
        points = self.points_table()
        tables = {}
        for name, fb in self.binner.features.items():
            rows = fb.table()
            for i, row in enumerate(rows):
                row["points"] = points[name][i] if name in points else None
            tables[name] = rows
        return tables

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "params": {"C": self.params.C, "min_iv": self.params.min_iv},
            "scale": asdict(self.scale),
            "binning": self.binner.to_dict(),
            "selected": self.selected,
            "coef": self.coef,
            "intercept": self.intercept,
            "base_points": self.base_points(),
            "binning_tables": self.binning_tables(),
        }

    def save(self, out: Path) -> list[str]:
        (out / "scorecard.json").write_text(json.dumps(self.to_dict(), ensure_ascii=False, indent=1))
        return ["scorecard.json"]

    @classmethod
    def load(cls, out: Path) -> ScorecardModel:
        data = json.loads((out / "scorecard.json").read_text())
        model = cls(ScorecardParams(C=data["params"]["C"], min_iv=data["params"]["min_iv"]), ScoreScale(**data["scale"]))
        model.binner = Binner.from_dict(data["binning"])
        model.selected = data["selected"]
        model.coef = data["coef"]
        model.intercept = data["intercept"]
        return model

    def compile(self) -> CompiledScorecard:
        return CompiledScorecard(self)


class CompiledScorecard:
    """Row scorer over precomputed tables: one bisect or dict lookup per feature, no numpy, no optbinning."""

    def __init__(self, model: ScorecardModel) -> None:
        self.scale = model.scale
        self.intercept = model.intercept
        self.labels = model.labels
        points = model.points_table()
        self.items: list[tuple[str, FeatureBinning, float, list[float], list[int], int]] = []  # float-ok
        for name, c in zip(model.selected, model.coef, strict=True):
            fb = model.binner.features[name]
            fb.bin_index(None)  # warm the category cache
            self.items.append((name, fb, c, [*fb.woe, 0.0], points[name], max(points[name])))

    def score_row(self, row: Mapping[str, Any], n_reasons: int = N_REASONS) -> RowScore:
        logit = self.intercept
        losses = []
        for name, fb, c, woe, pts, best in self.items:
            idx = fb.bin_index(row.get(name))
            logit += c * woe[idx]
            loss = best - pts[idx]
            if loss > 0:
                losses.append((loss, name, fb, idx))
        losses.sort(key=lambda t: (-t[0], t[1]))
        reasons = [_reason(name, _bin_label(fb, idx), loss, self.labels) for loss, name, fb, idx in losses[:n_reasons]]
        return RowScore(prob_bad=_sigmoid(logit), score=self.scale.score_from_logit(logit), reasons=reasons)


@dataclass
class GbmParams:
    n_estimators: int = 300
    learning_rate: float = 0.03  # float-ok
    num_leaves: int = 7
    min_child_samples: int = 25
    subsample: float = 0.8  # float-ok
    colsample_bytree: float = 0.7  # float-ok
    reg_lambda: float = 2.0  # float-ok
    seed: int = 7


class GbmModel:
    """LightGBM on raw numeric features and WoE-coded categoricals.

    Monotone constraints come from the binning: a numeric feature whose binned bad rate rises (falls) is
    constrained increasing (decreasing) where an unconstrained fit agrees (``_agreed_trends``); WoE-coded
    categoricals are increasing by construction.
    """

    kind = "gbm"

    def __init__(self, params: GbmParams | None = None, scale: ScoreScale | None = None) -> None:
        self.params = params or GbmParams()
        self.scale = scale or ScoreScale()
        self.binner = Binner()
        self.features: list[str] = []
        self.constraints: list[int] = []
        self.booster: Any = None
        self.labels: Labels = {}

    def _matrix(self, x: pd.DataFrame) -> np.ndarray:
        out = np.empty((len(x), len(self.features)), dtype="float64")
        for j, name in enumerate(self.features):
            fb = self.binner.features[name]
            if fb.kind == "numeric":
                out[:, j] = x[name].to_numpy(dtype="float64")
            else:
                out[:, j] = fb.woe_of(fb.bin_indices(x[name]))
        return out

    def fit(self, x: pd.DataFrame, y: np.ndarray, categorical: list[str]) -> GbmModel:
        import lightgbm as lgb

        self.binner.fit(x, y, categorical)
        self.features = list(x.columns)
        p = self.params
        booster_params = {
            "objective": "binary",
            "learning_rate": p.learning_rate,
            "num_leaves": p.num_leaves,
            "min_child_samples": p.min_child_samples,
            "bagging_fraction": p.subsample,
            "bagging_freq": 1,
            "feature_fraction": p.colsample_bytree,
            "lambda_l2": p.reg_lambda,
            "seed": p.seed,
            "num_threads": 1,
            "verbose": -1,
        }
        matrix = self._matrix(x)
        data = lgb.Dataset(matrix, label=y, feature_name=[f"f{j}" for j in range(len(self.features))], free_raw_data=False)
        free = lgb.train(booster_params, data, num_boost_round=p.n_estimators)
        self.constraints = self._agreed_trends(matrix, np.asarray(free.predict(matrix, pred_contrib=True, num_threads=1)))
        booster_params.update({"monotone_constraints": self.constraints, "monotone_constraints_method": "advanced"})
        self.booster = lgb.train(booster_params, data, num_boost_round=p.n_estimators)
        return self

    def _agreed_trends(self, matrix: np.ndarray, contrib: np.ndarray) -> list[int]:
        """+1/-1 per feature where the binning trend and an unconstrained fit agree, else 0 (categoricals: +1).

        A numeric feature's univariate trend can vanish or reverse once the other features are in the model
        (credit amount given duration, say); it is enforced only when the unconstrained model's contribution
        of the feature has a Spearman correlation with its value of the same sign and at least
        ``MIN_TREND_AGREEMENT`` in size.
        """
        from scipy.stats import spearmanr

        out = []
        for j, name in enumerate(self.features):
            fb = self.binner.features[name]
            if fb.kind != "numeric":
                out.append(1)
                continue
            seen = ~np.isnan(matrix[:, j])
            values, effects = matrix[seen, j], contrib[seen, j]
            flat = len(values) < 2 or np.ptp(values) == 0 or np.ptp(effects) == 0
            rho = 0.0 if flat else float(spearmanr(values, effects)[0])  # float-ok
            out.append(fb.trend if fb.trend * rho >= MIN_TREND_AGREEMENT else 0)
        return out

    def logits(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster.predict(self._matrix(x), raw_score=True, num_threads=1))

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        out: np.ndarray = 1.0 / (1.0 + np.exp(-self.logits(x)))
        return out

    def save(self, out: Path) -> list[str]:
        self.booster.save_model(str(out / "model.txt"))
        meta = {
            "kind": self.kind,
            "params": asdict(self.params),
            "scale": asdict(self.scale),
            "features": self.features,
            "constraints": self.constraints,
            "binning": self.binner.to_dict(),
        }
        (out / "gbm.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
        return ["model.txt", "gbm.json"]

    @classmethod
    def load(cls, out: Path) -> GbmModel:
        import lightgbm as lgb

        data = json.loads((out / "gbm.json").read_text())
        model = cls(GbmParams(**data["params"]), ScoreScale(**data["scale"]))
        model.features = data["features"]
        model.constraints = data["constraints"]
        model.binner = Binner.from_dict(data["binning"])
        model.booster = lgb.Booster(model_file=str(out / "model.txt"))
        return model

    def compile(self) -> CompiledGbm:
        return CompiledGbm(self)


class CompiledGbm:
    """Row scorer: builds one feature vector and asks LightGBM for the raw score and its contributions."""

    def __init__(self, model: GbmModel) -> None:
        self.scale = model.scale
        self.booster = model.booster
        self.labels = model.labels
        self.items = [(name, model.binner.features[name]) for name in model.features]
        for _, fb in self.items:
            fb.bin_index(None)

    def score_row(self, row: Mapping[str, Any], n_reasons: int = N_REASONS) -> RowScore:
        vec = np.empty((1, len(self.items)), dtype="float64")
        idxs = []
        for j, (name, fb) in enumerate(self.items):
            value = row.get(name)
            idx = fb.bin_index(value)
            idxs.append(idx)
            if fb.kind == "numeric":
                vec[0, j] = math.nan if idx == fb.n_regular else float(value)  # type: ignore[arg-type]
            else:
                vec[0, j] = fb.woe[idx] if idx >= 0 else 0.0
        if n_reasons == 0:
            logit = float(self.booster.predict(vec, raw_score=True, num_threads=1)[0])  # float-ok
            return RowScore(prob_bad=_sigmoid(logit), score=self.scale.score_from_logit(logit), reasons=[])
        contrib = self.booster.predict(vec, pred_contrib=True, num_threads=1)[0]
        logit = float(contrib[-1] + contrib[:-1].sum())  # float-ok
        order = sorted((j for j in range(len(self.items)) if contrib[j] > 0), key=lambda j: -contrib[j])
        reasons = [
            _reason(self.items[j][0], _bin_label(self.items[j][1], idxs[j]), float(contrib[j]), self.labels)  # float-ok
            for j in order[:n_reasons]
        ]
        return RowScore(prob_bad=_sigmoid(logit), score=self.scale.score_from_logit(logit), reasons=reasons)


class BlendModel:
    """The mean of the scorecard's and the monotone GBM's log-odds; reason codes come from the scorecard."""

    kind = "blend"

    def __init__(self, scale: ScoreScale | None = None, seed: int = 7) -> None:
        self.scale = scale or ScoreScale()
        self.scorecard = ScorecardModel(scale=self.scale)
        self.gbm = GbmModel(GbmParams(seed=seed), self.scale)
        self.labels: Labels = {}

    def fit(self, x: pd.DataFrame, y: np.ndarray, categorical: list[str]) -> BlendModel:
        self.scorecard.fit(x, y, categorical)
        self.gbm.fit(x, y, categorical)
        return self

    def logits(self, x: pd.DataFrame) -> np.ndarray:
        out: np.ndarray = (self.scorecard.logits(x) + self.gbm.logits(x)) / 2
        return out

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        out: np.ndarray = 1.0 / (1.0 + np.exp(-self.logits(x)))
        return out

    def save(self, out: Path) -> list[str]:
        return self.scorecard.save(out) + self.gbm.save(out)

    @classmethod
    def load(cls, out: Path) -> BlendModel:
        model = cls()
        model.scorecard = ScorecardModel.load(out)
        model.gbm = GbmModel.load(out)
        model.scale = model.scorecard.scale
        return model

    def compile(self) -> CompiledBlend:
        self.scorecard.labels = self.gbm.labels = self.labels
        return CompiledBlend(self.scorecard.compile(), self.gbm.compile(), self.scale)


class CompiledBlend:
    def __init__(self, scorecard: CompiledScorecard, gbm: CompiledGbm, scale: ScoreScale) -> None:
        self.scorecard, self.gbm, self.scale = scorecard, gbm, scale

    def score_row(self, row: Mapping[str, Any], n_reasons: int = N_REASONS) -> RowScore:
        a = self.scorecard.score_row(row, n_reasons)
        b = self.gbm.score_row(row, 0)
        logit = (math.log(a.prob_bad / (1 - a.prob_bad)) + math.log(b.prob_bad / (1 - b.prob_bad))) / 2
        return RowScore(prob_bad=_sigmoid(logit), score=self.scale.score_from_logit(logit), reasons=a.reasons)
