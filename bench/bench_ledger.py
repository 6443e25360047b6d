"""Ledger throughput on PostgreSQL next to pgbench's tpcb-like script on the same server.

Scenarios (16 worker processes each, to side-step the GIL): single transfers and linked batches of 100
over 1,000 accounts and over 10 hot accounts. pgbench runs first in its own scratch database
(``pgbench -i`` then ``-c 16 -j 2 -T <duration>``). Goals: single ≥ 1.0× pgbench's tps, 10 hot accounts ≥ 0.5×;
batches of 100 ≥ 5× pgbench's tps counted in transfers/s. Writes bench/results/ledger.json and ledger.md.

    .venv/bin/python bench/bench_ledger.py [--duration 20] [--workers 16]

Needs a PostgreSQL server (CARLOOP_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres) and
``pgbench`` on PATH. The scratch databases ``carloop_bench_ledger`` and ``carloop_bench_pgbench`` are
dropped and recreated.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"
LEDGER_DB = "carloop_bench_ledger"
PGBENCH_DB = "carloop_bench_pgbench"
BATCH = 100


def _server_url() -> str:
    return os.environ.get("CARLOOP_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _db_url(name: str) -> str:
    parsed = urlparse(_server_url())
    return parsed._replace(path=f"/{name}").geturl()


def _pg_args() -> list[str]:
    parsed = urlparse(_server_url())
    args = ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]
    return args


def _recreate(name: str) -> None:
    subprocess.run(["dropdb", *_pg_args(), "--if-exists", "--force", name], check=True, capture_output=True)
    subprocess.run(["createdb", *_pg_args(), name], check=True, capture_output=True)


def _percentile(values: list[float], q: float) -> float:  # float-ok: latencies
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0  # float-ok


def run_pgbench(duration: int, clients: int) -> dict[str, Any]:
    _recreate(PGBENCH_DB)
    subprocess.run(["pgbench", *_pg_args(), "-i", "-q", PGBENCH_DB], check=True, capture_output=True)
    with tempfile.TemporaryDirectory() as tmp:
        prefix = str(Path(tmp) / "pgbench_log")
        out = subprocess.run(
            ["pgbench", *_pg_args(), "-c", str(clients), "-j", "2", "-T", str(duration), "-l",
             f"--log-prefix={prefix}", PGBENCH_DB],
            check=True, capture_output=True, text=True,
        ).stdout
        latencies = []
        for log in Path(tmp).glob("pgbench_log*"):
            for line in log.read_text().splitlines():
                parts = line.split()
                if len(parts) >= 3:
                    latencies.append(int(parts[2]) / 1000)  # µs → ms
    match = re.search(r"tps = ([0-9.]+)", out)
    tps = float(match.group(1)) if match else 0.0  # float-ok: throughput
    return {
        "tps": round(tps, 1),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "transactions": len(latencies),
    }


def _django(db_name: str) -> None:
    """Configure Django with just the apps the ledger needs, so the bench does not depend on other apps."""
    import dj_database_url
    import django
    from django.conf import settings

    settings.configure(
        SECRET_KEY="bench-only",
        USE_TZ=True,
        TIME_ZONE="UTC",
        INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "carloop.core", "carloop.ledger"],
        DATABASES={"default": dj_database_url.parse(_db_url(db_name), conn_max_age=600)},
        DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    )
    django.setup()


def _prepare_ledger(n_cold: int, n_hot: int) -> dict[str, list[str]]:
    _recreate(LEDGER_DB)
    _django(LEDGER_DB)
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from carloop.ledger import services as ledger
    from carloop.ledger.contracts import AccountFlags, TransferSpec

    source = ledger.system_account("external").id
    groups: dict[str, list[str]] = {}
    for group, count in (("cold", n_cold), ("hot", n_hot)):
        ids = [
            ledger.open_account(
                key=f"bench:{group}:{i}", name=f"{group} {i}", code=1999,
                flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS,
            ).id
            for i in range(count)
        ]
        for start in range(0, count, BATCH):
            ledger.transfer_batch(
                [TransferSpec(id=f"bench:fund:{group}:{i}", debit=source, credit=ids[i], amount_fen=10**13, code=1)
                 for i in range(start, min(start + BATCH, count))]
            )
        groups[group] = [str(i) for i in ids]
    from django.db import connections

    connections.close_all()
    return groups


def _worker(
    accounts: list[str], batch: int, duration: int, seed: int, barrier: Any, out: Any
) -> None:
    _django(LEDGER_DB)
    from carloop.core.errors import Problem
    from carloop.ledger import services as ledger
    from carloop.ledger.contracts import TransferSpec

    rng = random.Random(seed)
    ids = [uuid.UUID(a) for a in accounts]

    def legs(n: int) -> list[TransferSpec]:
        specs = []
        for _ in range(n):
            debit, credit = rng.sample(ids, 2)
            specs.append(TransferSpec(id=uuid.uuid4(), debit=debit, credit=credit, amount_fen=rng.randint(1, 10_000),
                                      code=2))
        return specs

    legs(1)  # open the connection before the clock starts
    from django.db import connection

    connection.ensure_connection()
    barrier.wait(timeout=120)
    deadline = time.perf_counter() + duration
    latencies: list[float] = []  # float-ok: milliseconds
    transfers = errors = 0
    while time.perf_counter() < deadline:
        specs = legs(batch)
        started = time.perf_counter()
        try:
            if batch == 1:
                s = specs[0]
                assert s.debit and s.credit and s.amount_fen
                ledger.transfer(id=s.id, debit=s.debit, credit=s.credit, amount_fen=s.amount_fen, code=2)
            else:
                ledger.transfer_batch(specs)
            transfers += batch
        except Problem:
            errors += 1
        latencies.append((time.perf_counter() - started) * 1000)
    out.put({"transfers": transfers, "errors": errors, "latencies": latencies})


def run_scenario(name: str, accounts: list[str], batch: int, workers: int, duration: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    barrier = ctx.Barrier(workers + 1)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(accounts, batch, duration, seed, barrier, out)) for seed in range(workers)
    ]
    for p in procs:
        p.start()
    barrier.wait(timeout=120)  # a worker that failed to start breaks the barrier instead of hanging the run
    started = time.perf_counter()
    parts = [out.get(timeout=duration + 120) for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    latencies = [lat for part in parts for lat in part["latencies"]]
    transfers = sum(part["transfers"] for part in parts)
    calls = len(latencies)
    return {
        "scenario": name,
        "batch": batch,
        "accounts": len(accounts),
        "workers": workers,
        "seconds": round(elapsed, 1),
        "calls": calls,
        "transfers": transfers,
        "errors": sum(part["errors"] for part in parts),
        "transfers_per_s": round(transfers / elapsed, 1),
        "calls_per_s": round(calls / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.50), 2),
        "p99_ms": round(_percentile(latencies, 0.99), 2),
        "mean_ms": round(statistics.fmean(latencies), 2) if latencies else 0.0,  # float-ok
    }


def _check_invariants() -> dict[str, Any]:
    from carloop.ledger import selectors as ledger_q

    totals = ledger_q.totals()
    return {
        "debits_equal_credits": totals["CNY:debits_posted"] == totals["CNY:credits_posted"],
        "posted_fen": totals["CNY:debits_posted"],
    }


def _markdown(report: dict[str, Any]) -> str:
    pg = report["pgbench"]
    lines = [
        "# Ledger benchmark",
        "",
        f"Machine: {report['machine']['cpus']} CPUs, Python {report['machine']['python']}, "
        f"PostgreSQL {report['machine']['postgres']}; {report['workers']} worker processes, "
        f"{report['duration_s']} s per scenario. Load average at start: {report['machine']['loadavg']}.",
        "",
        f"pgbench tpcb-like (`-c {report['workers']} -j 2 -T {report['duration_s']}`, scale 1), run before and after "
        f"the ledger scenarios: **{pg['tps']} tps** on average ({pg['before']['tps']} before, {pg['after']['tps']} after), "
        f"p50 {pg['p50_ms']} ms, p99 {pg['p99_ms']} ms. Ratios below are against the average.",
        "",
        "| scenario | accounts | batch | transfers/s | calls/s | p50 ms | p99 ms | errors | vs pgbench tps |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in report["scenarios"]:
        lines.append(
            f"| {s['scenario']} | {s['accounts']} | {s['batch']} | {s['transfers_per_s']} | {s['calls_per_s']} | "
            f"{s['p50_ms']} | {s['p99_ms']} | {s['errors']} | {s['ratio_to_pgbench']}× |"
        )
    goals = report["goals"]
    lines += [
        "",
        f"Goal single ≥ 1.0× pgbench (1,000 accounts): {goals['single_ratio']}× → "
        f"{'met' if goals['single_met'] else 'NOT met'}.",
        f"Goal single ≥ 0.5× pgbench (10 hot accounts): {goals['hot_ratio']}× → "
        f"{'met' if goals['hot_met'] else 'NOT met'}.",
        f"Goal batch of 100 ≥ 5× pgbench in transfers/s (1,000 accounts): {goals['batch_ratio']}× → "
        f"{'met' if goals['batch_met'] else 'NOT met'}.",
        f"Invariant after the run: Σdebits = Σcredits → {report['invariants']['debits_equal_credits']}.",
        "",
        "A single transfer is one statement in autocommit (it locks both accounts in primary-key order, checks the "
        "limits rendered from the engine's sides, inserts the transfer and stores both balances; psycopg prepares "
        "it), plus Django/Python work per call. A batch is BEGIN, one `SELECT … FOR NO KEY UPDATE` of the accounts "
        "in primary-key order, one statement inserting the transfers and updating the balances, and COMMIT. "
        "pgbench's tpcb-like is 3 updates, 1 select and 1 insert driven from C, against 100,000 accounts at scale 1 "
        "(its smallest). Batches of 100 touch up to 200 accounts, so concurrent batches overlap and queue "
        "(wide batches take one advisory lock first); hot-account scenarios serialize on the row locks by design. "
        "The machine's 2 cores are shared with the PostgreSQL server, the 16 workers and other users' jobs.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=int(os.environ.get("CARLOOP_BENCH_SECONDS", "20")))
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--only", default="", help="run only scenarios whose name contains this (e.g. 'batch')")
    args = parser.parse_args(argv)
    if not shutil.which("pgbench"):
        raise SystemExit("pgbench not found on PATH")
    loadavg = " ".join(f"{x:.2f}" for x in os.getloadavg())  # float-ok
    print("pgbench tpcb-like (before) …", flush=True)
    pg_before = run_pgbench(args.duration, args.workers)
    print(f"  {pg_before}", flush=True)
    groups = _prepare_ledger(1_000, 10)
    scenarios = []
    for name, group, batch in (
        ("single, 1,000 accounts", "cold", 1),
        ("single, 10 hot accounts", "hot", 1),
        ("batch 100, 1,000 accounts", "cold", BATCH),
        ("batch 100, 10 hot accounts", "hot", BATCH),
    ):
        if args.only not in name:
            continue
        print(f"{name} …", flush=True)
        result = run_scenario(name, groups[group], batch, args.workers, args.duration)
        print(f"  {result}", flush=True)
        scenarios.append(result)
    print("pgbench tpcb-like (after) …", flush=True)
    pg_after = run_pgbench(args.duration, args.workers)
    print(f"  {pg_after}", flush=True)
    # The machine is shared: pgbench runs before and after the ledger scenarios; ratios use the mean of both.
    pg = {key: round((pg_before[key] + pg_after[key]) / 2, 2) for key in ("tps", "p50_ms", "p99_ms")}
    pg |= {"before": pg_before, "after": pg_after}
    for result in scenarios:
        result["ratio_to_pgbench"] = round(result["transfers_per_s"] / pg["tps"], 2) if pg["tps"] else None
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        server = cursor.fetchone()[0]
    by_name = {s["scenario"]: s for s in scenarios}
    single = by_name.get("single, 1,000 accounts", {}).get("ratio_to_pgbench") or 0
    batched = by_name.get("batch 100, 1,000 accounts", {}).get("ratio_to_pgbench") or 0
    hot = by_name.get("single, 10 hot accounts", {}).get("ratio_to_pgbench") or 0
    report = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "postgres": server,
                    "loadavg": loadavg},
        "workers": args.workers,
        "duration_s": args.duration,
        "pgbench": pg,
        "scenarios": scenarios,
        "goals": {"single_ratio": single, "single_met": single >= 1.0, "hot_ratio": hot, "hot_met": hot >= 0.5,
                  "batch_ratio": batched,
                  "batch_met": batched >= 5},
        "invariants": _check_invariants(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ledger.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    (RESULTS / "ledger.md").write_text(_markdown(report))
    connection.close()
    for name in (LEDGER_DB, PGBENCH_DB):
        subprocess.run(["dropdb", *_pg_args(), "--if-exists", "--force", name], check=False, capture_output=True)
    print(f"wrote {RESULTS / 'ledger.md'}")
    return report


if __name__ == "__main__":
    main()
