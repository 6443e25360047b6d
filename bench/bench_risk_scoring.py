"""In-process single-row scoring latency (target p99 <= 5 ms) for both model kinds.

Fits each model once on UCI German Credit, reloads it from its artifact directory as a service would, then
scores rows one at a time (score, probability and four reason codes) and reports p50/p95/p99.
Writes bench/results/risk-scoring.json and .md.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from bench_risk_german_credit import COLUMNS, DATA, TARGET, convert  # noqa: E402

from carloop.risk.modeling import artifacts  # noqa: E402
from carloop.risk.modeling.data import load_csv  # noqa: E402

RESULTS = ROOT / "bench" / "results"


def measure(n_calls: int = 20_000) -> dict:
    out: dict = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version()}, "calls": n_calls, "models": {}}
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "german.csv"
        convert(DATA / "german.data", csv_path)
        dataset = load_csv(csv_path, TARGET, "2")
        dataset.labels = {name: (zh, en) for name, zh, en in COLUMNS}
        rows = [r.to_dict() for _, r in dataset.x.iterrows()]
        for kind in ("scorecard", "gbm", "blend"):
            artifacts.train(dataset, kind, Path(tmp) / kind, k=2)
            model = artifacts.load(Path(tmp) / kind)
            for row in rows[:200]:
                model.score_row(row)
            timings = np.empty(n_calls)
            cpu = np.empty(n_calls)
            for i in range(n_calls):
                row = rows[i % len(rows)]
                started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
                model.score_row(row)
                cpu[i] = time.thread_time_ns() - started_cpu
                timings[i] = time.perf_counter_ns() - started
            ms = timings / 1e6
            cpu_ms = cpu / 1e6
            out["models"][kind] = {
                "p50_ms": round(float(np.percentile(ms, 50)), 4),  # float-ok
                "p95_ms": round(float(np.percentile(ms, 95)), 4),  # float-ok
                "p99_ms": round(float(np.percentile(ms, 99)), 4),  # float-ok
                "max_ms": round(float(ms.max()), 4),  # float-ok
                "cpu_p50_ms": round(float(np.percentile(cpu_ms, 50)), 4),  # float-ok
                "cpu_p99_ms": round(float(np.percentile(cpu_ms, 99)), 4),  # float-ok
                "load_average_1m": round(os.getloadavg()[0], 2),
                "meets_p99_5ms": bool(np.percentile(ms, 99) <= 5),
            }
            print(kind, json.dumps(out["models"][kind]), flush=True)
    return out


def main() -> None:
    results = measure()
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "risk-scoring.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        "# Risk: in-process single-row scoring latency",
        "",
        f"{results['calls']} calls per model, one row at a time (score + probability + 4 reason codes), "
        f"{results['machine']['cpus']} CPUs shared with other work. Target p99 ≤ 5 ms.",
        "",
        "Wall clock includes preemption by other work on the shared cores (load average at the end of each run in the",
        "last column); CPU time is the scoring thread's own time.",
        "",
        "| model | p50 ms | p95 ms | p99 ms | max ms | CPU p50 ms | CPU p99 ms | load avg |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, m in results["models"].items():
        lines.append(
            f"| {kind} | {m['p50_ms']} | {m['p95_ms']} | {m['p99_ms']} | {m['max_ms']} | {m['cpu_p50_ms']} | {m['cpu_p99_ms']} | {m['load_average_1m']} |"
        )
    (RESULTS / "risk-scoring.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
