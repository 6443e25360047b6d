"""Quotes per second for 36-period schedules on one core (goal >= 20,000/s).

A quote is the full domain computation: the schedule exact to the fen and both APR figures (IRR of the cash
flows, in Decimal). Measured per method over varied principals and rates, single process; the JSON rendering
of the API/CLI (yuan strings for 180 amounts) is measured separately. Writes bench/results/finance_quotes.json
and .md.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from carloop.finance.amortization import build_schedule  # noqa: E402

RESULTS = ROOT / "bench" / "results"
TERM = 36
GOAL = 20_000


def cases(method: str, count: int) -> list[tuple[int, Decimal, Decimal, date]]:
    out = []
    for k in range(count):
        principal = 3_000_000 + (k * 7_919_113) % 47_000_000  # 30,000 .. 500,000 yuan
        start = date(2026, 1, 1) + timedelta(days=k % 365)
        if method == "monthly_fee":
            out.append((principal, Decimal(0), Decimal(30 + k % 60) / 10_000, start))
        else:
            out.append((principal, Decimal(300 + (k * 37) % 2100) / 100_000, Decimal(0), start))
    return out


def run(method: str, seconds: float, render: bool = False) -> dict:  # float-ok: a duration
    batch = cases(method, 2_000)
    done = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    deadline = started + seconds
    while time.perf_counter() < deadline:
        for principal, rate, fee_rate, start in batch:
            schedule = build_schedule(principal, rate, TERM, method, start, monthly_fee_rate=fee_rate)
            schedule.apr_pair()
            if render:
                schedule.rows()
        done += len(batch)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    # quotes per CPU-second of this process = the rate of one dedicated core; wall-clock rate shown as well
    # because the 2 cores are shared with other work while the benchmark runs
    return {"quotes": done, "seconds": round(elapsed, 3), "cpu_seconds": round(cpu, 3),
            "quotes_per_s": round(done / cpu), "quotes_per_wall_s": round(done / elapsed)}


def run_json(seconds: float) -> dict:  # float-ok: a duration
    from carloop.finance.quotes import schedule_json

    batch = cases("equal_installment", 500)
    done = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    while time.perf_counter() < started + seconds:
        for principal, rate, _, start in batch:
            json.dumps(schedule_json(build_schedule(principal, rate, TERM, "equal_installment", start)))
        done += len(batch)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {"quotes": done, "seconds": round(elapsed, 3), "cpu_seconds": round(cpu, 3),
            "quotes_per_s": round(done / cpu), "quotes_per_wall_s": round(done / elapsed)}


def main(seconds: float = 3.0) -> dict:  # float-ok: a duration
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carloop.settings")
    out: dict = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "processes": 1,
                "load_average_start": os.getloadavg()[0]},
        "term": TERM,
        "goal_quotes_per_s": GOAL,
        "methods": {},
    }
    for method in ("equal_installment", "equal_principal", "monthly_fee"):
        out["methods"][method] = run(method, seconds)
        print(method, out["methods"][method], flush=True)
    out["equal_installment_with_rows"] = run("equal_installment", seconds, render=True)
    out["equal_installment_json"] = run_json(seconds)
    print("json", out["equal_installment_json"], flush=True)
    rates = [m["quotes_per_s"] for m in out["methods"].values()]
    out["mixed_quotes_per_s"] = round(len(rates) / sum(1 / r for r in rates))  # float-ok: harmonic mean of rates
    out["meets_goal"] = {name: m["quotes_per_s"] >= GOAL for name, m in out["methods"].items()}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "finance_quotes.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [
        "# Finance quotes benchmark",
        "",
        f"36-period schedules, schedule + APR pair, one process on a {os.cpu_count()}-core machine "
        f"(Python {platform.python_version()}, load average {os.getloadavg()[0]:.1f} at the end). "
        f"Goal: {GOAL:,} quotes/s on one core. quotes/s = quotes per CPU-second of the process (one core); "
        "the wall-clock rate is lower when other work shares the cores.",
        "",
        "| method | quotes/s (one core) | wall-clock quotes/s | meets goal |",
        "|---|---:|---:|---|",
    ]
    for name, m in out["methods"].items():
        lines.append(f"| {name} | {m['quotes_per_s']:,} | {m['quotes_per_wall_s']:,} | "
                     f"{'yes' if m['quotes_per_s'] >= GOAL else 'no'} |")
    lines += [
        f"| mixed (harmonic mean) | {out['mixed_quotes_per_s']:,} | | |",
        f"| equal_installment incl. row tuples | {out['equal_installment_with_rows']['quotes_per_s']:,} | | |",
        f"| equal_installment rendered to the JSON of the API | {out['equal_installment_json']['quotes_per_s']:,} | | |",
        "",
    ]
    (RESULTS / "finance_quotes.md").write_text("\n".join(lines))
    return out


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 3.0)  # float-ok: a duration
