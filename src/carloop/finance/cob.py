"""Daily close of business (COB): chunked and resumable, so it scales to the whole loan book without holding
it locked, and idempotent per loan and date.

For business date D, for every active loan: marks instalments falling due on D, moves unpaid ones past their due
date to overdue (publishing ``finance.installment.overdue``), refreshes the loan's DPD bucket (current, 1-30,
31-60, 61-90, 90+), charges one day of penalty interest on overdue principal once the grace days have passed
(daily rate = annual / 360, never above the product's APR cap), accrues the day's interest for reporting, and
queues reminders (3 days before, on the due date, 1 and 7 days after) through the notifications outbox, and asks
the cashier to withhold (代扣) what is due on D from the card of every loan whose borrower bound one: one intent
per loan (reference ``finance:loan:<id>:withhold:<D>``), the debits sent to the provider in batches once the chunk
has committed; the loan is credited only when the provider's verified notification (or the cashier's query job)
says the money was taken, through the cashier's ordinary booking. A debit that fails (not enough money) books
nothing: the instalment stays due and turns overdue the next day as any unpaid one.

The loans are worked in chunks (``chunk_size``, by id), each in its own transaction that locks the chunk's loan
rows (as a repayment does, loan first), does the work set-based for those loans, marks them done for D
(``Loan.cob_through``) and adds its counts to the date's ``CobRun``. A repayment waits only while the chunk holding
its own loan runs. A run that died mid-way is continued by the next run of that date (or of a later one): the
loans already done for D are skipped, so nothing is booked twice. The run is finished when no active loan is left
undone; running a finished date again changes nothing; missed dates since the last run are run first, in order.

A chunk that raises is rolled back to its savepoint and recorded in ``CobRun.failures`` (its loans, the error);
the run goes on with the next chunk and is left unfinished (state ``failed``), and later dates wait for it. The
next run of the date (the nightly job, or finance operations' rerun: ``services.rerun_cob``) works only the loans
still undone, i.e. those of the failed chunks, and marks the failures resolved.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import InterfaceError, OperationalError, transaction
from django.db.models import BigIntegerField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from carloop.core import events, notifications, payables
from carloop.core.money import yuan_str
from carloop.finance.amortization import add_months
from carloop.finance.models import CobRun, Installment, Loan
from carloop.finance.services import OPEN, REPAYMENT_KIND, as_of, ref_for

CHUNK_SIZE = 1000
BUCKETS = (("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))
COUNTS = ("loans", "chunks", "became_due", "became_overdue", "penalty_fen", "reminders", "withholdings")
WITHHOLD_ACTOR = "system:cob"
REMINDERS = (
    (
        -3,
        "before3",
        "还款提醒：您的车贷本期账单将于 {due} 到期，应还 {amount} 元。",
        "Reminder: your car loan instalment of {amount} yuan is due on {due}.",
    ),
    (0, "due", "您的车贷本期账单今日到期，应还 {amount} 元，请及时还款。", "Your car loan instalment of {amount} yuan is due today."),
    (
        1,
        "after1",
        "您的车贷账单已逾期 1 天，应还 {amount} 元，请尽快还款以免产生罚息。",
        "Your car loan instalment is 1 day overdue ({amount} yuan); please pay to avoid penalty interest.",
    ),
    (
        7,
        "after7",
        "您的车贷账单已逾期 7 天，应还 {amount} 元。逾期将影响您的信用记录。",
        "Your car loan instalment is 7 days overdue ({amount} yuan); overdue payments affect your credit record.",
    ),
)


def run(on: date, *, chunk_size: int = CHUNK_SIZE) -> dict[str, Any]:
    """Run COB for ``on`` (and any missed earlier dates); returns the stats of ``on``'s run."""
    last = CobRun.objects.filter(finished_at__isnull=False, business_date__lt=on).order_by("-business_date").first()
    if last is not None:
        day = last.business_date + timedelta(days=1)
        while day < on:
            stats = _run_one(day, chunk_size)
            if stats.get("failed_chunks"):  # a later date would skip the failed loans' day: stop here
                return stats
            day += timedelta(days=1)
    return _run_one(on, chunk_size)


def _empty_stats(on: date) -> dict[str, Any]:
    return {
        "business_date": on.isoformat(),
        **dict.fromkeys(COUNTS, 0),
        "buckets": dict.fromkeys(["current", *(name for name, _, _ in BUCKETS)], 0),
        "accrued_interest_exact": "0",
        "accrued_interest_fen": 0,
    }


def _run_one(on: date, chunk_size: int) -> dict[str, Any]:
    run, _ = CobRun.objects.get_or_create(business_date=on, defaults={"stats": _empty_stats(on)})
    if run.finished_at is not None:
        return dict(run.stats, replayed=True)
    with as_of(on):  # withholdings the provider answers while the run is under way are booked on its date
        return _run_chunks(run, on, chunk_size)


def _run_chunks(run: CobRun, on: date, chunk_size: int) -> dict[str, Any]:
    with transaction.atomic():  # a new pass retries the failed chunks' loans: their failures are resolved by it
        run = CobRun.objects.select_for_update().get(pk=run.pk)
        now = timezone.now().isoformat()
        run.failures = [f if f.get("resolved_at") else {**f, "resolved_at": now} for f in run.failures]
        run.passes += 1
        run.save(update_fields=["failures", "passes", "updated_at"])
    after: uuid.UUID | None = None
    failed = 0
    while True:
        with transaction.atomic():
            run = CobRun.objects.select_for_update().get(pk=run.pk)  # one runner per date at a time
            if run.finished_at is not None:  # another runner finished it meanwhile
                return dict(run.stats, replayed=True)
            undone = Loan.objects.filter(state=Loan.State.ACTIVE).filter(Q(cob_through__isnull=True) | Q(cob_through__lt=on))
            if after is not None:
                undone = undone.filter(pk__gt=after)
            ids = list(undone.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True)[:chunk_size])
            if not ids:
                if not failed:
                    run.finished_at = timezone.now()
                    run.stats["accrued_interest_fen"] = int(
                        Decimal(run.stats["accrued_interest_exact"]).quantize(Decimal(1), rounding=ROUND_HALF_UP)
                    )
                    run.save(update_fields=["finished_at", "stats", "updated_at"])
                break
            try:
                with transaction.atomic():  # a savepoint: a failing chunk leaves no trace but its failure
                    counts = _process_chunk(on, ids)
                    Loan.objects.filter(pk__in=ids).update(cob_through=on)
            except (OperationalError, InterfaceError):
                raise  # the connection itself is gone: the run died, the next run continues
            except Exception as exc:
                failed += 1
                run.failures.append({"at": timezone.now().isoformat(), "first_loan_id": str(ids[0]),
                                     "last_loan_id": str(ids[-1]), "loans": len(ids),
                                     "error": f"{type(exc).__name__}: {exc}"[:500], "resolved_at": None})
                run.save(update_fields=["failures", "updated_at"])
            else:
                _add(run.stats, counts)
                run.save(update_fields=["stats", "updated_at"])
            after = ids[-1]
    notifications.send_pending()
    return dict(run.stats, failed_chunks=failed) if failed else dict(run.stats)


def _add(total: dict[str, Any], chunk: dict[str, Any]) -> None:
    for key in COUNTS:
        total[key] = total.get(key, 0) + chunk[key]
    for name, count in chunk["buckets"].items():
        total["buckets"][name] += count
    total["accrued_interest_exact"] = str(Decimal(total["accrued_interest_exact"]) + chunk["accrued_interest_exact"])


def _process_chunk(on: date, ids: list[uuid.UUID]) -> dict[str, Any]:
    """The day's work for these loans (locked by the caller, in its transaction); their counts."""
    loans = Q(loan_id__in=ids)
    became_due = Installment.objects.filter(loans, status=Installment.Status.PENDING, due_date__lte=on).update(
        status=Installment.Status.DUE
    )
    became_overdue = _mark_overdue(on, ids)
    buckets = _refresh_buckets(on, ids)
    return {
        "loans": len(ids),
        "chunks": 1,
        "became_due": became_due,
        "became_overdue": became_overdue,
        "buckets": buckets,
        "penalty_fen": _charge_penalty(on, ids),
        "accrued_interest_exact": _accrued_interest(on, ids),
        "reminders": _remind(on, ids),
        "withholdings": _withhold(on, ids),
    }


def _withhold(on: date, ids: list[uuid.UUID]) -> int:
    """Ask the cashier to debit what is due on ``on`` from the bound cards of these loans (after the penalty, so
    the amount is what the borrower owes today); it opens the intents now and sends the debits after commit."""
    rows = (Loan.objects.filter(pk__in=ids).exclude(debit_agreement_no="")
            .filter(installments__status__in=(Installment.Status.DUE, Installment.Status.OVERDUE), installments__due_date__lte=on)
            .order_by("pk").values_list("pk", "debit_agreement_no").distinct())
    requests = [payables.WithholdingRequest(kind=REPAYMENT_KIND, ref=ref_for(pk, withhold_on=on), agreement_no=agreement)
                for pk, agreement in rows]
    return payables.cashier().withhold(requests, actor=WITHHOLD_ACTOR) if requests else 0


def _mark_overdue(on: date, ids: list[uuid.UUID]) -> int:
    late = Installment.objects.filter(loan_id__in=ids, status=Installment.Status.DUE, due_date__lt=on)
    rows = list(
        late.values_list(
            "id",
            "loan_id",
            "loan__customer_id",
            "period",
            "due_date",
            "principal_fen",
            "paid_principal_fen",
            "interest_fen",
            "paid_interest_fen",
            "fee_fen",
            "paid_fee_fen",
        )
    )
    late.update(status=Installment.Status.OVERDUE)
    for iid, loan_id, customer, period, due, p, pp, i, pi, f, pf in rows:
        events.publish(
            "finance.installment.overdue",
            f"finance:loan:{loan_id}",
            {
                "installment_id": str(iid),
                "loan_id": str(loan_id),
                "customer_user_id": str(customer),
                "period": period,
                "due_date": due.isoformat(),
                "days_past_due": (on - due).days,
                "owed_fen": p - pp + i - pi + f - pf,
            },
        )
    return len(rows)


def _charge_penalty(on: date, ids: list[uuid.UUID]) -> int:
    """One day of penalty interest per overdue instalment past its grace days, once per instalment and day."""
    total = 0
    groups = (
        Loan.objects.filter(pk__in=ids).exclude(bucket="current").order_by().values_list("penalty_rate", "product__grace_days").distinct()
    )
    for rate, grace in groups:
        num, den = Decimal(rate).as_integer_ratio()
        if not num:
            continue
        overdue_principal = F("principal_fen") - F("paid_principal_fen")
        daily = ExpressionWrapper((overdue_principal * (2 * num) + 360 * den) / (720 * den), output_field=BigIntegerField())
        qs = Installment.objects.filter(
            Q(loan_id__in=ids),
            Q(penalty_through__isnull=True) | Q(penalty_through__lt=on),
            status=Installment.Status.OVERDUE,
            loan__penalty_rate=rate,
            loan__product__grace_days=grace,
            due_date__lt=on - timedelta(days=grace),
            principal_fen__gt=F("paid_principal_fen"),
        )
        total += qs.aggregate(day=Sum(daily))["day"] or 0
        qs.update(penalty_fen=F("penalty_fen") + daily, penalty_through=on)
    return total


def _refresh_buckets(on: date, ids: list[uuid.UUID]) -> dict[str, int]:
    loans = Loan.objects.filter(pk__in=ids)
    out = {"current": loans.filter(Q(oldest_unpaid_due__isnull=True) | Q(oldest_unpaid_due__gte=on)).update(bucket="current")}
    for name, low, high in BUCKETS:
        window = Q(oldest_unpaid_due__lte=on - timedelta(days=low))
        if high is not None:
            window &= Q(oldest_unpaid_due__gte=on - timedelta(days=high))
        out[name] = loans.filter(window).update(bucket=name)
    return out


def _accrued_interest(on: date, ids: list[uuid.UUID]) -> Decimal:
    """Interest these loans earned on ``on``: each running period's interest spread over its days (unrounded)."""
    total = Decimal(0)
    rows = Installment.objects.filter(
        loan_id__in=ids, status=Installment.Status.PENDING, due_date__gt=on, due_date__lte=on + timedelta(days=31)
    ).values_list("interest_fen", "due_date")
    for interest, due in rows:
        start = add_months(due, -1)
        if start <= on:
            total += Decimal(interest) / (due - start).days
    return total


def _remind(on: date, ids: list[uuid.UUID]) -> int:
    sent = 0
    for offset, kind, zh, en in REMINDERS:
        due = on - timedelta(days=offset)
        rows = Installment.objects.filter(loan_id__in=ids, status__in=OPEN, due_date=due).values_list(
            "id",
            "loan__customer_id",
            "principal_fen",
            "paid_principal_fen",
            "interest_fen",
            "paid_interest_fen",
            "fee_fen",
            "paid_fee_fen",
            "penalty_fen",
            "paid_penalty_fen",
        )
        for iid, customer, *amounts in rows:
            owed = sum(amounts[0::2]) - sum(amounts[1::2])
            if owed <= 0:
                continue
            text = {"due": due.isoformat(), "amount": yuan_str(owed)}
            if notifications.notify(f"user:{customer}", "sms", f"finance:installment:{iid}:{kind}", zh.format(**text), en.format(**text)):
                sent += 1
    return sent
