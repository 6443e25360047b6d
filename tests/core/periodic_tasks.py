"""A task the scheduler tests enqueue (tasks must live at module level)."""

from __future__ import annotations

from django_tasks import task

CALLS: list[str] = []


@task()
def record(day: str = "") -> None:
    CALLS.append(day or "tick")
