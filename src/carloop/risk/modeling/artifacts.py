"""Training into a model directory (model files + ``meta.json``), loading it back and evaluating it."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from carloop.risk.monitoring import SCORE_BANDS, band_counts, quantile_edges

from .binning import BinningParams
from .data import DataError, Dataset, frame_from_csv
from .metrics import CostMatrix, auc, best_threshold, expected_cost, ks
from .models import (
    BlendModel,
    CompiledBlend,
    CompiledGbm,
    CompiledScorecard,
    GbmModel,
    GbmParams,
    Labels,
    RowScore,
    ScorecardModel,
    ScorecardParams,
    ScoreScale,
)

if TYPE_CHECKING:
    from .cv import CVResult

FORMAT_VERSION = 1


def make_factory(kind: str, scale: ScoreScale, seed: int = 7):  # type: ignore[no-untyped-def]
    if kind == "scorecard":
        return lambda: ScorecardModel(ScorecardParams(binning=BinningParams()), scale)
    if kind == "gbm":
        return lambda: GbmModel(GbmParams(seed=seed), scale)
    if kind == "blend":
        return lambda: BlendModel(scale, seed)
    raise DataError("unknown-model", f"未知模型类型：{kind}", f"Unknown model kind: {kind}")


@dataclass
class TrainResult:
    kind: str
    version: str
    out: Path
    cv: CVResult
    threshold: float | None  # float-ok
    n_rows: int
    n_features: int

    def as_json(self) -> dict[str, Any]:
        """The ``carloop risk train --json`` document."""
        summary = self.cv.summary()
        return {
            "model": self.kind,
            "auc": summary["auc"],
            "auc_std": summary["auc_std"],
            "ks": summary["ks"],
            "gini": summary["gini"],
            "cost": summary.get("cost"),
            "threshold": None if self.threshold is None else round(self.threshold, 6),
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "out": str(self.out),
        }


def _version(kind: str, created: datetime, sha: str) -> str:
    return f"{kind}-{created:%Y%m%d%H%M%S}-{sha[:8]}"


def train(
    dataset: Dataset,
    kind: str,
    out: str | Path,
    *,
    k: int = 10,
    repeats: int = 1,
    costs: CostMatrix | None = None,
    inner_k: int = 5,
    scale: ScoreScale | None = None,
    labels: Labels | None = None,
    seed: int = 42,
    n_jobs: int = 1,
) -> TrainResult:
    """Cross-validate ``kind`` on ``dataset``, then fit it on all rows and write the model directory."""
    from .cv import cross_validate  # scikit-learn is imported only to train

    scale = scale or ScoreScale()
    factory = make_factory(kind, scale)
    cv = cross_validate(
        dataset.x, dataset.y, dataset.categorical, factory,
        k=k, repeats=repeats, costs=costs, inner_k=inner_k, seed=seed, n_jobs=n_jobs,
    )  # fmt: skip
    threshold = None
    if costs is not None:
        # the final model's cut-off comes from the outer out-of-fold predictions, pooled over repeats
        threshold = best_threshold(np.tile(dataset.y, repeats), cv.oof.reshape(-1), costs)
    model = factory().fit(dataset.x, dataset.y, dataset.categorical)
    baseline = training_baseline(dataset, scale.scores_from_logits(model.logits(dataset.x)))
    created = datetime.now(UTC)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = model.save(out)
    metrics = cv.summary()
    metrics.update({"cv_k": k, "cv_repeats": repeats, "inner_k": inner_k if costs else None})
    meta = {
        "format": FORMAT_VERSION,
        "model": kind,
        "version": _version(kind, created, dataset.sha256),
        "created_at": created.isoformat(),
        "data_sha256": dataset.sha256,
        "target": dataset.target,
        "bad_value": dataset.bad_value,
        "n_rows": len(dataset.y),
        "bad_rate": round(float(dataset.y.mean()), 4),  # float-ok
        "features": dataset.features,
        "numeric": dataset.numeric,
        "categorical": dataset.categorical,
        "labels": {name: list(pair) for name, pair in (labels or dataset.labels).items()},
        "metrics": metrics,
        "cost_matrix": asdict(costs) if costs else None,
        "threshold": threshold,
        "scale": asdict(scale),
        "files": files,
        "baseline": baseline,
    }
    (out / "meta.json").write_text(json.dumps(meta, ensure_ascii=False, indent=1))
    return TrainResult(kind, meta["version"], out, cv, threshold, len(dataset.y), len(dataset.features))


def training_baseline(dataset: Dataset, scores: np.ndarray) -> dict[str, Any]:
    """Score and feature distributions of the training data: the reference for PSI monitoring."""
    out: dict[str, Any] = {
        "score_edges": SCORE_BANDS,
        "score_counts": band_counts([int(s) for s in scores], SCORE_BANDS),
        "features": {},
    }
    for name in dataset.numeric:
        values = [None if pd.isna(v) else v for v in dataset.x[name].tolist()]
        edges = quantile_edges([v for v in values if v is not None], 10)
        out["features"][name] = {"kind": "numeric", "edges": edges, "counts": band_counts(values, edges)}
    for name in dataset.categorical:
        counts = dataset.x[name].fillna("<missing>").astype(str).value_counts()
        out["features"][name] = {"kind": "categorical", "counts": {str(k): int(v) for k, v in counts.items()}}
    return out


class LoadedModel:
    """A model directory ready to score: batch (``predict_proba``) and single rows (``score_row``)."""

    def __init__(self, path: Path, meta: dict[str, Any], model: ScorecardModel | GbmModel | BlendModel) -> None:
        self.path = path
        self.meta = meta
        self.model = model
        model.labels = {name: (pair[0], pair[1]) for name, pair in meta.get("labels", {}).items()}
        self.compiled: CompiledScorecard | CompiledGbm | CompiledBlend = model.compile()

    @property
    def version(self) -> str:
        return str(self.meta["version"])

    @property
    def kind(self) -> str:
        return str(self.meta["model"])

    @property
    def threshold(self) -> float | None:  # float-ok
        return self.meta.get("threshold")

    def score_row(self, row: Mapping[str, Any]) -> RowScore:
        return self.compiled.score_row(row)

    def coerce(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Select and type the model's features from a raw frame (strings from a CSV)."""
        missing = [f for f in self.meta["features"] if f not in frame.columns]
        if missing:
            raise DataError(
                "missing-features",
                f"数据缺少模型特征列：{', '.join(missing)}",
                f"The data lacks model feature columns: {', '.join(missing)}",
            )
        numeric = set(self.meta["numeric"])
        out = {}
        for name in self.meta["features"]:
            col = frame[name]
            if name in numeric:
                out[name] = pd.to_numeric(col, errors="coerce").astype("float64")
            else:
                out[name] = col.astype("object").where(col.notna(), np.nan)
        return pd.DataFrame(out, index=frame.index)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return self.model.predict_proba(self.coerce(frame))


def load(path: str | Path) -> LoadedModel:
    path = Path(path)
    meta_path = path / "meta.json"
    if not meta_path.is_file():
        raise DataError("not-a-model", f"{path} 不是模型目录（缺少 meta.json）。", f"{path} is not a model directory (no meta.json).")
    meta = json.loads(meta_path.read_text())
    kind = meta.get("model")
    model: ScorecardModel | GbmModel | BlendModel
    if kind == "scorecard":
        model = ScorecardModel.load(path)
    elif kind == "gbm":
        model = GbmModel.load(path)
    elif kind == "blend":
        model = BlendModel.load(path)
    else:
        raise DataError("unknown-model", f"未知模型类型：{kind}", f"Unknown model kind: {kind}")
    return LoadedModel(path, meta, model)


def evaluate(model: LoadedModel, path: str | Path, target: str, bad_value: str | int, costs: CostMatrix | None = None) -> dict[str, Any]:
    """Score a holdout CSV with a trained model; the ``carloop risk evaluate --json`` document."""
    frame = frame_from_csv(Path(path))
    if target not in frame.columns:
        raise DataError(
            "unknown-target",
            f"目标列「{target}」不存在；可用列：{', '.join(frame.columns)}",
            f"Unknown target column '{target}'; columns are: {', '.join(frame.columns)}",
        )
    if frame[target].isna().any():
        raise DataError("missing-target", "目标列有缺失值。", "The target column has missing values.")
    y = (frame[target].astype(str).str.strip() == str(bad_value).strip()).to_numpy(dtype=np.int8)
    if y.min() == y.max():
        raise DataError("single-class", "目标列只有一个类别。", "The target has a single class.")
    p = model.predict_proba(frame)
    costs = costs or (CostMatrix(**model.meta["cost_matrix"]) if model.meta.get("cost_matrix") else None)
    threshold = model.threshold
    result: dict[str, Any] = {
        "model": model.kind,
        "version": model.version,
        "auc": round(auc(y, p), 4),
        "ks": round(ks(y, p), 4),
        "gini": round(2 * auc(y, p) - 1, 4),
        "cost": None,
        "threshold": threshold,
        "n_rows": len(y),
        "n_features": len(model.meta["features"]),
    }
    if costs is not None and threshold is not None:
        result["cost"] = round(expected_cost(y, p, threshold, costs), 4)
    return result


def safe_dirname(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-") or "model"
