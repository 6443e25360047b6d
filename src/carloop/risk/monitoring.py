"""Population stability and score distribution helpers (pure functions; the dashboard queries live in selectors)."""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence

PSI_ALERT = 0.25  # float-ok: a ratio threshold, not money
PSI_WARN = 0.10  # float-ok
SCORE_BANDS = [450, 500, 530, 560, 590, 620, 650, 680, 710]  # score band edges used by every dashboard chart
_SMOOTH = 0.5  # float-ok: pseudo-count per bin


def band_counts(values: Iterable[float | int | None], edges: Sequence[float | int]) -> list[int]:  # float-ok
    """Counts per band ``(-inf, e0), [e0, e1), ..., [en, inf)``; ``None`` values are a last, missing band."""
    counts = [0] * (len(edges) + 2)
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            counts[-1] += 1
        else:
            counts[bisect_right(edges, v)] += 1
    return counts


def psi(expected: Sequence[int], actual: Sequence[int]) -> float:  # float-ok
    """Population stability index between two count vectors over the same bins.

    Each bin gets half a count (additive smoothing) so that empty bins of a small sample do not explode the
    index; bins empty on both sides contribute nothing.
    """
    if len(expected) != len(actual):
        raise ValueError("expected and actual need the same bins")
    pairs = [(e, a) for e, a in zip(expected, actual, strict=True) if e or a]
    te, ta = sum(e for e, _ in pairs), sum(a for _, a in pairs)
    if te == 0 or ta == 0:
        return 0.0
    k = len(pairs)
    total = 0.0
    for e, a in pairs:
        pe = (e + _SMOOTH) / (te + _SMOOTH * k)
        pa = (a + _SMOOTH) / (ta + _SMOOTH * k)
        total += (pa - pe) * math.log(pa / pe)
    return total


def level(value: float) -> str:  # float-ok
    return "alert" if value > PSI_ALERT else "warn" if value > PSI_WARN else "ok"


def quantile_edges(values: Sequence[float], n: int = 10) -> list[float]:  # float-ok
    """Inner edges of ``n`` roughly equal-count bins (deduplicated) for a numeric baseline."""
    clean = sorted(v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v)))
    if not clean:
        return []
    edges: list[float] = []  # float-ok
    for i in range(1, n):
        edge = clean[min(len(clean) - 1, (i * len(clean)) // n)]
        if not edges or edge > edges[-1]:
            edges.append(edge)
    return edges
