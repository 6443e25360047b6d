"""Demand analysis for co-creation campaigns (产品共创 / C2M): pure functions over anonymous answers.

Only aggregates leave this module, and every count below ``min_cell`` respondents is suppressed (with a
secondary suppression where a hidden cell could be recovered by subtraction). Shares are statistics, not
money; prices are integer fen and the Van Westendorp points are computed exactly with fractions.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

MIN_CELL = 5
Z_95 = 1.959963984540054  # float-ok: normal quantile for a 95% interval, not money
PRICE_ROUNDING_FEN = 100_000
CURVE_POINTS = 25
MAX_SEGMENTS = 6
SILHOUETTE_SAMPLE = 2_000

SINGLE = "single"
MULTI = "multi"
PRICE = "price"

Answers = Mapping[str, Any]


@dataclass(frozen=True)
class Question:
    key: str
    kind: str
    options: tuple[str, ...] = ()


@dataclass(frozen=True)
class VanWestendorpKeys:
    too_cheap: str = "vw_too_cheap"
    cheap: str = "vw_cheap"
    expensive: str = "vw_expensive"
    too_expensive: str = "vw_too_expensive"


@dataclass(frozen=True)
class PricePoints:
    pmc_fen: int
    pme_fen: int
    opp_fen: int
    ipp_fen: int
    respondents: int
    excluded_inconsistent: int

    @property
    def acceptable_range_fen(self) -> tuple[int, int]:
        return self.pmc_fen, self.pme_fen


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:  # float-ok: shares
    """Wilson score interval for a binomial proportion."""
    if n <= 0:
        raise ValueError("n must be positive")
    if not 0 <= successes <= n:
        raise ValueError("successes must be between 0 and n")
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)  # float-ok: shares


def _share_cell(key: str, count: int, n: int, min_cell: int) -> dict[str, Any]:
    if count < min_cell:
        return {"option": key, "count": None, "share": None, "ci_low": None, "ci_high": None, "suppressed": True}
    low, high = wilson_interval(count, n)
    return {"option": key, "count": count, "share": round(count / n, 4), "ci_low": round(low, 4),
            "ci_high": round(high, 4), "suppressed": False}


def _suppress(cell: dict[str, Any]) -> None:
    cell.update(count=None, share=None, ci_low=None, ci_high=None, suppressed=True)


def preference_shares(question: Question, responses: Sequence[Answers], min_cell: int = MIN_CELL) -> list[dict[str, Any]]:
    """Share of respondents choosing each option, with Wilson 95% intervals; small cells suppressed.

    For a single-choice question the counts add up to the number of respondents, so a lone suppressed cell
    could be recovered by subtraction: the smallest visible cell is then suppressed as well.
    """
    answered = [r[question.key] for r in responses if r.get(question.key) not in (None, "", [])]
    n = len(answered)
    counts: Counter[str] = Counter()
    for answer in answered:
        counts.update(answer if question.kind == MULTI else [answer])
    if n == 0:
        return [_share_cell(option, 0, 1, min_cell) for option in question.options]
    cells = [_share_cell(option, counts[option], n, min_cell) for option in question.options]
    if question.kind == SINGLE:
        hidden = [c for c in cells if c["suppressed"]]
        visible = sorted((c for c in cells if not c["suppressed"]), key=lambda c: c["count"])
        hidden_total = sum(counts[c["option"]] for c in hidden)
        if visible and 0 < hidden_total < min_cell:
            _suppress(visible[0])
    return cells


def co_occurrence(question: Question, responses: Sequence[Answers], min_cell: int = MIN_CELL) -> list[dict[str, Any]]:
    """Pairs of options chosen together in a multi-select question, with share and lift; small pairs hidden."""
    selections = [set(r[question.key]) for r in responses if r.get(question.key)]
    n = len(selections)
    singles = Counter(option for chosen in selections for option in chosen)
    pairs: list[dict[str, Any]] = []
    for a, b in itertools.combinations(question.options, 2):
        both = sum(1 for chosen in selections if a in chosen and b in chosen)
        if both < min_cell:
            pairs.append({"a": a, "b": b, "count": None, "share": None, "lift": None, "suppressed": True})
            continue
        lift = both * n / (singles[a] * singles[b])
        pairs.append({"a": a, "b": b, "count": both, "share": round(both / n, 4), "lift": round(lift, 3),
                      "suppressed": False})
    return pairs


def _crossing(grid: Sequence[int], diff: Sequence[Fraction]) -> Fraction:
    """Price where ``diff`` (f - g on the grid) first changes sign, linear between grid points.

    A run of exact zeros is a tie over an interval; its midpoint is taken.
    """
    start = next((i for i, d in enumerate(diff) if d != 0), None)
    if start is None:
        return Fraction(grid[0] + grid[-1], 2)
    positive = diff[start] > 0
    for i in range(start + 1, len(diff)):
        d = diff[i]
        if d == 0:
            end = i
            while end + 1 < len(diff) and diff[end + 1] == 0:
                end += 1
            return Fraction(grid[i] + grid[end], 2)
        if (d > 0) != positive:
            p0, p1, d0 = grid[i - 1], grid[i], diff[i - 1]
            return p0 + (p1 - p0) * d0 / (d0 - d)
    return Fraction(grid[-1])


def _round_fen(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def _vw_curves(rows: Sequence[tuple[int, int, int, int]]) -> dict[str, Callable[[int], Fraction]]:
    n = len(rows)

    def share(pred: Callable[[tuple[int, int, int, int], int], bool]) -> Callable[[int], Fraction]:
        return lambda p: Fraction(sum(1 for row in rows if pred(row, p)), n)

    return {
        "too_cheap": share(lambda r, p: r[0] >= p),
        "cheap": share(lambda r, p: r[1] >= p),
        "expensive": share(lambda r, p: r[2] <= p),
        "too_expensive": share(lambda r, p: r[3] <= p),
    }


def _vw_rows(responses: Sequence[Answers], keys: VanWestendorpKeys) -> tuple[list[tuple[int, int, int, int]], int]:
    rows, inconsistent = [], 0
    for r in responses:
        values = (r.get(keys.too_cheap), r.get(keys.cheap), r.get(keys.expensive), r.get(keys.too_expensive))
        if any(v is None for v in values):
            continue
        tc, c, e, te = (int(v) for v in values if v is not None)
        if tc <= c <= e <= te:
            rows.append((tc, c, e, te))
        else:
            inconsistent += 1
    return rows, inconsistent


def van_westendorp(responses: Sequence[Answers], keys: VanWestendorpKeys = VanWestendorpKeys(),
                   min_cell: int = MIN_CELL) -> PricePoints | None:
    """Van Westendorp price sensitivity points in fen, or None below ``min_cell`` consistent respondents.

    Curves at price p: too cheap = share with too-cheap answer ≥ p, cheap = share with cheap answer ≥ p,
    expensive = share with expensive answer ≤ p, too expensive = share with too-expensive answer ≤ p.
    PMC = too cheap ∩ not cheap, PME = too expensive ∩ not expensive, OPP = too cheap ∩ too expensive,
    IPP = cheap ∩ expensive. Respondents whose four answers are not in ascending order are excluded.
    """
    rows, inconsistent = _vw_rows(responses, keys)
    if len(rows) < min_cell:
        return None
    curves = _vw_curves(rows)
    grid = sorted({price for row in rows for price in row})
    at = {name: [curve(p) for p in grid] for name, curve in curves.items()}
    one = Fraction(1)
    pmc = _crossing(grid, [tc - (one - c) for tc, c in zip(at["too_cheap"], at["cheap"], strict=True)])
    pme = _crossing(grid, [(one - e) - te for e, te in zip(at["expensive"], at["too_expensive"], strict=True)])
    opp = _crossing(grid, [tc - te for tc, te in zip(at["too_cheap"], at["too_expensive"], strict=True)])
    ipp = _crossing(grid, [c - e for c, e in zip(at["cheap"], at["expensive"], strict=True)])
    return PricePoints(_round_fen(pmc), _round_fen(pme), _round_fen(opp), _round_fen(ipp), len(rows), inconsistent)


def van_westendorp_chart(responses: Sequence[Answers], keys: VanWestendorpKeys = VanWestendorpKeys(),
                         min_cell: int = MIN_CELL) -> dict[str, list[Any]] | None:
    """The four cumulative curves on a regular grid of rounded prices (no individual answer is exposed)."""
    rows, _ = _vw_rows(responses, keys)
    if len(rows) < min_cell:
        return None
    curves = _vw_curves(rows)
    low = min(row[0] for row in rows) // PRICE_ROUNDING_FEN * PRICE_ROUNDING_FEN
    high = -(-max(row[3] for row in rows) // PRICE_ROUNDING_FEN) * PRICE_ROUNDING_FEN
    step = max((high - low) // (CURVE_POINTS - 1) // PRICE_ROUNDING_FEN, 1) * PRICE_ROUNDING_FEN
    prices = list(range(low, high + step, step))
    chart: dict[str, list[Any]] = {"prices_fen": prices}
    for name, curve in curves.items():
        chart[name] = [round(float(curve(p)), 4) for p in prices]  # float-ok: shares for the chart
    return chart


def price_expectation(question: Question, responses: Sequence[Answers], min_cell: int = MIN_CELL) -> dict[str, Any]:
    values = sorted(int(r[question.key]) for r in responses if r.get(question.key) is not None)
    if len(values) < min_cell:
        return {"respondents": None, "median_fen": None, "p25_fen": None, "p75_fen": None, "suppressed": True}
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")

    def rounded(v: float) -> int:  # float-ok: quantile of fen amounts, rounded to 1,000 yuan at once
        return _round_fen(Fraction(v) / PRICE_ROUNDING_FEN) * PRICE_ROUNDING_FEN

    return {"respondents": len(values), "median_fen": rounded(q2), "p25_fen": rounded(q1), "p75_fen": rounded(q3),
            "suppressed": False}


def _one_hot(questions: Sequence[Question], responses: Sequence[Answers]) -> list[list[int]]:
    matrix: list[list[int]] = []
    for r in responses:
        row: list[int] = []
        for q in questions:
            answer = r.get(q.key)
            chosen = set(answer or []) if q.kind == MULTI else {answer}
            row.extend(1 if option in chosen else 0 for option in q.options)
        matrix.append(row)
    return matrix


def segments(questions: Sequence[Question], responses: Sequence[Answers], price_key: str | None = None,
             min_cell: int = MIN_CELL, max_k: int = MAX_SEGMENTS, random_state: int = 0) -> dict[str, Any]:
    """Cluster respondents with KMeans on one-hot answers; k (≥ 2) maximises the silhouette among the
    clusterings whose every segment has at least ``min_cell`` respondents. Each segment comes with its share,
    a suggested configuration (modal single answers, multi options chosen by at least half) and its median
    price expectation.
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score

    categorical = [q for q in questions if q.kind in (SINGLE, MULTI)]
    n = len(responses)
    if n < 2 * min_cell or not categorical:
        return {"k": None, "silhouette": None, "segments": []}
    matrix = _one_hot(categorical, responses)
    distinct = len({tuple(row) for row in matrix})
    best: tuple[float, int, list[int]] | None = None  # float-ok: silhouette score
    for k in range(2, min(max_k, n // min_cell, distinct) + 1):
        labels = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit_predict(matrix).tolist()
        sizes = Counter(labels)
        if len(sizes) < k or min(sizes.values()) < min_cell:
            continue
        score = float(silhouette_score(matrix, labels, sample_size=min(n, SILHOUETTE_SAMPLE),  # float-ok
                                       random_state=random_state))
        if best is None or score > best[0]:
            best = (score, k, labels)
    if best is None:
        return {"k": None, "silhouette": None, "segments": []}
    score, k, labels = best
    result = []
    for label, size in sorted(Counter(labels).items(), key=lambda item: -item[1]):
        members = [r for r, lab in zip(responses, labels, strict=True) if lab == label]
        result.append(_describe_segment(categorical, members, size, n, price_key))
    for index, segment in enumerate(result, start=1):
        segment["segment"] = index
    return {"k": k, "silhouette": round(score, 4), "segments": result}


def _describe_segment(questions: Sequence[Question], members: Sequence[Answers], size: int, n: int,
                      price_key: str | None) -> dict[str, Any]:
    configuration: dict[str, Any] = {}
    for q in questions:
        if q.kind == SINGLE:
            counts = Counter(m.get(q.key) for m in members if m.get(q.key))
            configuration[q.key] = min(counts, key=lambda o: (-counts[o], q.options.index(o))) if counts else None
        else:
            counts = Counter(option for m in members for option in (m.get(q.key) or []))
            configuration[q.key] = [o for o in q.options if counts[o] * 2 >= size]
    low, high = wilson_interval(size, n)
    median = None
    if price_key:
        prices = [int(m[price_key]) for m in members if m.get(price_key) is not None]
        if len(prices) >= MIN_CELL:
            median = _round_fen(Fraction(statistics.median(prices)) / PRICE_ROUNDING_FEN) * PRICE_ROUNDING_FEN
    return {"size": size, "share": round(size / n, 4), "ci_low": round(low, 4), "ci_high": round(high, 4),
            "configuration": configuration, "median_price_fen": median}


def demand_report(questions: Sequence[Question], responses: Sequence[Answers],
                  vw_keys: VanWestendorpKeys | None = VanWestendorpKeys(), min_cell: int = MIN_CELL,
                  random_state: int = 0) -> dict[str, Any]:
    """The whole manufacturer report as JSON-ready aggregates."""
    n = len(responses)
    report: dict[str, Any] = {"respondents": n if n >= min_cell else None, "min_cell": min_cell,
                              "suppressed": n < min_cell, "questions": {}, "co_occurrence": {},
                              "price_points": None, "price_curves": None, "segments": None}
    if n < min_cell:
        return report
    price_key = None
    for q in questions:
        if q.kind == PRICE:
            price_key = price_key or q.key
            report["questions"][q.key] = {"kind": PRICE, **price_expectation(q, responses, min_cell)}
            continue
        report["questions"][q.key] = {"kind": q.kind, "options": preference_shares(q, responses, min_cell)}
        if q.kind == MULTI:
            report["co_occurrence"][q.key] = co_occurrence(q, responses, min_cell)
    if vw_keys is not None:
        points = van_westendorp(responses, vw_keys, min_cell)
        if points is not None:
            report["price_points"] = {
                "pmc_fen": points.pmc_fen, "pme_fen": points.pme_fen, "opp_fen": points.opp_fen,
                "ipp_fen": points.ipp_fen, "acceptable_range_fen": list(points.acceptable_range_fen),
                "respondents": points.respondents,
                "excluded_inconsistent": points.excluded_inconsistent if points.excluded_inconsistent >= min_cell else None,
            }
            report["price_curves"] = van_westendorp_chart(responses, vw_keys, min_cell)
    report["segments"] = segments(questions, responses, price_key, min_cell, random_state=random_state)
    return report
