"""Small synthetic credit data sets for fast modelling tests."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def make_rows(n: int = 600, seed: int = 0) -> list[dict[str, object]]:
    rng = np.random.default_rng(seed)
    income = rng.normal(10, 3, n).round(2)
    utilisation = rng.uniform(0, 1, n).round(3)
    region = rng.choice(["north", "south", "east", "west"], n, p=[0.4, 0.3, 0.2, 0.1])
    noise = rng.normal(0, 1, n).round(3)
    region_effect = {"north": -0.6, "south": 0.0, "east": 0.5, "west": 1.2}
    logit = -1.0 - 0.35 * (income - 10) + 2.5 * (utilisation - 0.5) + np.vectorize(region_effect.get)(region)
    bad = rng.uniform(0, 1, n) < 1 / (1 + np.exp(-logit))
    rows = []
    for i in range(n):
        rows.append(
            {
                "income": "" if i % 17 == 0 else income[i],
                "utilisation": utilisation[i],
                "region": "" if i % 23 == 0 else region[i],
                "noise": noise[i],
                "status": "bad" if bad[i] else "good",
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, object]]) -> Path:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path
