"""Background jobs of the cashier (registered with core.periodic): expire unpaid intents every minute, ask the
providers about orders, refunds and payouts whose notification never came every five minutes, reconcile yesterday against the
simulator's statement daily at 10:00 Asia/Shanghai, run merchant settlement daily at 02:00."""

from __future__ import annotations

from datetime import date

from django_tasks import task

from carloop.core.timeutil import business_date
from carloop.payments import payouts, services, settlement


@task()
def expire_intents() -> int:
    return services.expire_due()


@task()
def recover_notifications() -> dict[str, int]:
    return {"payments": services.recover_missing_notifications(), "refunds": services.retry_pending_refunds(),
            "payouts": payouts.recover()}


@task()
def reconcile_yesterday(day: str = "") -> dict[str, int]:
    from carloop.payments import reconcile
    from carloop.payments.simulator import SIMULATOR

    today = date.fromisoformat(day) if day else business_date()
    yesterday = date.fromordinal(today.toordinal() - 1)
    run = reconcile.reconcile(provider="simulator", day=yesterday, statement=SIMULATOR.statement(yesterday),
                              actor="system:reconcile")
    return {"matched": run.matched, "missing": run.missing, "extra": run.extra, "mismatched": run.mismatched}


@task()
def settle_merchants(day: str = "") -> int:
    run_date = date.fromisoformat(day) if day else business_date()
    return len(settlement.settle_all(run_date=run_date, actor="system:settlement"))
