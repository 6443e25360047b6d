import pytest
from django.db import transaction

from carloop.core import events
from carloop.core.models import Event

seen: list[str] = []


def _record(event: events.DomainEvent) -> None:
    seen.append(event.subject)


def _explode(event: events.DomainEvent) -> None:
    raise RuntimeError("subscriber bug")


@pytest.fixture(autouse=True)
def _subscribers():
    seen.clear()
    before = list(events._subscriptions)
    events.subscribe("test.thing.*", _record)
    yield
    events._subscriptions[:] = before


@pytest.mark.django_db(transaction=True)
def test_subscribers_run_after_commit_only() -> None:
    with transaction.atomic():
        events.publish("test.thing.created", "thing:1", {"n": 1}, actor="user:x")
        assert seen == []
    assert seen == ["thing:1"]
    row = Event.objects.get()
    assert row.delivered_at is not None and row.actor == "user:x" and row.payload == {"n": 1}


@pytest.mark.django_db(transaction=True)
def test_rolled_back_events_are_never_delivered() -> None:
    with pytest.raises(ZeroDivisionError), transaction.atomic():
        events.publish("test.thing.created", "thing:2")
        _ = 1 / 0
    assert seen == [] and not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_failing_subscriber_keeps_event_pending_and_replay_delivers() -> None:
    events.subscribe("test.thing.*", _explode)
    event = events.publish("test.thing.updated", "thing:3")
    row = Event.objects.get(pk=event.id)
    assert row.delivered_at is None and "subscriber bug" in row.last_error and seen == ["thing:3"]
    events._subscriptions[:] = [s for s in events._subscriptions if s.handler is not _explode]
    assert events.replay(event.id) is True
    assert Event.objects.get(pk=event.id).delivered_at is not None
    assert seen == ["thing:3", "thing:3"]


@pytest.mark.django_db(transaction=True)
def test_background_subscribers_run_as_tasks() -> None:
    events._subscriptions[:] = [s for s in events._subscriptions if s.handler is not _record]
    events.subscribe("test.thing.*", _record, background=True)
    events.publish("test.thing.created", "thing:4")
    assert seen == ["thing:4"]  # the test settings run tasks immediately


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_delivery_commits_asynchronously_only_in_its_own_transaction() -> None:
    from django.db import connection

    settings: list[str] = []

    def _setting(event: events.DomainEvent) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            settings.append(cursor.fetchone()[0])

    events.subscribe("test.sync.*", _setting)
    try:
        event = events.publish("test.sync.created", "thing:5")  # delivered in a transaction of its own
        with transaction.atomic():  # a caller's transaction keeps its durable commit
            events.replay(event.id)
    finally:
        events._subscriptions[:] = [s for s in events._subscriptions if s.handler is not _setting]
    assert settings == ["off", "on"]
    assert Event.objects.get(pk=event.id).attempts == 2
