"""Discrimination metrics and the cost of a cut-off under a cost matrix."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CostMatrix:
    """Cost of accepting a bad applicant and of rejecting a good one."""

    bad_as_good: float = 5.0  # float-ok: cost units, not money
    good_as_bad: float = 1.0  # float-ok


def auc(y: np.ndarray, p: np.ndarray) -> float:  # float-ok
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))  # float-ok


def ks(y: np.ndarray, p: np.ndarray) -> float:  # float-ok
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    return float(np.max(tpr - fpr))  # float-ok


def expected_cost(y: np.ndarray, p: np.ndarray, threshold: float, costs: CostMatrix) -> float:  # float-ok
    """Mean cost per applicant when everyone with ``p >= threshold`` is rejected as bad."""
    reject = p >= threshold
    missed_bad = np.sum((y == 1) & ~reject)
    rejected_good = np.sum((y == 0) & reject)
    return float((costs.bad_as_good * missed_bad + costs.good_as_bad * rejected_good) / len(y))  # float-ok


def best_threshold(y: np.ndarray, p: np.ndarray, costs: CostMatrix) -> float:  # float-ok
    """The cut-off on ``p`` with the lowest cost on (y, p); midway between neighbouring scores."""
    values = np.unique(p)
    # candidate cut-offs: below everything, between neighbours, above everything
    candidates = np.concatenate(([values[0] - 1e-9], (values[:-1] + values[1:]) / 2, [values[-1] + 1e-9]))
    order = np.argsort(p)
    p_sorted = p[order]
    bad_sorted = (y[order] == 1).astype(np.int64)
    cum_bad = np.concatenate(([0], np.cumsum(bad_sorted)))
    n_good_total = len(y) - bad_sorted.sum()
    below = np.searchsorted(p_sorted, candidates, side="left")  # rows accepted (p < t)
    missed_bad = cum_bad[below]
    accepted_good = below - missed_bad
    rejected_good = n_good_total - accepted_good
    cost = costs.bad_as_good * missed_bad + costs.good_as_bad * rejected_good
    return float(candidates[int(np.argmin(cost))])  # float-ok
