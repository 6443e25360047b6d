"""Time: stored in UTC, business dates in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from django.utils import timezone

SHANGHAI = ZoneInfo("Asia/Shanghai")


def now() -> datetime:
    return timezone.now()


def business_date(at: datetime | None = None) -> date:
    """The Asia/Shanghai calendar date of ``at`` (default: now)."""
    return (at or timezone.now()).astimezone(SHANGHAI).date()


def start_of_business_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
