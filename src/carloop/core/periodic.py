"""Periodic tasks: apps register them in ``AppConfig.ready``; ``carloop scheduler`` enqueues each one once per slot.

A slot is a business date in Asia/Shanghai for daily tasks (due from ``at`` local time; the task gets ``day=`` that
date) or a UTC interval for ``every`` tasks. The slot is claimed with a row lock in the same transaction that
enqueues the task (the database task backend), so several schedulers never enqueue a slot twice, and a scheduler
that was down catches up with the current slot (daily tasks such as COB catch up missed dates themselves).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from django.db import transaction
from django.utils import timezone

from carloop.core.timeutil import SHANGHAI


@dataclass(frozen=True)
class Periodic:
    name: str
    task: object  # a django-tasks Task
    at: time | None = None  # daily at this Asia/Shanghai time
    every: timedelta | None = None

    def slot(self, now: datetime) -> str | None:
        """The slot due at ``now``, or None when a daily task's time has not come yet today."""
        if self.every is not None:
            step = int(self.every.total_seconds())
            start = int(now.timestamp()) // step * step
            return datetime.fromtimestamp(start, tz=UTC).isoformat()
        local = now.astimezone(SHANGHAI)
        if self.at is None or local.time() < self.at:
            return None
        return local.date().isoformat()


_periodic: dict[str, Periodic] = {}


def register(item: Periodic) -> None:
    if (item.at is None) == (item.every is None):
        raise ValueError(f"{item.name}: give exactly one of at= or every=")
    _periodic[item.name] = item


def registered() -> list[Periodic]:
    return sorted(_periodic.values(), key=lambda p: p.name)


def enqueue_due(now: datetime | None = None) -> list[str]:
    """Enqueue every periodic task whose current slot has not been enqueued; returns ``name@slot`` for each."""
    from carloop.core.models import ScheduledRun

    now = now or timezone.now()
    done: list[str] = []
    for item in registered():
        slot = item.slot(now)
        if slot is None:
            continue
        with transaction.atomic():
            ScheduledRun.objects.get_or_create(name=item.name, defaults={"last_slot": "", "enqueued_at": now})
            run = ScheduledRun.objects.select_for_update().get(name=item.name)
            if run.last_slot >= slot:
                continue
            run.last_slot, run.enqueued_at = slot, now
            run.save(update_fields=["last_slot", "enqueued_at"])
            kwargs = {"day": slot} if item.at is not None else {}
            item.task.enqueue(**kwargs)  # type: ignore[attr-defined]
            done.append(f"{item.name}@{slot}")
    return done
