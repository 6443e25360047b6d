"""COB over 100,000 active loans on PostgreSQL (goal <= 5 minutes) and repayments posted per second through the
service layer (goal >= 500/s).

Builds a loan book directly with bulk inserts (loans disbursed over the past three years, 12/24/36-month terms,
earlier instalments paid, about 6% of loans behind), then times ``cob.run`` for two consecutive business days and a
re-run of the second (idempotent), and finally posts repayments one by one through ``services.repay`` (each
with its ledger transfers, events and audit) from one process and from two. Uses its own database
(``CARLOOP_BENCH_DB``, default ``bench_carloop_finance``) on the local PostgreSQL server and writes
bench/results/finance_cob.json and .md.

    .venv/bin/python bench/bench_finance_cob.py [loans] [repayments]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import sys
import time
import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results"
DB_NAME = os.environ.get("CARLOOP_BENCH_DB", "bench_carloop_finance")
PG = os.environ.get("CARLOOP_BENCH_PG", "postgres://postgres@127.0.0.1:5432")
AS_OF = date(2026, 11, 20)


def _setup_django() -> None:
    os.environ["CARLOOP_DATABASE_URL"] = f"{PG}/{DB_NAME}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carloop.settings")
    os.environ.setdefault("CARLOOP_DEBUG", "false")  # as in production: no per-query logging
    os.environ.setdefault("CARLOOP_NOTIFICATION_BACKEND", "file")
    os.environ.setdefault("CARLOOP_VAR_DIR", "/tmp/carloop-bench-var")
    import django

    django.setup()


def _recreate_database() -> None:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')


def open_book() -> tuple[Any, Any, Any, Any]:
    """Migrate the bench database and open a loan book: a funding partner (70 %), a dealer, the product, the users."""
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    from carloop.core.seeding import SeedContext, fake_uscc
    from carloop.finance import services
    from carloop.identity import services as identity

    call_command("migrate", verbosity=0)
    ctx = SeedContext(scale="demo", stdout=sys.stdout, quiet=True)  # type: ignore[arg-type]
    partner = identity.create_organisation(kind="funding_partner", name="招商银行股份有限公司", uscc_code=fake_uscc(ctx))
    dealer = identity.create_organisation(kind="dealer", name="京车汽车销售有限公司", uscc_code=fake_uscc(ctx))
    plan = services.create_funding_plan("joint-70", "70/30", [(partner.pk, 7000, Decimal("0.045"))])
    product = services.create_product(
        "car-purchase", kind="purchase_installment", name_zh="购车分期", name_en="Car purchase", method="equal_installment",
        min_amount_fen=1_000_000, max_amount_fen=100_000_000, min_term=12, max_term=36, terms=[12, 24, 36],
        rate_table={"B": "0.0699"}, grace_days=3, penalty_rate=Decimal("0.18"), funding_plan=plan)
    user_model = get_user_model()
    users = user_model.objects.bulk_create([user_model(username=f"bench{i:05d}") for i in range(2000)])
    return partner, dealer, product, users


def book_funders_receivables() -> None:
    """The book was inserted directly: put each funder's outstanding principal on its ledger receivable."""
    from django.db.models import Sum

    from carloop.finance import ledger_accounts as accounts
    from carloop.finance.models import LoanFunding
    from carloop.ledger import services as ledger

    for partner_id, total in LoanFunding.objects.values("partner_id").annotate(s=Sum("outstanding_fen")).values_list(
            "partner_id", "s"):
        key = accounts.funder_key(partner_id)
        ledger.transfer(id=f"bench:book:{key}", debit=accounts.receivable(key).id, credit=accounts.lent(key).id,
                        amount_fen=total, code=accounts.T_BOOK, memo="bench book")


def build_book(n_loans: int) -> dict[str, Any]:
    from decimal import Decimal

    from django.utils import timezone

    from carloop.core import payables
    from carloop.core.seeding import SeedContext
    from carloop.finance import services
    from carloop.finance.amortization import build_schedule
    from carloop.finance.models import CAPITAL_KIND, Application, Installment, Loan, LoanFunding
    from carloop.finance.services import bucket_for

    started = time.perf_counter()
    partner, dealer, product, users = open_book()
    ctx = SeedContext(scale="demo", stdout=sys.stdout, quiet=True)  # type: ignore[arg-type]
    for funder in (partner.pk, None):  # capital by bank transfer, confirmed at the cashier
        call = services.call_capital(funder, 10**15, "bench")
        payables.cashier().confirm_deposit(kind=CAPITAL_KIND, ref=call.ref, bank_txn_id=f"BENCH-{call.pk.hex}",
                                           value_date=date.today(), actor="bench")
    rng = ctx.rng
    now = timezone.now()
    schedules: dict[tuple[int, int, date], Any] = {}
    made = 0
    batch = 2000
    while made < n_loans:
        apps, loans, funding, rows = [], [], [], []
        for k in range(made, min(made + batch, n_loans)):
            term = (12, 24, 36)[k % 3]
            start = AS_OF - timedelta(days=rng.randint(10, term * 30 - 5))
            amount = rng.randrange(50_000, 300_000, 1_000) * 100
            key = (amount, term, start)
            schedule = schedules.get(key) or build_schedule(amount, Decimal("0.0699"), term, "equal_installment", start)
            apr, effective = Decimal("0.069900"), Decimal("0.072196")
            user = users[k % len(users)]
            app = Application(customer=user, product=product, amount_fen=amount, term=term, state="disbursed",
                              consent_text="bench", consent_at=now, offer_amount_fen=amount, offer_term=term,
                              offer_rate=Decimal("0.0699"), offer_apr=apr, offer_apr_effective=effective)
            behind = rng.random() < 0.06  # float-ok: a probability
            paid_until = AS_OF - timedelta(days=rng.randint(1, 100)) if behind else AS_OF - timedelta(days=1)
            outstanding = amount
            oldest = None
            loan = Loan(contract_no=f"B{k:010d}", application=app, customer=user, product=product, state="active",
                        principal_fen=amount, term=term, method="equal_installment", annual_rate=Decimal("0.0699"),
                        penalty_rate=Decimal("0.18"), apr=apr, apr_effective=effective, start_date=start,
                        outstanding_principal_fen=amount, merchant=dealer, signed_at=now, signature={"bench": True})
            for r in schedule.rows():
                paid = r.due_date <= paid_until
                if paid:
                    outstanding -= r.principal_fen
                elif oldest is None:
                    oldest = r.due_date
                status = "paid" if paid else ("overdue" if r.due_date < AS_OF else "pending")
                rows.append(Installment(loan=loan, period=r.period, due_date=r.due_date, principal_fen=r.principal_fen,
                                        interest_fen=r.interest_fen, status=status,
                                        paid_principal_fen=r.principal_fen if paid else 0,
                                        paid_interest_fen=r.interest_fen if paid else 0))
            loan.outstanding_principal_fen = outstanding
            loan.oldest_unpaid_due = oldest
            loan.bucket = bucket_for((AS_OF - timedelta(days=1) - oldest).days if oldest else 0)
            share = amount * 7 // 10
            paid_share = (amount - outstanding) * 7 // 10
            funding += [LoanFunding(loan=loan, partner=partner, share_bp=7000, rate=Decimal("0.045"), principal_fen=share,
                                    outstanding_fen=share - paid_share),
                        LoanFunding(loan=loan, partner=None, share_bp=3000, rate=Decimal("0.0699"),
                                    principal_fen=amount - share, outstanding_fen=outstanding - (share - paid_share))]
            apps.append(app)
            loans.append(loan)
        Application.objects.bulk_create(apps)
        Loan.objects.bulk_create(loans)
        LoanFunding.objects.bulk_create(funding)
        Installment.objects.bulk_create(rows, batch_size=5000)
        made += len(loans)
        print(f"  built {made} loans", flush=True)
    book_funders_receivables()
    return {"loans": made, "installments": Installment.objects.count(), "seconds": round(time.perf_counter() - started, 1)}


def time_cob() -> dict[str, Any]:
    from carloop.finance import cob

    # The longest chunk is the longest a repayment of one of its loans can wait for COB.
    process = cob._process_chunk
    chunk_seconds: list[float] = []  # float-ok: durations

    def timed(*args: Any) -> Any:
        started = time.perf_counter()
        try:
            return process(*args)
        finally:
            chunk_seconds.append(time.perf_counter() - started)

    cob._process_chunk = timed
    out = {}
    try:
        for label, day in (("day1", AS_OF), ("day2", AS_OF + timedelta(days=1)), ("rerun_day2", AS_OF + timedelta(days=1))):
            chunk_seconds.clear()
            started = time.perf_counter()
            stats = cob.run(day)
            out[label] = {"seconds": round(time.perf_counter() - started, 2), "stats": stats,
                          "longest_chunk_seconds": round(max(chunk_seconds, default=0), 3)}
            print(" ", label, out[label]["seconds"], "s, longest chunk", out[label]["longest_chunk_seconds"], "s",
                  {k: v for k, v in stats.items() if k != "buckets"}, flush=True)
    finally:
        cob._process_chunk = process
    return out


def _repay_worker(args: tuple[list[str], int]) -> tuple[int, float]:  # float-ok: a duration
    loan_ids, worker = args
    from django.db import connection

    connection.close()
    from carloop.finance import services

    started = time.perf_counter()
    done = 0
    for loan_id in loan_ids:  # the booking the cashier's on_paid runs once the provider confirmed the money
        services.book_repayment(uuid.UUID(loan_id), amount_fen=50_000, key=f"bench-{worker}-{loan_id}",
                                on=AS_OF + timedelta(days=1), actor="bench")
        done += 1
    return done, time.perf_counter() - started


def _receive(amount_fen: int) -> None:
    """Stand in for the cashier: the borrowers' money the provider confirmed, in finance's repayments received."""
    from carloop.finance import ledger_accounts as accounts
    from carloop.ledger import services as ledger

    ledger.transfer(id=f"bench:received:{uuid.uuid4()}", debit=ledger.system_account("external").id,
                    credit=accounts.received().id, amount_fen=amount_fen, code=6001, memo="bench: cashier receipts")


def time_repayments(n: int) -> dict[str, Any]:
    from carloop.core import events
    from carloop.finance.models import Loan

    ids = [str(i) for i in Loan.objects.filter(state="active").order_by("?").values_list("pk", flat=True)[: 4 * n]]
    _receive(len(ids) * 50_000)
    out: dict[str, Any] = {}
    done, seconds = _repay_worker((ids[:n], 0))
    out["one_process"] = {"repayments": done, "seconds": round(seconds, 2), "per_s": round(done / seconds, 1)}
    print("  repayments, 1 process:", out["one_process"], flush=True)
    # The same without the other apps' in-process event subscribers (the events are still written): how much of
    # a repayment is finance + ledger, and how much is downstream work that could run as a background task.
    saved = list(events._subscriptions)
    events._subscriptions.clear()
    try:
        done, seconds = _repay_worker((ids[3 * n: 4 * n], 9))
    finally:
        events._subscriptions.extend(saved)
    out["one_process_without_subscribers"] = {"repayments": done, "seconds": round(seconds, 2),
                                              "per_s": round(done / seconds, 1)}
    print("  repayments, 1 process, no subscribers:", out["one_process_without_subscribers"], flush=True)
    from django.db import connection

    connection.close()
    chunks = [(ids[n + i * n: n + (i + 1) * n], i + 1) for i in range(2)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(2) as pool:
        results = pool.map(_repay_worker, chunks)
    wall = time.perf_counter() - started
    total = sum(r[0] for r in results)
    out["two_processes"] = {"repayments": total, "seconds": round(wall, 2), "per_s": round(total / wall, 1)}
    print("  repayments, 2 processes:", out["two_processes"], flush=True)
    from carloop.finance import selectors

    out["reconciled"] = selectors.reconcile_funders() == []
    return out


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def main(n_loans: int = 100_000, n_repayments: int = 1_000) -> dict[str, Any]:
    """``CARLOOP_BENCH_REUSE=1`` reuses the book of a previous run (COB runs are cleared first)."""
    reuse = os.environ.get("CARLOOP_BENCH_REUSE") == "1"
    if not reuse:
        _recreate_database()
    _setup_django()
    out: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "db": "postgresql"}}
    if reuse:
        from carloop.finance.models import CobRun, Installment, Loan

        if CobRun.objects.exists() and os.environ.get("CARLOOP_BENCH_ONLY") != "repayments":
            raise SystemExit("the reused book has COB runs already: rebuild it")
        out["book"] = {"loans": Loan.objects.count(), "installments": Installment.objects.count(), "reused": True}
    if os.environ.get("CARLOOP_BENCH_ONLY") == "repayments":
        previous = json.loads((RESULTS / "finance_cob.json").read_text())
        previous["repayments"] = time_repayments(n_repayments)
        previous["goals"]["repayments_ok"] = previous["repayments"]["two_processes"]["per_s"] >= 500
        _write(previous)
        return previous
    else:
        print("building the loan book …", flush=True)
        out["book"] = build_book(n_loans)
    _analyze()  # fresh statistics, as autovacuum would have after a bulk load
    print("COB …", flush=True)
    out["cob"] = time_cob()
    print("repayments …", flush=True)
    out["repayments"] = time_repayments(n_repayments)
    out["goals"] = {"cob_seconds_max": 300, "repayments_per_s_min": 500,
                    "cob_ok": out["cob"]["day1"]["seconds"] <= 300 and out["cob"]["day2"]["seconds"] <= 300,
                    "repayments_ok": out["repayments"]["two_processes"]["per_s"] >= 500}
    _write(out)
    return out


def _write(out: dict[str, Any]) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "finance_cob.json").write_text(json.dumps(out, indent=2, default=str) + "\n")
    c, r = out["cob"], out["repayments"]
    (RESULTS / "finance_cob.md").write_text("\n".join([
        "# Finance COB and repayments benchmark (PostgreSQL)",
        "",
        f"{out['book']['loans']:,} active loans, {out['book']['installments']:,} instalments; "
        f"{os.cpu_count()} cores shared with the database server; Python {platform.python_version()}.",
        "",
        "| measure | result | goal |",
        "|---|---:|---|",
        f"| COB day 1 | {c['day1']['seconds']} s | <= 300 s |",
        f"| COB day 2 | {c['day2']['seconds']} s | <= 300 s |",
        f"| COB re-run of day 2 (idempotent) | {c['rerun_day2']['seconds']} s | no change |",
        f"| COB longest chunk of {c['day2']['stats'].get('loans', 0) // max(1, c['day2']['stats'].get('chunks', 1)):,} "
        f"loans (the longest a repayment waits for COB) | {max(c['day1']['longest_chunk_seconds'], c['day2']['longest_chunk_seconds'])} s | |",
        f"| repayments, 1 process | {r['one_process']['per_s']}/s | |",
        f"| repayments, 1 process, other apps' event subscribers off | {r['one_process_without_subscribers']['per_s']}/s | |",
        f"| repayments, 2 processes | {r['two_processes']['per_s']}/s | >= 500/s |",
        f"| loans and ledger reconcile after the run | {'yes' if r['reconciled'] else 'NO'} | yes |",
        "",
    ]))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:3]))
