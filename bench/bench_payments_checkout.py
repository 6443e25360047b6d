"""Checkout through the cashier on PostgreSQL, next to the ledger's single-transfer rate in the same run.

A checkout is the whole path through the services: open an intent, confirm it with two internal tenders (points
and an e-card, each a ledger hold) and the simulator for the rest, the customer pays on the simulator, and its
signed notification is verified and booked (one linked batch: the two posts, the provider receipt and its move to
the destination). Workers are processes (``--workers``, default 8), each with its own payer and bill. The ledger
scenario runs the same number of workers doing single transfers over 1,000 accounts. Goal: checkouts/s ≥ 0.25×
the single-transfer rate (a checkout is about four transfers' work). Writes bench/results/payments_checkout.json
and .md.

    .venv/bin/python bench/bench_payments_checkout.py [--duration 20] [--workers 8]

Needs PostgreSQL (CARLOOP_BENCH_PG_URL, default postgres://postgres@127.0.0.1:5432/postgres); the scratch
database ``carloop_bench_payments`` is dropped and recreated.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import platform
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"
DB = "carloop_bench_payments"


def _server_url() -> str:
    return os.environ.get("CARLOOP_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")


def _pg_args() -> list[str]:
    parsed = urlparse(_server_url())
    return ["-h", parsed.hostname or "127.0.0.1", "-p", str(parsed.port or 5432), "-U", parsed.username or "postgres"]


def _django() -> None:
    os.environ["CARLOOP_DATABASE_URL"] = urlparse(_server_url())._replace(path=f"/{DB}").geturl()
    os.environ.setdefault("CARLOOP_DEBUG", "false")
    os.environ["DJANGO_SETTINGS_MODULE"] = "carloop.settings"
    import django

    django.setup()


def _percentile(values: list[float], q: float) -> float:  # float-ok: latencies
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0  # float-ok


def _register() -> uuid.UUID:
    """The bench's payable kind (bills that are always due) and its two tender sources."""
    from carloop.core import payables
    from carloop.ledger import selectors as ledger_q
    from carloop.ledger import services as ledger

    destination = ledger.open_account(key="bench:bills", name="bench bills", code=3999).id

    def lookup(ref: str) -> payables.Payable:
        payer = uuid.UUID(ref.split(":")[2])
        return payables.Payable(ref=ref, amount_due_fen=100_000, destination_account=destination, payer_user_id=payer)

    payables.register_kind(payables.PayableKind("bench.bill", "bench", "bench", lookup, lambda paid: None,
                                                lambda refunded: None))
    for kind in ("points", "ecard"):
        def account(payer: uuid.UUID | None, instrument: str, kind: str = kind) -> uuid.UUID:
            found = ledger_q.account_by_key(f"bench:{kind}:{payer}")
            assert found is not None
            return found.id
        payables.register_tender(payables.TenderSource(kind, kind, kind, account))
    return destination


def prepare(workers: int) -> list[str]:
    subprocess.run(["dropdb", *_pg_args(), "--if-exists", "--force", DB], check=True, capture_output=True)
    subprocess.run(["createdb", *_pg_args(), DB], check=True, capture_output=True)
    _django()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    from carloop.identity import services as identity
    from carloop.ledger import services as ledger
    from carloop.ledger.contracts import AccountFlags

    external = ledger.system_account("external").id
    payers = []
    for n in range(workers):
        user = identity.register_customer(phone=f"1390000{n:04d}", password="Tr0ub4dour&3x", display_name=f"bench {n}")
        for kind in ("points", "ecard"):
            acct = ledger.open_account(key=f"bench:{kind}:{user.pk}", name=kind, code=4999,
                                       flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS).id
            ledger.transfer(id=f"bench:fund:{kind}:{user.pk}", debit=external, credit=acct, amount_fen=10**13, code=1)
        payers.append(str(user.pk))
    accounts = [ledger.open_account(key=f"bench:cold:{i}", name=f"cold {i}", code=1999).id for i in range(1000)]
    from django.db import connections

    connections.close_all()
    return payers + [str(a) for a in accounts]


def _checkout_worker(payer: str, duration: int, barrier: Any, out: Any) -> None:
    _django()
    from carloop.identity import selectors as identity_q
    from carloop.payments import services
    from carloop.payments.services import TenderRequest
    from carloop.payments.simulator import SIMULATOR, deliver

    _register()
    SIMULATOR.behaviour.notify = "never"  # the bench delivers the notification itself, inside the timed loop
    from carloop.identity.models import User

    subject = identity_q.subject_for_user(User.objects.get(pk=payer))

    def checkout() -> bool:
        ref = f"bench:bill:{payer}:{uuid.uuid4()}"
        intent = services.create_intent(kind="bench.bill", ref=ref, subject=subject, actor=subject.ref)
        intent = services.confirm(intent_id=intent.pk, subject=subject, method="simulator", actor=subject.ref,
                                  tenders=[TenderRequest("points", 20_000), TenderRequest("ecard", 30_000)])
        order_no = intent.tenders.get(kind="external").provider_order_no
        assert order_no is not None
        SIMULATOR.pay(order_no)
        status, _ = deliver("simulator", *SIMULATOR.payment_notification(order_no))
        return status == 200

    checkout()  # warm-up outside the timed run: the first one imports the URL conf (the simulator's pay URL)
    barrier.wait(timeout=300)
    deadline = time.perf_counter() + duration
    latencies: list[float] = []  # float-ok: milliseconds
    failed = 0
    while time.perf_counter() < deadline:
        started = time.perf_counter()
        failed += not checkout()
        latencies.append((time.perf_counter() - started) * 1000)
    out.put({"count": len(latencies), "failed": failed, "latencies": latencies})


def _ledger_worker(accounts: list[str], duration: int, seed: int, barrier: Any, out: Any) -> None:
    _django()
    from carloop.ledger import services as ledger

    rng = random.Random(seed)
    ids = [uuid.UUID(a) for a in accounts]
    barrier.wait(timeout=300)
    deadline = time.perf_counter() + duration
    latencies: list[float] = []  # float-ok
    while time.perf_counter() < deadline:
        debit, credit = rng.sample(ids, 2)
        started = time.perf_counter()
        ledger.transfer(id=uuid.uuid4(), debit=debit, credit=credit, amount_fen=rng.randint(1, 10_000), code=2)
        latencies.append((time.perf_counter() - started) * 1000)
    out.put({"count": len(latencies), "failed": 0, "latencies": latencies})


def run(name: str, target: Any, args_for: Any, workers: int, duration: int) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    barrier, out = ctx.Barrier(workers + 1), ctx.Queue()
    procs = [ctx.Process(target=target, args=(*args_for(n), duration, barrier, out)) for n in range(workers)]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)
    started = time.perf_counter()
    parts = [out.get(timeout=duration + 300) for _ in procs]
    elapsed = time.perf_counter() - started
    for p in procs:
        p.join()
    latencies = [lat for part in parts for lat in part["latencies"]]
    count = sum(part["count"] for part in parts)
    return {"scenario": name, "workers": workers, "seconds": round(elapsed, 1), "count": count,
            "failed": sum(part["failed"] for part in parts), "per_s": round(count / elapsed, 1),
            "p50_ms": round(_percentile(latencies, 0.5), 1), "p99_ms": round(_percentile(latencies, 0.99), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--workers", type=int, default=8)
    args = parser.parse_args()
    ids = prepare(args.workers)
    payers, accounts = ids[:args.workers], ids[args.workers:]
    load = os.getloadavg()
    ledger_run = run("ledger single transfer", _ledger_worker, lambda n: (accounts, n), args.workers, args.duration)
    checkout = run("checkout (2 holds + simulator)", _checkout_worker, lambda n: (payers[n],), args.workers, args.duration)
    _django()
    from carloop.ledger import selectors as ledger_q

    totals = ledger_q.totals()
    ratio = round(checkout["per_s"] / ledger_run["per_s"], 3) if ledger_run["per_s"] else 0.0  # float-ok: a ratio
    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                          "loadavg": [round(x, 1) for x in load]},  # float-ok
              "workers": args.workers, "duration_s": args.duration, "scenarios": [ledger_run, checkout],
              "ratio": ratio, "goal_met": ratio >= 0.25,  # float-ok: the goal ratio
              "invariant": totals["CNY:debits_posted"] == totals["CNY:credits_posted"]}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "payments_checkout.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = ["# Payments checkout benchmark", "",
             f"Machine: {report['machine']['cpus']} CPUs, Python {report['machine']['python']}, load average at start "
             f"{report['machine']['loadavg']}; {args.workers} worker processes, {args.duration} s per scenario.", "",
             "| scenario | per second | p50 ms | p99 ms | count | failed |", "|---|---:|---:|---:|---:|---:|"]
    for s in report["scenarios"]:
        lines.append(f"| {s['scenario']} | {s['per_s']} | {s['p50_ms']} | {s['p99_ms']} | {s['count']} | {s['failed']} |")
    lines += ["", f"Checkouts/s ÷ single transfers/s = **{ratio}×** (goal ≥ 0.25×: "
              f"{'met' if report['goal_met'] else 'NOT met'}). Σdebits = Σcredits after the run: {report['invariant']}.", ""]
    (RESULTS / "payments_checkout.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
