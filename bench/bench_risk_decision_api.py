"""Decision API latency: ``POST /api/v1/risk/decisions`` under concurrent load against a real server.

Creates a PostgreSQL database (``carloop_bench_risk`` on 127.0.0.1:5432, or ``CARLOOP_BENCH_DATABASE_URL``),
migrates it, creates 200 verified customers with behaviour facts and a finance-ops API token, starts
``carloop serve`` (waitress) in a subprocess and sends decision requests from N client threads, each request a
new application. Reports p50/p95/p99/max latency and throughput per concurrency level, writes
bench/results/risk-decision-api.json and .md. Target: p99 <= 100 ms at 50 concurrent requests.

Usage: python bench/bench_risk_decision_api.py [--requests 600] [--concurrency 1,10,50] [--threads 8]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DB_URL = os.environ.get("CARLOOP_BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/carloop_bench_risk")


def _recreate_database() -> None:
    import psycopg

    name = DB_URL.rsplit("/", 1)[1]
    admin = DB_URL.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def _prepare(n_customers: int) -> tuple[str, list[str]]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from carloop.core.seeding import SeedContext, fake_id_number
    from carloop.identity import services as identity
    from carloop.identity.kyc import SimulatorProvider
    from carloop.risk import services as risk

    call_command("migrate", verbosity=0)
    staff = identity.create_staff_user(username="bench-finops", password="Tr0ub4dour&3x", platform_roles=("finance_ops",))
    token, _ = identity.create_token(staff, "bench")
    ctx = SeedContext(scale="demo", stdout=sys.stdout, quiet=True, seed=7)
    ids = []
    now = timezone.now()
    for i in range(n_customers):
        user = identity.register_customer(phone=f"1360000{i:04d}", password="Tr0ub4dour&3x", display_name=f"压测{i}")
        id_number = fake_id_number(ctx, 25, 45)
        SimulatorProvider.enrol("压测用户", id_number)
        identity.verify_kyc(user, real_name="压测用户", id_number=id_number, city="北京市")
        for d in range(0, 60, 6):
            risk.record_fact(
                customer_user_id=user.pk,
                kind="login",
                occurred_at=now - timedelta(days=d),
                data={"city": "北京市", "device": f"d{i}"},
                refresh=False,
            )
        risk.record_fact(customer_user_id=user.pk, kind="order", occurred_at=now - timedelta(days=30), amount_fen=250_000)
        ids.append(str(user.pk))
    return token, ids


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(port: int, timeout: float = 60) -> None:  # float-ok: seconds
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError("server did not start")


def _load(port: int, token: str, customers: list[str], concurrency: int, total: int, run: str) -> dict:
    latencies: list[float] = []  # float-ok: milliseconds
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(total))

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            body = json.dumps({
                "application_ref": f"bench:{run}:{i}", "product_kind": "cash_loan", "customer_user_id": customers[i % len(customers)],
                "amount": "30000.00", "term_months": 12, "monthly_income": "20000.00", "device_id": f"d{i % len(customers)}",
                "ip": f"10.1.{i % 250}.{i % 200 + 1}",
                "product_limits": {"min_amount": "1000.00", "max_amount": "200000.00", "max_term_months": 36},
            })  # fmt: skip
            headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}", "Idempotency-Key": f"{run}-{i}"}
            started = time.perf_counter()
            conn.request("POST", "/api/v1/risk/decisions", body, headers)
            response = conn.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                latencies.append(elapsed)
                statuses[response.status] = statuses.get(response.status, 0) + 1

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    latencies.sort()

    def pct(p: float) -> float:  # float-ok
        return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 1)

    return {
        "concurrency": concurrency, "requests": len(latencies), "statuses": statuses, "p50_ms": pct(50), "p95_ms": pct(95),
        "p99_ms": pct(99), "max_ms": round(latencies[-1], 1), "throughput_rps": round(len(latencies) / wall, 1),
        "meets_p99_100ms": pct(99) <= 100, "load_average_1m": round(os.getloadavg()[0], 2),
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", default="1,10,50")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--customers", type=int, default=200)
    args = parser.parse_args(argv)
    env = {"CARLOOP_DEBUG": "false", **os.environ, "CARLOOP_DATABASE_URL": DB_URL,
           "DJANGO_SETTINGS_MODULE": "carloop.settings", "CARLOOP_LOG_LEVEL": "WARNING"}
    os.environ.update(env)
    sys.path.insert(0, str(ROOT / "src"))
    _recreate_database()
    token, customers = _prepare(args.customers)
    port = _free_port()
    server = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "carloop"), "serve", "--port", str(port), "--threads", str(args.threads)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait(port)
        _load(port, token, customers, 4, 40, "warmup")
        levels = [_load(port, token, customers, int(c), args.requests, f"c{c}") for c in args.concurrency.split(",")]
    finally:
        server.terminate()
        server.wait(timeout=30)
    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "database": "PostgreSQL (local)",
        "server": f"waitress, {args.threads} threads, 1 process",
        "levels": levels,
    }
    for level in levels:
        print(json.dumps(level), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "risk-decision-api.json").write_text(json.dumps(results, indent=1) + "\n")
    lines = [
        "# Risk: decision API latency",
        "",
        f"`POST /api/v1/risk/decisions` over HTTP against `carloop serve` ({results['server']}), {results['database']}, "
        f"{results['machine']['cpus']} CPUs shared by server, database and load generator. Each request is a new application "
        "(policy rules, four velocity counts, geo/device checks, graph link + k-hop search, scoring, challenger, storage, event).",
        "",
        "| concurrency | requests | p50 ms | p95 ms | p99 ms | max ms | req/s | load avg (1 min) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {x['concurrency']} | {x['requests']} | {x['p50_ms']} | {x['p95_ms']} | {x['p99_ms']} | {x['max_ms']} | {x['throughput_rps']} | {x['load_average_1m']} |"
        for x in levels
    ]
    (RESULTS / "risk-decision-api.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
