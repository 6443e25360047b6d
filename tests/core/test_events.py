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


def _sync_setting(log: list[str]) -> events.Handler:
    def _setting(event: events.DomainEvent) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            log.append(cursor.fetchone()[0])

    return _setting


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_delivery_waits_for_its_commit_unless_every_subscriber_opted_out() -> None:
    settings: list[str] = []
    probe = _sync_setting(settings)
    before = list(events._subscriptions)
    try:
        events.subscribe("test.sync.*", probe, relaxed_commit=True)
        relaxed = events.publish("test.sync.created", "thing:5")  # delivered in a transaction of its own
        with transaction.atomic():  # a caller's transaction keeps its durable commit
            events.replay(relaxed.id)
        events.subscribe("test.sync.durable", _record)  # not opted in: it may move money
        events.publish("test.sync.durable", "thing:6")
    finally:
        events._subscriptions[:] = before
    assert settings == ["off", "on", "on"]
    assert Event.objects.get(pk=relaxed.id).attempts == 2


def test_only_subscribers_that_opted_in_allow_a_relaxed_commit() -> None:
    before = list(events._subscriptions)
    try:
        events.subscribe("test.mixed.*", _record, relaxed_commit=True)
        assert events.relaxed_commit("test.mixed.a")
        events.subscribe("test.mixed.b", _explode)
        assert events.relaxed_commit("test.mixed.a") and not events.relaxed_commit("test.mixed.b")
    finally:
        events._subscriptions[:] = before


@pytest.mark.parametrize(
    "event_type",
    [
        "commerce.order.refunded",  # finance unwinds the loan: money moves
        "finance.loan.disbursed",  # commerce moves the order on: what the customer was promised
        "risk.review.decided",  # finance makes the offer
    ],
)
def test_deliveries_that_move_money_or_keep_a_promise_commit_durably(event_type: str) -> None:
    assert events.relaxed_commit(event_type) is False


@pytest.mark.parametrize("event_type", ["identity.login", "finance.repayment.posted"])
def test_deliveries_only_to_the_feature_store_may_commit_relaxed(event_type: str) -> None:
    assert events.relaxed_commit(event_type) is True


@pytest.mark.django_db
def test_an_event_nobody_subscribes_to_is_stored_delivered_without_a_delivery_round(django_capture_on_commit_callbacks) -> None:
    with django_capture_on_commit_callbacks() as callbacks:
        event = events.publish("test.nobody.created", "thing:7", {"n": 7})
    row = Event.objects.get(pk=event.id)
    assert callbacks == [] and row.delivered_at == row.occurred_at and row.attempts == 0
    with django_capture_on_commit_callbacks() as callbacks:
        events.publish("test.thing.created", "thing:8")  # a subscribed event still waits for its delivery
    assert len(callbacks) == 1
    events.subscribe("test.nobody.*", _record)  # replay hands a stored event to whoever subscribes later
    assert events.replay(event.id) is True and seen == ["thing:7"]
