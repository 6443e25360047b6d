from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta

import pytest

from carloop.core import periodic
from tests.core import periodic_tasks


@pytest.fixture
def only_test_tasks(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(periodic, "_periodic", {})
    periodic_tasks.CALLS.clear()
    yield
    periodic_tasks.CALLS.clear()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.django_db
def test_daily_task_runs_once_per_business_date_from_its_local_time(only_test_tasks: None) -> None:
    periodic.register(periodic.Periodic("t.daily", periodic_tasks.record, at=time(0, 30)))
    assert periodic.enqueue_due(at("2026-11-21T16:20:00")) == []  # 00:20 in Shanghai: not yet
    assert periodic.enqueue_due(at("2026-11-21T16:31:00")) == ["t.daily@2026-11-22"]
    assert periodic.enqueue_due(at("2026-11-21T23:59:00")) == []  # same business date
    assert periodic.enqueue_due(at("2026-11-22T16:45:00")) == ["t.daily@2026-11-23"]
    assert periodic_tasks.CALLS == ["2026-11-22", "2026-11-23"]


@pytest.mark.django_db
def test_interval_task_runs_once_per_interval(only_test_tasks: None) -> None:
    periodic.register(periodic.Periodic("t.every", periodic_tasks.record, every=timedelta(minutes=5)))
    for clock in ("10:01", "10:04", "10:05", "10:09", "10:10"):
        periodic.enqueue_due(at(f"2026-11-22T{clock}:00"))
    assert periodic_tasks.CALLS == ["tick", "tick", "tick"]


def test_a_periodic_task_needs_exactly_one_timing() -> None:
    with pytest.raises(ValueError):
        periodic.register(periodic.Periodic("t.bad", periodic_tasks.record))


def test_the_apps_schedule_their_daily_and_periodic_work() -> None:
    names = {p.name for p in periodic.registered()}
    assert {"finance.cob", "commerce.battery_cycles", "ledger.void_expired_pendings", "core.redeliver_events"} <= names
