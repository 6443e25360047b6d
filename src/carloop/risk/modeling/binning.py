"""Optimal binning with monotonic trends (optbinning) compiled into plain tables.

optbinning finds the split points; the WoE of every bin is then computed here from the training counts
(with +0.5 smoothing) so that the sign convention is ours: a positive WoE means a bin riskier than
average. The tables are plain lists so that a fitted binning serialises to JSON and scores one row
without optbinning.
"""

from __future__ import annotations

import itertools
import logging
import math
import warnings
from bisect import bisect_right
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

MISSING_LABEL = "Missing"


@dataclass
class BinningParams:
    min_bin_size: float = 0.05  # float-ok: a share of rows
    max_n_bins: int = 8
    max_n_prebins: int = 20
    solver: str = "cp"


@dataclass
class FeatureBinning:
    """Bins of one feature: regular bins, then one bin for missing values (always last)."""

    name: str
    kind: Literal["numeric", "categorical"]
    splits: list[float] = field(default_factory=list)  # float-ok: feature split points
    groups: list[list[str]] = field(default_factory=list)
    count: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    woe: list[float] = field(default_factory=list)  # float-ok
    iv: float = 0.0  # float-ok
    trend: int = 0  # +1: risk rises with the value, -1: falls, 0: none / categorical

    @property
    def n_regular(self) -> int:
        return len(self.groups) if self.kind == "categorical" else len(self.splits) + 1

    def _category_index(self) -> dict[str, int]:
        cache = self.__dict__.get("_cat_cache")
        if cache is None:
            cache = {str(c): i for i, group in enumerate(self.groups) for c in group}
            self.__dict__["_cat_cache"] = cache
        return cache

    def bin_indices(self, values: pd.Series | np.ndarray) -> np.ndarray:
        """Bin index per value: regular bins 0..n-1, missing n, unseen category -1."""
        n = self.n_regular
        if self.kind == "numeric":
            arr = np.asarray(values, dtype="float64")
            idx: np.ndarray = np.searchsorted(np.asarray(self.splits, dtype="float64"), arr, side="right")
            idx[np.isnan(arr)] = n
            return idx.astype(np.int64)
        series = pd.Series(values, dtype="object")
        mapping = self._category_index()
        missing = series.isna().to_numpy()
        idx = series.astype(str).map(mapping).fillna(-1).to_numpy(dtype=np.int64, copy=True)
        idx[missing] = n
        return idx

    def bin_index(self, value: Any) -> int:
        """Same as ``bin_indices`` for a single value, without numpy (fast path for online scoring)."""
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return self.n_regular
        if self.kind == "numeric":
            try:
                number = float(value)  # float-ok: a feature value
            except (TypeError, ValueError):
                return self.n_regular
            if math.isnan(number):
                return self.n_regular
            return bisect_right(self.splits, number)
        return self._category_index().get(str(value), -1)

    def woe_of(self, idx: np.ndarray) -> np.ndarray:
        table = np.asarray([*self.woe, 0.0], dtype="float64")  # index -1 (unseen) -> neutral 0
        out: np.ndarray = table[idx]
        return out

    def labels(self) -> list[str]:
        if self.kind == "categorical":
            regular = [", ".join(g) for g in self.groups]
        else:
            edges = [-math.inf, *self.splits, math.inf]
            regular = [f"[{_fmt(lo)}, {_fmt(hi)})" for lo, hi in itertools.pairwise(edges)]
        return [*regular, MISSING_LABEL]

    def table(self) -> list[dict[str, Any]]:
        total_bad = sum(self.bad) or 1
        total_good = (sum(self.count) - sum(self.bad)) or 1
        rows = []
        for label, n, b, w in zip(self.labels(), self.count, self.bad, self.woe, strict=True):
            good = n - b
            rows.append(
                {
                    "bin": label,
                    "count": n,
                    "bad": b,
                    "bad_rate": round(b / n, 4) if n else None,
                    "woe": round(w, 4),
                    "iv": round((b / total_bad - good / total_good) * w, 4),
                }
            )
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if not k.startswith("_")}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureBinning:
        return cls(**data)


def _fmt(x: float) -> str:  # float-ok: a split point
    if math.isinf(x):
        return "-inf" if x < 0 else "inf"
    return f"{x:g}"


def _woe_and_iv(count: np.ndarray, bad: np.ndarray) -> tuple[list[float], float]:
    good = count - bad
    total_bad = bad.sum()
    total_good = good.sum()
    dist_bad = (bad + 0.5) / (total_bad + 0.5)
    dist_good = (good + 0.5) / (total_good + 0.5)
    woe = np.log(dist_bad / dist_good)
    woe = np.where(count > 0, woe, 0.0)
    iv = float(np.sum((bad / max(total_bad, 1) - good / max(total_good, 1)) * woe))
    return [float(w) for w in woe], iv


def _trend(count: np.ndarray, bad: np.ndarray) -> int:
    mask = count > 0
    rates = bad[mask] / count[mask]
    if len(rates) < 2:
        return 0
    diffs = np.diff(rates)
    if np.all(diffs >= 0):
        return 1
    if np.all(diffs <= 0):
        return -1
    return 0


def _skip_highs_probe(record: logging.LogRecord) -> bool:
    return "importing solver HIGHS" not in record.getMessage()


def _quiet_cvxpy_highs_probe() -> None:
    """ortools (optbinning's solver) bundles HiGHS 1.12 while cvxpy wants highspy>=1.14; with ortools loaded,
    cvxpy's probe of the HiGHS solver fails and warns on import. optbinning never asks cvxpy for HiGHS, so that
    one warning is dropped (cvxpy resets its logger's level on import, hence a filter)."""
    cvxpy_log = logging.getLogger("__cvxpy__")
    if _skip_highs_probe not in cvxpy_log.filters:
        cvxpy_log.addFilter(_skip_highs_probe)


def fit_feature(
    name: str, values: pd.Series, y: np.ndarray, kind: Literal["numeric", "categorical"], params: BinningParams
) -> FeatureBinning:
    _quiet_cvxpy_highs_probe()
    from optbinning import OptimalBinning

    if kind == "numeric":
        x = values.to_numpy(dtype="float64")
        ob = OptimalBinning(
            name=name,
            dtype="numerical",
            solver=params.solver,
            monotonic_trend="auto_asc_desc",
            min_bin_size=params.min_bin_size,
            max_n_bins=params.max_n_bins,
            max_n_prebins=params.max_n_prebins,
        )
    else:
        x = values.to_numpy(dtype=object)
        ob = OptimalBinning(
            name=name,
            dtype="categorical",
            solver=params.solver,
            min_bin_size=params.min_bin_size,
            max_n_bins=params.max_n_bins,
            max_n_prebins=params.max_n_prebins,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            ob.fit(x, y)
            splits = ob.splits
        except (ValueError, TypeError):
            splits = np.array([]) if kind == "numeric" else None
    fb = FeatureBinning(name=name, kind=kind)
    if kind == "numeric":
        fb.splits = [float(s) for s in (splits if splits is not None else [])]  # float-ok
    else:
        seen = pd.Series(x).dropna().astype(str).unique().tolist()
        if splits is None or len(splits) == 0:
            fb.groups = [sorted(seen)]
        else:
            fb.groups = [[str(c) for c in group] for group in splits]
            grouped = {c for g in fb.groups for c in g}
            leftovers = [c for c in seen if c not in grouped]
            if leftovers:  # categories optbinning left out: give them a bin of their own
                fb.groups.append(sorted(leftovers))
    idx = fb.bin_indices(values)
    n_bins = fb.n_regular + 1
    valid = idx >= 0
    count = np.bincount(idx[valid], minlength=n_bins)
    bad = np.bincount(idx[valid], weights=y[valid], minlength=n_bins).astype(np.int64)
    fb.count = [int(c) for c in count]
    fb.bad = [int(b) for b in bad]
    fb.woe, fb.iv = _woe_and_iv(count, bad)
    fb.trend = _trend(count[:-1], bad[:-1]) if kind == "numeric" else 0
    return fb


class Binner:
    """Fits one ``FeatureBinning`` per feature and turns frames into WoE matrices."""

    def __init__(self, params: BinningParams | None = None) -> None:
        self.params = params or BinningParams()
        self.features: dict[str, FeatureBinning] = {}

    def fit(self, x: pd.DataFrame, y: np.ndarray, categorical: list[str]) -> Binner:
        cats = set(categorical)
        self.features = {col: fit_feature(col, x[col], y, "categorical" if col in cats else "numeric", self.params) for col in x.columns}
        return self

    def woe_matrix(self, x: pd.DataFrame, columns: list[str]) -> np.ndarray:
        out = np.empty((len(x), len(columns)), dtype="float64")
        for j, col in enumerate(columns):
            fb = self.features[col]
            out[:, j] = fb.woe_of(fb.bin_indices(x[col]))
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"params": asdict(self.params), "features": [fb.to_dict() for fb in self.features.values()]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Binner:
        binner = cls(BinningParams(**data["params"]))
        binner.features = {d["name"]: FeatureBinning.from_dict(d) for d in data["features"]}
        return binner
