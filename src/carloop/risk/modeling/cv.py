"""Repeated stratified K-fold cross-validation with a nested choice of the decision threshold.

For every outer fold the threshold is chosen from inner out-of-fold predictions on the training part
only; the outer test fold is used once, to measure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

from .data import DataError
from .metrics import CostMatrix, auc, best_threshold, expected_cost, ks

ModelFactory = Callable[[], Any]


@dataclass
class FoldResult:
    repeat: int
    fold: int
    auc: float  # float-ok
    ks: float  # float-ok
    cost: float | None = None  # float-ok
    threshold: float | None = None  # float-ok


@dataclass
class CVResult:
    folds: list[FoldResult]
    oof: np.ndarray  # (repeats, n) out-of-fold P(bad)
    costs: CostMatrix | None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def auc(self) -> float:  # float-ok
        return float(np.mean([f.auc for f in self.folds]))  # float-ok

    @property
    def auc_std(self) -> float:  # float-ok
        return float(np.std([f.auc for f in self.folds], ddof=1)) if len(self.folds) > 1 else 0.0  # float-ok

    @property
    def ks(self) -> float:  # float-ok
        return float(np.mean([f.ks for f in self.folds]))  # float-ok

    @property
    def gini(self) -> float:  # float-ok
        return 2 * self.auc - 1

    @property
    def cost(self) -> float | None:  # float-ok
        values = [f.cost for f in self.folds if f.cost is not None]
        return float(np.mean(values)) if values else None  # float-ok

    @property
    def cost_std(self) -> float | None:  # float-ok
        values = [f.cost for f in self.folds if f.cost is not None]
        return float(np.std(values, ddof=1)) if len(values) > 1 else None  # float-ok

    def summary(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "auc": round(self.auc, 4),
            "auc_std": round(self.auc_std, 4),
            "ks": round(self.ks, 4),
            "gini": round(self.gini, 4),
            "folds": len(self.folds),
        }
        if self.costs is not None:
            out["cost"] = round(self.cost or 0.0, 4)
            out["cost_std"] = round(self.cost_std or 0.0, 4)
        return out


def check_folds(y: np.ndarray, k: int) -> None:
    smallest = int(min(np.sum(y == 1), np.sum(y == 0)))
    if k < 2:
        raise DataError("bad-cv", "交叉验证折数至少为 2。", "Cross-validation needs at least 2 folds.")
    if smallest < k:
        raise DataError(
            "too-few-rows",
            f"较少的类别只有 {smallest} 行，不够 {k} 折交叉验证。",
            f"The smaller class has only {smallest} rows, too few for {k}-fold cross-validation.",
        )


def inner_threshold(
    x: pd.DataFrame, y: np.ndarray, categorical: list[str], factory: ModelFactory, costs: CostMatrix, k: int, seed: int
) -> float:  # float-ok
    """Cost-minimising cut-off from out-of-fold predictions of an inner K-fold on (x, y) only."""
    k = max(2, min(k, int(min(np.sum(y == 1), np.sum(y == 0)))))
    oof = np.empty(len(y))
    for train, test in StratifiedKFold(n_splits=k, shuffle=True, random_state=seed).split(x, y):
        model = factory().fit(x.iloc[train], y[train], categorical)
        oof[test] = model.predict_proba(x.iloc[test])
    return best_threshold(y, oof, costs)


def _run_fold(
    x: pd.DataFrame,
    y: np.ndarray,
    categorical: list[str],
    factory: ModelFactory,
    costs: CostMatrix | None,
    inner_k: int,
    train: np.ndarray,
    test: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, float | None]:  # float-ok
    x_train, y_train = x.iloc[train], y[train]
    model = factory().fit(x_train, y_train, categorical)
    p = model.predict_proba(x.iloc[test])
    threshold = None
    if costs is not None:
        threshold = inner_threshold(x_train, y_train, categorical, factory, costs, inner_k, seed)
    return p, threshold


def cross_validate(
    x: pd.DataFrame,
    y: np.ndarray,
    categorical: list[str],
    factory: ModelFactory,
    *,
    k: int = 10,
    repeats: int = 1,
    costs: CostMatrix | None = None,
    inner_k: int = 5,
    seed: int = 42,
    n_jobs: int = 1,
) -> CVResult:
    check_folds(y, k)
    splitter = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed)
    splits = list(splitter.split(x, y))
    args = [(x, y, categorical, factory, costs, inner_k, tr, te, seed + i) for i, (tr, te) in enumerate(splits)]
    if n_jobs == 1:
        outputs = [_run_fold(*a) for a in args]
    else:
        from joblib import Parallel, delayed

        outputs = Parallel(n_jobs=n_jobs)(delayed(_run_fold)(*a) for a in args)
    oof = np.empty((repeats, len(y)))
    folds = []
    for i, ((_, test), (p, threshold)) in enumerate(zip(splits, outputs, strict=True)):
        repeat, fold = divmod(i, k)
        oof[repeat, test] = p
        y_test = y[test]
        result = FoldResult(repeat=repeat, fold=fold, auc=auc(y_test, p), ks=ks(y_test, p))
        if costs is not None and threshold is not None:
            result.threshold = threshold
            result.cost = expected_cost(y_test, p, threshold, costs)
        folds.append(result)
    return CVResult(folds=folds, oof=oof, costs=costs)
