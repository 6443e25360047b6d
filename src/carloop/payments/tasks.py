"""Background jobs of the cashier (registered with core.schedule): expire unpaid intents every minute, ask the
providers about orders whose notification never came every five minutes."""

from __future__ import annotations

from django_tasks import task

from carloop.payments import services


@task()
def expire_intents() -> int:
    return services.expire_due()


@task()
def recover_notifications() -> dict[str, int]:
    return {"payments": services.recover_missing_notifications(), "refunds": services.retry_pending_refunds()}
