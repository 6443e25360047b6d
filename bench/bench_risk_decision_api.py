"""Decision API throughput and latency against the production server, beside the stack's floor.

Creates a PostgreSQL database (``carloop_bench_risk`` on 127.0.0.1:5432, or ``CARLOOP_BENCH_DATABASE_URL``),
migrates it, creates 200 verified customers with behaviour facts and a finance-ops API token, starts
``carloop serve`` (gunicorn, one worker per core, 4 threads each) in a subprocess and, at each concurrency level,
sends N requests from that many client threads to two endpoints of the same server, one after the other:

- ``POST /api/v1/risk/decisions``: each request a new application (policy rules, velocity, geo/device checks,
  graph link + k-hop search, scoring, challenger, storage, event; Idempotency-Key);
- ``POST /api/v1/risk/blacklist/check``: the stack's floor, the same authentication (token, roles) and one
  indexed read.

Reports p50/p95/p99/max and throughput per level and endpoint, the throughput at saturation (the best level)
of each, their ratio and p50/p99 at 16 concurrent requests. Goals: decisions/s >= 0.3x the floor's, p99 <= 100 ms
at 16 concurrent decisions. ``--runs`` repeats the whole set on the same server; the report shows the quietest
run (lowest mean 1-minute load average) and the spread over all runs. Writes bench/results/risk_decision_api.json
and .md. ``--profile N`` instead profiles N decisions in process (cProfile: the service call, then the whole
HTTP path through Django's WSGI handler) and prints the functions with the most own time.

Usage: python bench/bench_risk_decision_api.py [--requests 600] [--concurrency 1,4,16,32,50] [--runs 3]
       [--workers W] [--threads T] [--profile N]
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


ENDPOINTS = {"decision": "/api/v1/risk/decisions", "floor": "/api/v1/risk/blacklist/check"}


def _decision_body(customers: list[str], i: int, run: str) -> dict:
    return {
        "application_ref": f"bench:{run}:{i}", "product_kind": "cash_loan", "customer_user_id": customers[i % len(customers)],
        "amount": "30000.00", "term_months": 12, "monthly_income": "20000.00", "device_id": f"d{i % len(customers)}",
        "ip": f"10.1.{i % 250}.{i % 200 + 1}",
        "product_limits": {"min_amount": "1000.00", "max_amount": "200000.00", "max_term_months": 36},
    }  # fmt: skip


def _request(endpoint: str, token: str, customers: list[str], i: int, run: str) -> tuple[str, dict[str, str]]:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    if endpoint == "decision":
        headers["Idempotency-Key"] = f"{run}-{i}"
        return json.dumps(_decision_body(customers, i, run)), headers
    return json.dumps({"kind": "device", "value": f"d{i % len(customers)}"}), headers


def _load(port: int, token: str, customers: list[str], endpoint: str, concurrency: int, total: int, run: str) -> dict:
    latencies: list[float] = []  # float-ok: milliseconds
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    counter = iter(range(total))
    path = ENDPOINTS[endpoint]

    def worker() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                return
            body, headers = _request(endpoint, token, customers, i, run)
            started = time.perf_counter()
            conn.request("POST", path, body, headers)
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
        "endpoint": endpoint, "concurrency": concurrency, "requests": len(latencies), "statuses": statuses, "p50_ms": pct(50),
        "p95_ms": pct(95), "p99_ms": pct(99), "max_ms": round(latencies[-1], 1), "throughput_rps": round(len(latencies) / wall, 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }  # fmt: skip


def _summary(levels: list[dict]) -> dict:
    def best(endpoint: str) -> dict:
        return max((x for x in levels if x["endpoint"] == endpoint), key=lambda x: x["throughput_rps"])

    def at(endpoint: str, concurrency: int) -> dict | None:
        return next((x for x in levels if x["endpoint"] == endpoint and x["concurrency"] == concurrency), None)

    decision, floor = best("decision"), best("floor")
    ratio = round(decision["throughput_rps"] / floor["throughput_rps"], 3)
    d16, f16 = at("decision", 16), at("floor", 16)
    return {
        "decisions_per_s_at_saturation": decision["throughput_rps"], "decision_saturation_concurrency": decision["concurrency"],
        "floor_per_s_at_saturation": floor["throughput_rps"], "floor_saturation_concurrency": floor["concurrency"],
        "ratio_to_floor": ratio, "meets_ratio_0_3": ratio >= 0.3,
        "decision_p50_ms_at_16": d16["p50_ms"] if d16 else None, "decision_p99_ms_at_16": d16["p99_ms"] if d16 else None,
        "floor_p50_ms_at_16": f16["p50_ms"] if f16 else None, "floor_p99_ms_at_16": f16["p99_ms"] if f16 else None,
        "meets_p99_100ms_at_16": bool(d16 and d16["p99_ms"] <= 100),
        "mean_load_average_1m": round(sum(x["load_average_1m"] for x in levels) / len(levels), 2),
    }  # fmt: skip


def _profile(n: int, token: str, customers: list[str]) -> None:
    """cProfile over n decisions through the service, then n through the whole HTTP path (WSGI, in process)."""
    import cProfile
    import pstats

    from django.test import Client

    from carloop.core.timeutil import business_date
    from carloop.risk import services
    from carloop.risk.contracts import DecisionRequest

    def service_call(i: int) -> None:
        body = _decision_body(customers, i, "profile-service")
        services.decide(DecisionRequest(
            application_ref=body["application_ref"], product_kind="cash_loan", customer_user_id=body["customer_user_id"],
            amount_fen=3_000_000, term_months=12, as_of=business_date(), monthly_income_fen=2_000_000,
            product_limits={"min_amount_fen": 100_000, "max_amount_fen": 20_000_000, "max_term_months": 36},
            device_id=body["device_id"], ip=body["ip"],
        ))  # fmt: skip

    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")

    def http_call(i: int) -> None:
        body, headers = _request("decision", token, customers, i, "profile-http")
        response = client.post(
            ENDPOINTS["decision"], body, content_type="application/json", headers={"Idempotency-Key": headers["Idempotency-Key"]}
        )
        assert response.status_code == 201, response.content

    for name, call in (("service: risk.services.decide", service_call), ("HTTP: POST /api/v1/risk/decisions", http_call)):
        for i in range(20):  # warm: rule set, models, connections
            call(10_000 + i)
        profiler = cProfile.Profile()
        started = time.perf_counter()
        profiler.enable()
        for i in range(n):
            call(i)
        profiler.disable()
        wall = (time.perf_counter() - started) * 1000 / n
        print(f"== {name}: {n} calls, {wall:.1f} ms per call under the profiler (load average {os.getloadavg()[0]:.2f})")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(25)


def _md(results: dict) -> str:
    quiet = results["runs"][results["quietest_run"]]
    s, spread = quiet["summary"], results["spread"]
    lines = [
        "# Risk: decision API against the production server, beside the stack's floor",
        "",
        f"`carloop serve` ({results['server']}), {results['database']}, {results['machine']['cpus']} CPUs shared by the "
        "server, PostgreSQL, the load generator (Python threads) and other users' jobs. At each concurrency level the "
        "same server answers `POST /api/v1/risk/decisions` (each request a new application: policy rules, velocity, "
        "geo/device checks, graph link + k-hop search, scoring, challenger, storage, event; Idempotency-Key) and then "
        "the floor, `POST /api/v1/risk/blacklist/check` (the same token authentication and roles, one indexed read).",
        "",
        f"{results['requests_per_level']} requests per level and endpoint, {len(results['runs'])} runs on one server; the quietest (mean load average {s['mean_load_average_1m']}) is shown, "
        "the spread over all runs below it.",
        "",
        "| endpoint | concurrency | requests | p50 ms | p95 ms | p99 ms | max ms | req/s | load avg (1 min) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {x['endpoint']} | {x['concurrency']} | {x['requests']} | {x['p50_ms']} | {x['p95_ms']} | {x['p99_ms']} | {x['max_ms']} | "
        f"{x['throughput_rps']} | {x['load_average_1m']} |"
        for x in quiet["levels"]
    ]
    lines += [
        "",
        f"- Saturation: **{s['decisions_per_s_at_saturation']} decisions/s** (at {s['decision_saturation_concurrency']} concurrent) "
        f"against the floor's **{s['floor_per_s_at_saturation']} requests/s** (at {s['floor_saturation_concurrency']}): "
        f"**{s['ratio_to_floor']}×**; goal ≥ 0.3× → {'met' if s['meets_ratio_0_3'] else 'not met'}.",
        f"- At 16 concurrent: decisions p50 {s['decision_p50_ms_at_16']} ms, **p99 {s['decision_p99_ms_at_16']} ms**; floor p50 "
        f"{s['floor_p50_ms_at_16']} ms, p99 {s['floor_p99_ms_at_16']} ms; goal p99 ≤ 100 ms → "
        f"{'met' if s['meets_p99_100ms_at_16'] else 'not met'}.",
        f"- Spread over {len(results['runs'])} runs: decisions/s {spread['decisions_per_s'][0]}–{spread['decisions_per_s'][1]}, "
        f"floor/s {spread['floor_per_s'][0]}–{spread['floor_per_s'][1]}, ratio {spread['ratio'][0]}–{spread['ratio'][1]}×, "
        f"decision p99 at 16 {spread['decision_p99_ms_at_16'][0]}–{spread['decision_p99_ms_at_16'][1]} ms, "
        f"mean load average {spread['mean_load_average_1m'][0]}–{spread['mean_load_average_1m'][1]}.",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--concurrency", default="1,4,16,32,50")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=None, help="gunicorn workers (default: carloop serve's, one per core)")
    parser.add_argument("--threads", type=int, default=None, help="threads per worker (default: carloop serve's)")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--profile", type=int, default=0, help="profile this many decisions in process instead of serving")
    args = parser.parse_args(argv)
    env = {
        "CARLOOP_DEBUG": "false",
        **os.environ,
        "CARLOOP_DATABASE_URL": DB_URL,
        "DJANGO_SETTINGS_MODULE": "carloop.settings",
        "CARLOOP_LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    sys.path.insert(0, str(ROOT / "src"))
    load_at_start = os.getloadavg()
    _recreate_database()
    token, customers = _prepare(args.customers)
    if args.profile:
        _profile(args.profile, token, customers)
        return
    from carloop.core.management.commands.serve import THREADS_PER_WORKER, cores

    workers, threads = args.workers or cores(), args.threads or THREADS_PER_WORKER
    port = _free_port()
    command = [str(ROOT / ".venv" / "bin" / "carloop"), "serve", "--port", str(port), "--workers", str(workers), "--threads", str(threads)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = []
    try:
        _wait(port)
        for endpoint in ENDPOINTS:
            _load(port, token, customers, endpoint, 4, 80, "warmup")
        for r in range(args.runs):
            levels = []
            for c in (int(c) for c in args.concurrency.split(",")):
                for endpoint in ENDPOINTS:
                    level = _load(port, token, customers, endpoint, c, args.requests, f"r{r}c{c}")
                    print(json.dumps(level), flush=True)
                    levels.append(level)
            runs.append({"levels": levels, "summary": _summary(levels)})
            print(json.dumps(runs[-1]["summary"]), flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    summaries = [run["summary"] for run in runs]

    def span(key: str) -> list:
        values = [x[key] for x in summaries if x[key] is not None]
        return [min(values), max(values)] if values else [None, None]

    results = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load_average_at_start": [round(x, 2) for x in load_at_start]},
        "database": "PostgreSQL (local)",
        "server": f"gunicorn, {workers} workers × {threads} threads (gthread)",
        "requests_per_level": args.requests,
        "quietest_run": min(range(len(runs)), key=lambda i: summaries[i]["mean_load_average_1m"]),
        "spread": {"decisions_per_s": span("decisions_per_s_at_saturation"), "floor_per_s": span("floor_per_s_at_saturation"),
                   "ratio": span("ratio_to_floor"), "decision_p99_ms_at_16": span("decision_p99_ms_at_16"),
                   "mean_load_average_1m": span("mean_load_average_1m")},
        "runs": runs,
    }  # fmt: skip
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "risk_decision_api.json").write_text(json.dumps(results, indent=1) + "\n")
    (RESULTS / "risk_decision_api.md").write_text(_md(results))


if __name__ == "__main__":
    main()
