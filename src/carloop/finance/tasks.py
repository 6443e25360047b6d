"""Background tasks: the daily close of business (registered with core.periodic: daily at 00:30 Asia/Shanghai)."""

from __future__ import annotations

from datetime import date
from typing import Any

from django_tasks import task

from carloop.core.timeutil import business_date
from carloop.finance import cob


@task()
def run_cob(day: str = "") -> dict[str, Any]:
    """COB for ``day`` (ISO date; default: today's business date in Asia/Shanghai)."""
    return cob.run(date.fromisoformat(day) if day else business_date())
