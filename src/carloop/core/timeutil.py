"""Time: stored in UTC, business dates in Asia/Shanghai."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from django.utils import timezone
from pydantic import AfterValidator, Field

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Business dates an API caller may name: wide enough for any real record, far from date.min/date.max, where
# day arithmetic and time-zone conversion overflow.
FIRST_BUSINESS_DATE = date(1900, 1, 1)
LAST_BUSINESS_DATE = date(2999, 12, 31)
BusinessDate = Annotated[date, Field(ge=FIRST_BUSINESS_DATE, le=LAST_BUSINESS_DATE)]
"""A date in an API schema or path: 1900-01-01 to 2999-12-31, anything else a 422."""


def _within_business_calendar(value: datetime) -> datetime:
    aware = value if value.tzinfo is not None else value.replace(tzinfo=SHANGHAI)
    if not FIRST_BUSINESS_DATE <= aware.date() <= LAST_BUSINESS_DATE:
        raise ValueError(f"must fall between {FIRST_BUSINESS_DATE} and {LAST_BUSINESS_DATE}")
    return aware


BusinessDateTime = Annotated[datetime, AfterValidator(_within_business_calendar)]
"""A moment in an API schema: on a business date (as :data:`BusinessDate`); without an offset it is Asia/Shanghai
time. Anything else is a 422, never an overflow when it is stored in UTC."""


def now() -> datetime:
    return timezone.now()


def business_date(at: datetime | None = None) -> date:
    """The Asia/Shanghai calendar date of ``at`` (default: now)."""
    return (at or timezone.now()).astimezone(SHANGHAI).date()


def start_of_business_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
