"""Daily close of business (COB): set-based, so it scales to the whole loan book, and idempotent per date.

For business date D it: marks instalments falling due on D, moves unpaid ones past their due date to overdue
(publishing ``finance.installment.overdue``), charges one day of penalty interest on overdue principal once
the grace days have passed (daily rate = annual / 360, never above the product's APR cap), refreshes each loan's
DPD bucket (current, 1-30, 31-60, 61-90, 90+), accrues the day's interest for reporting, and queues reminders
(3 days before, on the due date, 1 and 7 days after) through the notifications outbox. A run is recorded per
date: running the same date again changes nothing; missed dates since the last run are run first, in order.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import BigIntegerField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone

from carloop.core import events, notifications
from carloop.core.money import yuan_str
from carloop.finance.amortization import add_months
from carloop.finance.models import CobRun, Installment, Loan
from carloop.finance.services import OPEN

BUCKETS = (("1-30", 1, 30), ("31-60", 31, 60), ("61-90", 61, 90), ("90+", 91, None))
REMINDERS = ((-3, "before3", "还款提醒：您的车贷本期账单将于 {due} 到期，应还 {amount} 元。",
              "Reminder: your car loan instalment of {amount} yuan is due on {due}."),
             (0, "due", "您的车贷本期账单今日到期，应还 {amount} 元，请及时还款。",
              "Your car loan instalment of {amount} yuan is due today."),
             (1, "after1", "您的车贷账单已逾期 1 天，应还 {amount} 元，请尽快还款以免产生罚息。",
              "Your car loan instalment is 1 day overdue ({amount} yuan); please pay to avoid penalty interest."),
             (7, "after7", "您的车贷账单已逾期 7 天，应还 {amount} 元。逾期将影响您的信用记录。",
              "Your car loan instalment is 7 days overdue ({amount} yuan); overdue payments affect your credit record."))


def run(on: date) -> dict[str, Any]:
    """Run COB for ``on`` (and any missed earlier dates); returns the stats of ``on``'s run."""
    last = CobRun.objects.filter(finished_at__isnull=False, business_date__lt=on).order_by("-business_date").first()
    if last is not None:
        day = last.business_date + timedelta(days=1)
        while day < on:
            _run_one(day)
            day += timedelta(days=1)
    return _run_one(on)


def _run_one(on: date) -> dict[str, Any]:
    with transaction.atomic():
        run, _ = CobRun.objects.select_for_update().get_or_create(business_date=on)
        if run.finished_at is not None:
            return dict(run.stats, replayed=True)
        stats: dict[str, Any] = {"business_date": on.isoformat()}
        active = Q(loan__state=Loan.State.ACTIVE)
        stats["became_due"] = Installment.objects.filter(active, status=Installment.Status.PENDING, due_date__lte=on).update(
            status=Installment.Status.DUE)
        stats["became_overdue"] = _mark_overdue(on, active)
        stats["buckets"] = _refresh_buckets(on)
        stats["penalty_fen"] = _charge_penalty(on, active)
        stats["accrued_interest_fen"] = _accrued_interest(on)
        stats["reminders"] = _remind(on)
        run.stats = stats
        run.finished_at = timezone.now()
        run.save()
    notifications.send_pending()
    return stats


def _mark_overdue(on: date, active: Q) -> int:
    late = Installment.objects.filter(active, status=Installment.Status.DUE, due_date__lt=on)
    rows = list(late.values_list("id", "loan_id", "loan__customer_id", "period", "due_date", "principal_fen",
                                 "paid_principal_fen", "interest_fen", "paid_interest_fen", "fee_fen", "paid_fee_fen"))
    late.update(status=Installment.Status.OVERDUE)
    for iid, loan_id, customer, period, due, p, pp, i, pi, f, pf in rows:
        events.publish("finance.installment.overdue", f"finance:loan:{loan_id}", {
            "installment_id": str(iid), "loan_id": str(loan_id), "customer_user_id": str(customer), "period": period,
            "due_date": due.isoformat(), "days_past_due": (on - due).days, "owed_fen": p - pp + i - pi + f - pf,
        })
    return len(rows)


def _charge_penalty(on: date, active: Q) -> int:
    """One day of penalty interest per overdue instalment past its grace days, once per instalment and day."""
    total = 0
    groups = (Loan.objects.filter(state=Loan.State.ACTIVE).exclude(bucket="current")
              .order_by().values_list("penalty_rate", "product__grace_days").distinct())
    for rate, grace in groups:
        num, den = Decimal(rate).as_integer_ratio()
        if not num:
            continue
        overdue_principal = F("principal_fen") - F("paid_principal_fen")
        daily = ExpressionWrapper((overdue_principal * (2 * num) + 360 * den) / (720 * den), output_field=BigIntegerField())
        qs = Installment.objects.filter(
            active, Q(penalty_through__isnull=True) | Q(penalty_through__lt=on), status=Installment.Status.OVERDUE,
            loan__penalty_rate=rate, loan__product__grace_days=grace, due_date__lt=on - timedelta(days=grace),
            principal_fen__gt=F("paid_principal_fen"),
        )
        total += qs.aggregate(day=Sum(daily))["day"] or 0
        qs.update(penalty_fen=F("penalty_fen") + daily, penalty_through=on)
    return total


def _refresh_buckets(on: date) -> dict[str, int]:
    loans = Loan.objects.filter(state=Loan.State.ACTIVE)
    out = {"current": loans.filter(Q(oldest_unpaid_due__isnull=True) | Q(oldest_unpaid_due__gte=on)).update(bucket="current")}
    for name, low, high in BUCKETS:
        window = Q(oldest_unpaid_due__lte=on - timedelta(days=low))
        if high is not None:
            window &= Q(oldest_unpaid_due__gte=on - timedelta(days=high))
        out[name] = loans.filter(window).update(bucket=name)
    return out


def _accrued_interest(on: date) -> int:
    """Interest earned on ``on`` across the book: each running period's interest spread over its days."""
    total = Decimal(0)
    rows = Installment.objects.filter(loan__state=Loan.State.ACTIVE, status=Installment.Status.PENDING,
                                      due_date__gt=on, due_date__lte=on + timedelta(days=31)).values_list(
        "interest_fen", "due_date")
    for interest, due in rows:
        start = add_months(due, -1)
        if start <= on:
            total += Decimal(interest) / (due - start).days
    return int(total.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def _remind(on: date) -> int:
    sent = 0
    for offset, kind, zh, en in REMINDERS:
        due = on - timedelta(days=offset)
        rows = Installment.objects.filter(loan__state=Loan.State.ACTIVE, status__in=OPEN, due_date=due).values_list(
            "id", "loan__customer_id", "principal_fen", "paid_principal_fen", "interest_fen", "paid_interest_fen",
            "fee_fen", "paid_fee_fen", "penalty_fen", "paid_penalty_fen")
        for iid, customer, *amounts in rows:
            owed = sum(amounts[0::2]) - sum(amounts[1::2])
            if owed <= 0:
                continue
            text = {"due": due.isoformat(), "amount": yuan_str(owed)}
            if notifications.notify(f"user:{customer}", "sms", f"finance:installment:{iid}:{kind}",
                                    zh.format(**text), en.format(**text)):
                sent += 1
    return sent
