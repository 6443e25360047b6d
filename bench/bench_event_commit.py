"""What a durable commit costs an event delivery on PostgreSQL (synchronous_commit on vs off).

Publishes events one by one outside any transaction (the publish commits, then the delivery runs in a transaction
of its own, as after a request) to one in-process subscriber that writes an audit row: once registered as a
money-moving subscriber (the default: its delivery waits for the WAL flush) and once with ``relaxed_commit=True``.
Sequential and in one process, so the difference per event is the flush the durable commit waits for. Uses its
own database (``CARLOOP_BENCH_DB``, default ``bench_carloop_events``) and writes bench/results/event_commit.json
and .md.

    .venv/bin/python bench/bench_event_commit.py [events]
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"
DB_NAME = os.environ.get("CARLOOP_BENCH_DB", "bench_carloop_events")
PG = os.environ.get("CARLOOP_BENCH_PG", "postgres://postgres@127.0.0.1:5432")


def _setup() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ["CARLOOP_DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carloop.settings")
    os.environ.setdefault("CARLOOP_DEBUG", "false")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _run(n: int, relaxed: bool) -> dict[str, Any]:
    from carloop.core import audit, events

    kind = "relaxed" if relaxed else "durable"

    def subscriber(event: events.DomainEvent) -> None:
        audit.record("system", "bench.event", "bench", event.subject)

    before = list(events._subscriptions)
    events._subscriptions.clear()  # only the bench's subscriber
    events.subscribe(f"bench.{kind}", subscriber, relaxed_commit=relaxed)
    timings = []
    try:
        for i in range(n):
            started = time.perf_counter()
            events.publish(f"bench.{kind}", f"bench:{kind}:{i}")
            timings.append((time.perf_counter() - started) * 1000)  # float-ok: a duration
    finally:
        events._subscriptions[:] = before
    timings.sort()
    total = sum(timings) / 1000
    return {
        "events": n,
        "per_s": round(n / total, 1),
        "mean_ms": round(statistics.fmean(timings), 3),
        "p50_ms": round(timings[len(timings) // 2], 3),
        "p99_ms": round(timings[int(len(timings) * 0.99)], 3),
    }


def main(n: int = 2_000) -> dict[str, Any]:
    _setup()
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        cursor.execute("SHOW fsync")
        fsync = cursor.fetchone()[0]
    _run(min(200, n), relaxed=False)  # warm-up
    out: dict[str, Any] = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "postgresql": version,
            "fsync": fsync,
            "load_average": [round(x, 2) for x in os.getloadavg()],
        },
        "durable": _run(n, relaxed=False),
        "relaxed": _run(n, relaxed=True),
    }
    out["durable_cost_ms"] = round(out["durable"]["mean_ms"] - out["relaxed"]["mean_ms"], 3)
    for kind in ("durable", "relaxed"):
        print(kind, out[kind], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "event_commit.json").write_text(json.dumps(out, indent=2) + "\n")
    d, r = out["durable"], out["relaxed"]
    (RESULTS / "event_commit.md").write_text(
        "\n".join(
            [
                "# Event delivery: durable vs relaxed commit (PostgreSQL)",
                "",
                f"{os.cpu_count()} cores shared with the database server (PostgreSQL {version}, fsync {fsync}); Python "
                f"{platform.python_version()}; load average {out['machine']['load_average']} at the start (other users' jobs). "
                f"{n:,} events published one by one outside a transaction, each delivered to "
                "one subscriber that writes a row; the time is publish + delivery (two commits, the second is the "
                "delivery's).",
                "",
                "| delivery commit | events/s | mean ms | p50 ms | p99 ms |",
                "|---|---:|---:|---:|---:|",
                f"| durable (default; money-moving subscribers) | {d['per_s']} | {d['mean_ms']} | {d['p50_ms']} | {d['p99_ms']} |",
                f"| relaxed (`relaxed_commit=True`, synchronous_commit off) | {r['per_s']} | {r['mean_ms']} | {r['p50_ms']} | "
                f"{r['p99_ms']} |",
                "",
                f"A durable delivery costs {out['durable_cost_ms']} ms more per event on this machine (the WAL flush its "
                "commit waits for).",
                "",
            ]
        )
    )
    return out


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:2]))
