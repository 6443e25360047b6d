"""Background tasks (registered with core.periodic: daily at 00:10 Asia/Shanghai)."""

from __future__ import annotations

from datetime import date

from django_tasks import task

from carloop.commerce import services
from carloop.core.timeutil import business_date


@task()
def roll_battery_cycles(day: str = "") -> int:
    """Apply battery plan changes whose next cycle has started; returns how many subscriptions changed."""
    return services.roll_battery_cycles(date.fromisoformat(day) if day else business_date())
