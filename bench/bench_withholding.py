"""The COB's withholding (代扣) of the instalments due for N loans falling due on one day, on PostgreSQL (goal from
issue 13: 100,000 loans in <= 10 minutes), batched through the simulator's withholding API.

Builds N active 12-month loans (bulk inserts) whose first instalment falls due on the bench day, each with a bound
card (a withholding agreement at the simulator; 5 % of the cards are short of money), then times:

1. ``cob.run(day)``: the COB's chunks of 1,000 loans mark the instalments due and open one ``finance.repayment``
   intent per loan (the payables looked up 1,000 at a time, the intents and tenders inserted a statement per
   chunk); after each chunk commits, its debits go to the simulator's batch withholding API (1,000 per request);
   the simulator answers each debit with a signed notification, held here as a provider's queue would hold them;
2. booking the answers: W worker processes each take a share of the queue and book it through
   ``payments.services.handle_notifications`` in chunks of 100 — per chunk one transaction, the intents and
   tenders locked in two statements, the repayments allocated per loan and written a statement per table, every
   provider receipt, its move to repayments received and the repayments' own transfers in one linked ledger
   batch; the failed debits (NOTENOUGH) fail their intents one by one.

Then checks that every loan was credited once or its intent failed, payment clearing and repayments received are
back to zero, the funders reconcile, and a sample of intents has ledger movements equal to its state. Uses its own
database (``CARLOOP_BENCH_DB``, default ``bench_carloop_withholding``); writes bench/results/withholding.json and .md.

    .venv/bin/python bench/bench_withholding.py [loans] [workers]
"""

from __future__ import annotations

import json
import multiprocessing
import os
import platform
import sys
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
import bench_finance_cob as cob_bench  # noqa: E402  (its loan book and database helpers)

RESULTS = ROOT / "bench" / "results"
DB_NAME = os.environ.get("CARLOOP_BENCH_DB", "bench_carloop_withholding")
DAY = date(2026, 11, 20)  # the business day every loan's first instalment falls due
GOAL_LOANS, GOAL_SECONDS = 100_000, 600
SHORT_OF_MONEY = 20  # one card in 20 has not enough money


def _use_database() -> None:
    cob_bench.DB_NAME = DB_NAME  # its database helpers, on this bench's own database


def build_book(n_loans: int) -> dict[str, Any]:
    from decimal import Decimal

    from django.utils import timezone

    from carloop.finance.amortization import add_months, build_schedule
    from carloop.finance.models import Application, Installment, Loan, LoanFunding
    from carloop.payments.models import SimulatorAgreement, WithholdingAgreement

    started = time.perf_counter()
    partner, dealer, product, users = cob_bench.open_book()
    start = add_months(DAY, -1)
    now = timezone.now()
    schedules: dict[int, Any] = {}
    short: list[str] = []
    made, batch = 0, 2000
    while made < n_loans:
        apps, loans, funding, rows, ours, theirs = [], [], [], [], [], []
        for k in range(made, min(made + batch, n_loans)):
            amount = (50_000 + (k * 7919) % 250_000) // 100 * 100_00
            schedule = schedules.get(amount) or schedules.setdefault(
                amount, build_schedule(amount, Decimal("0.0699"), 12, "equal_installment", start))
            user = users[k % len(users)]
            app = Application(customer=user, product=product, amount_fen=amount, term=12, state="disbursed",
                              consent_text="bench", consent_at=now, offer_amount_fen=amount, offer_term=12,
                              offer_rate=Decimal("0.0699"), offer_apr=Decimal("0.069900"),
                              offer_apr_effective=Decimal("0.072196"))
            agreement_no = f"SIMAGRB{k:019d}"
            loan = Loan(contract_no=f"W{k:010d}", application=app, customer=user, product=product, state="active",
                        principal_fen=amount, term=12, method="equal_installment", annual_rate=Decimal("0.0699"),
                        penalty_rate=Decimal("0.18"), apr=Decimal("0.069900"), apr_effective=Decimal("0.072196"),
                        start_date=start, outstanding_principal_fen=amount, merchant=dealer, signed_at=now,
                        signature={"bench": True}, cob_through=DAY - timedelta(days=1), debit_agreement_no=agreement_no,
                        debit_card_masked="***************0128")
            rows += [Installment(loan=loan, period=r.period, due_date=r.due_date, principal_fen=r.principal_fen,
                                 interest_fen=r.interest_fen) for r in schedule.rows()]
            share = amount * 7 // 10
            funding += [LoanFunding(loan=loan, partner=partner, share_bp=7000, rate=Decimal("0.045"), principal_fen=share,
                                    outstanding_fen=share),
                        LoanFunding(loan=loan, partner=None, share_bp=3000, rate=Decimal("0.0699"),
                                    principal_fen=amount - share, outstanding_fen=amount - share)]
            ours.append(WithholdingAgreement(payer=user, provider="simulator", agreement_no=agreement_no,
                                             card_masked="***************0128", created_by="bench"))
            theirs.append(SimulatorAgreement(agreement_no=agreement_no, card_masked="***************0128"))
            if k % SHORT_OF_MONEY == 7:
                short.append(agreement_no)
            apps.append(app)
            loans.append(loan)
        Application.objects.bulk_create(apps)
        Loan.objects.bulk_create(loans)
        LoanFunding.objects.bulk_create(funding)
        Installment.objects.bulk_create(rows, batch_size=5000)
        WithholdingAgreement.objects.bulk_create(ours)
        SimulatorAgreement.objects.bulk_create(theirs)
        made += len(loans)
        print(f"  built {made} loans", flush=True)
    cob_bench.book_funders_receivables()
    return {"loans": made, "short_of_money": short, "seconds": round(time.perf_counter() - started, 1)}


def run_cob(short: list[str]) -> tuple[float, list[tuple[bytes, dict[str, str]]], dict[str, Any]]:  # float-ok: seconds
    from carloop.finance import cob
    from carloop.payments.simulator import SIMULATOR, Behaviour

    SIMULATOR.behaviour = Behaviour(notify="late", short_of_money=set(short))  # answers queue up at the provider
    SIMULATOR.held = []
    started = time.perf_counter()
    stats = cob.run(DAY)
    seconds = time.perf_counter() - started
    return seconds, list(SIMULATOR.held), stats


def _book_worker(args: tuple[list[tuple[bytes, dict[str, str]]], int]) -> dict[str, Any]:
    queue, chunk = args
    from django.db import connection

    connection.close()
    from carloop.finance import services as finance
    from carloop.payments import services

    started = time.perf_counter()
    profile = None
    if os.environ.get("BENCH_PROFILE"):
        import cProfile

        profile = cProfile.Profile()
        profile.enable()
    with finance.as_of(DAY):
        counts = services.handle_notifications("simulator", queue, chunk=chunk)
    if profile is not None:
        import pstats

        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(35)
    return {"counts": counts, "seconds": time.perf_counter() - started}


def book(queue: list[tuple[bytes, dict[str, str]]], workers: int, chunk: int) -> tuple[float, list[dict[str, Any]]]:  # float-ok
    from django.db import connections

    connections.close_all()
    shares = [queue[w::workers] for w in range(workers)]
    started = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        results = pool.map(_book_worker, [(share, chunk) for share in shares])
    return time.perf_counter() - started, results


def check(n_loans: int, short: int) -> dict[str, Any]:
    from carloop.finance import ledger_accounts as accounts
    from carloop.finance import selectors
    from carloop.finance.models import Repayment
    from carloop.ledger import selectors as ledger_q
    from carloop.ledger import services as ledger
    from carloop.payments import selectors as payments_q
    from carloop.payments.models import IntentState, PaymentIntent

    intents = PaymentIntent.objects.filter(kind="finance.repayment")
    out = {
        "intents": intents.count(),
        "succeeded": intents.filter(state=IntentState.SUCCEEDED).count(),
        "failed_not_enough": intents.filter(state=IntentState.FAILED, failure="NOTENOUGH").count(),
        "repayments": Repayment.objects.count(),
        "loans_credited_twice": Repayment.objects.values("loan_id").order_by().annotate(
            n=__import__("django.db.models", fromlist=["Count"]).Count("id")).filter(n__gt=1).count(),
        "payment_clearing_fen": ledger_q.balance(ledger.system_account("payment_clearing").id).balance_fen,
        "repayments_received_fen": ledger_q.balance(accounts.received().id).balance_fen,
        "funders_reconcile": selectors.reconcile_funders() == [],
        "sample_discrepancies": sum(len(payments_q.ledger_discrepancies(i)) for i in intents.order_by("?")[:200]),
    }
    out["ok"] = (out["intents"] == n_loans and out["succeeded"] == n_loans - short == out["repayments"]
                 and out["failed_not_enough"] == short and out["loans_credited_twice"] == 0
                 and out["payment_clearing_fen"] == 0 and out["repayments_received_fen"] == 0
                 and out["funders_reconcile"] and out["sample_discrepancies"] == 0)
    return out


def main() -> None:
    n_loans = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 4
    chunk = 100
    _use_database()
    cob_bench._recreate_database()
    cob_bench._setup_django()
    load_before = os.getloadavg()
    print(f"building {n_loans} loans falling due on {DAY} ...", flush=True)
    built = build_book(n_loans)
    short = built.pop("short_of_money")
    print(f"  {built}", flush=True)
    cob_seconds, queue, stats = run_cob(short)
    print(f"COB with withholding requests: {cob_seconds:.1f} s, {stats['withholdings']} intents, {len(queue)} answers queued",
          flush=True)
    book_seconds, results = book(queue, workers, chunk)
    total = cob_seconds + book_seconds
    rate = n_loans / total
    print(f"booked the answers with {workers} workers: {book_seconds:.1f} s", flush=True)
    outcome = check(n_loans, len(short))
    load_after = os.getloadavg()
    counts: dict[str, int] = {}
    for r in results:
        for name, count in r["counts"].items():
            counts[str(name)] = counts.get(str(name), 0) + count
    projected = GOAL_LOANS / rate
    report = {
        "loans": n_loans, "short_of_money": len(short), "workers": workers, "chunk": chunk, "build": built,
        "cob_seconds": round(cob_seconds, 1), "booking_seconds": round(book_seconds, 1), "total_seconds": round(total, 1),
        "withholdings_per_second": round(rate, 1), "projected_100k_seconds": round(projected),
        "goal": f"{GOAL_LOANS:,} loans <= {GOAL_SECONDS} s", "goal_met_projected": projected <= GOAL_SECONDS,
        "notification_outcomes": counts, "cob_stats": {k: v for k, v in stats.items() if k != "buckets"},
        "checks": outcome, "cores": os.cpu_count(), "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after], "python": platform.python_version(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "withholding.json").write_text(json.dumps(report, indent=2, ensure_ascii=False, default=str) + "\n")
    (RESULTS / "withholding.md").write_text(f"""# COB withholding (代扣) through the cashier — `bench/bench_withholding.py`

{n_loans:,} active loans whose instalment falls due on {DAY}, each with a bound card ({len(short):,} short of money),
PostgreSQL, {os.cpu_count()} cores shared with other sessions (load average {load_before[0]:.1f} before,
{load_after[0]:.1f} after).

| phase | seconds |
|---|---|
| COB: {stats['chunks']} chunks, {stats['withholdings']:,} intents opened, debits sent to the simulator 1,000 per request | {cob_seconds:.1f} |
| booking the {len(queue):,} answers: {workers} worker processes, chunks of {chunk} | {book_seconds:.1f} |
| **total** | **{total:.1f}** |

**{rate:.1f} withholdings/s**; 100,000 loans projected at **{projected:,.0f} s** (goal ≤ {GOAL_SECONDS} s:
{"met" if projected <= GOAL_SECONDS else "not met"} on this machine). Notification outcomes: {counts}.

Checks: {outcome['succeeded']:,} intents succeeded and {outcome['repayments']:,} repayments booked (no loan twice),
{outcome['failed_not_enough']:,} failed for not enough money, payment clearing {outcome['payment_clearing_fen']} fen and
repayments received {outcome['repayments_received_fen']} fen, funders reconcile: {outcome['funders_reconcile']},
ledger discrepancies in a sample of 200 intents: {outcome['sample_discrepancies']} — {"all hold" if outcome['ok'] else "FAILED"}.

An earlier serial attempt (one notification, one transaction, one intent and one repayment at a time) did 25.5
withholdings/s (100,000 projected at 4,016 s). What the batches change: the COB looks the payables up 1,000 at a
time and inserts a chunk's intents and tenders in one statement each; the answers are booked 100 per transaction
with one linked ledger batch (receipts, moves to repayments received, the repayments' transfers), so the hot
accounts (external, payment clearing, repayments received, the pools, income) are locked once per 100 and only
from that batch to the commit. Each repayment still publishes its event (delivered in-process to risk's feature
store after commit) and is allocated in Python per loan.

Where the time goes (cProfile of one booking worker, ``BENCH_PROFILE=1``, 400 loans): of 16.0 s, 9.2 s is the
after-commit delivery of the two events per withholding (``payments.intent.succeeded`` and
``finance.repayment.posted``), 5.9 s of it risk's feature-store refresh; the chunk transactions themselves are
5.4 s. The COB phase also sends each loan's due-date SMS reminder. On a machine this loaded (load average ~10 on 2
cores, the bench's processes get a fraction of a core each) the figure is a floor, not the design's limit; the
next steps are delivering a transaction's events together and risk's feature refresh in sets.
""")
    print(json.dumps({k: report[k] for k in ("withholdings_per_second", "projected_100k_seconds", "checks")}, indent=2))
    if not outcome["ok"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
