"""Domain events with a transactional outbox.

``publish`` writes the event inside the caller's transaction; after commit it is handed to the in-process
subscribers (``subscribe``) and, for subscribers registered with ``background=True``, to a task. A subscriber
failure never breaks the publisher: the event stays undelivered with its error and ``carloop events
redeliver`` (or the worker) retries it. ``replay`` re-delivers a stored event by id. An event no subscriber
matches is stored as delivered, without a delivery round.

A delivery's commit waits for its WAL flush (PostgreSQL's ``synchronous_commit``) unless every in-process
subscriber of the event was registered with ``relaxed_commit=True``: an explicit promise that it moves no money
and writes nothing a customer was promised, so that losing its writes in a crash (the event then reads as
undelivered and is delivered again) harms nobody.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from carloop.core import authz
from carloop.core.models import Event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DomainEvent:
    id: uuid.UUID
    type: str
    subject: str
    actor: str
    occurred_at: datetime
    payload: dict[str, Any]


Handler = Callable[[DomainEvent], None]


@dataclass(frozen=True)
class _Subscription:
    pattern: str
    handler: Handler
    background: bool
    relaxed_commit: bool


_subscriptions: list[_Subscription] = []


def readable_by(subject: authz.Subject) -> QuerySet[Event]:
    """The event log, newest first, is for platform operators: anyone else is 403 (401 when anonymous)."""
    subject.require_role(*authz.OPERATOR_ROLES)
    return Event.objects.order_by("-id")


def subscribe(pattern: str, handler: Handler, *, background: bool = False, relaxed_commit: bool = False) -> None:
    """Register ``handler`` for event types matching ``pattern`` (shell-style, e.g. ``"finance.*"``).

    ``relaxed_commit=True`` only for a handler that moves no money and writes nothing a customer was promised
    (derived data such as feature-store facts): its delivery may then commit without waiting for the WAL flush.
    """
    sub = _Subscription(pattern, handler, background, relaxed_commit)
    if sub not in _subscriptions:
        _subscriptions.append(sub)


def relaxed_commit(event_type: str) -> bool:
    """Whether delivering ``event_type`` may commit asynchronously: every in-process subscriber opted in."""
    return all(s.relaxed_commit for s in _matching(event_type) if not s.background)


def handler_path(handler: Handler) -> str:
    return f"{handler.__module__}.{handler.__qualname__}"


def publish(type: str, subject: str, payload: dict[str, Any] | None = None, *, actor: str = "system") -> DomainEvent:  # noqa: A002
    """Record an event in the current transaction; subscribers see it after commit.

    An event that no subscriber matches is stored as delivered: it has nobody to be handed to, so it costs no
    delivery round (no second transaction after the caller's commit). ``replay`` still hands it to whoever
    subscribes later.
    """
    occurred_at = timezone.now()
    subscribed = bool(_matching(type))
    # The payload as the database returns it (a JSON round trip): delivery uses this row without reading it back.
    row = Event.objects.create(
        type=type, subject=subject, actor=actor, occurred_at=occurred_at, payload=json.loads(json.dumps(payload or {})),
        delivered_at=None if subscribed else occurred_at,
    )  # fmt: skip
    if subscribed:
        transaction.on_commit(lambda: _deliver(row))
    return _to_domain(row)


def _to_domain(row: Event) -> DomainEvent:
    return DomainEvent(row.id, row.type, row.subject, row.actor, row.occurred_at, row.payload)


def _matching(event_type: str) -> list[_Subscription]:
    return [s for s in _subscriptions if fnmatch.fnmatchcase(event_type, s.pattern)]


def run_handler(event: DomainEvent, path: str) -> None:
    """Run one subscriber (by its dotted path) for ``event``: used by the background task."""
    for sub in _matching(event.type):
        if handler_path(sub.handler) == path:
            sub.handler(event)


def deliver(event_id: uuid.UUID) -> bool:
    """Deliver a stored event to its subscribers; returns whether every in-process subscriber succeeded."""
    return _deliver(Event.objects.get(pk=event_id))


def _deliver(row: Event) -> bool:
    from carloop.core.tasks import deliver_event_to  # local: tasks import this module

    event = _to_domain(row)
    errors: list[str] = []
    subscriptions = _matching(event.type)
    # The in-process subscribers (each in its own savepoint) and the delivery mark commit together: one commit.
    in_callers_transaction = connection.in_atomic_block
    with transaction.atomic():
        if not in_callers_transaction and connection.vendor == "postgresql" and relaxed_commit(event.type):
            # Every subscriber opted in, so this commit need not wait for its WAL flush: lost in a crash, it would
            # lose their writes and the delivery mark together, and the event, still undelivered, is delivered
            # again (subscribers are idempotent). Only when this is the whole transaction, never a caller's.
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        for sub in subscriptions:
            if sub.background:
                continue
            try:
                with transaction.atomic():
                    sub.handler(event)
            except Exception as exc:  # a subscriber bug must not break the publisher's request
                log.exception("subscriber %s failed for event %s", handler_path(sub.handler), event.id)
                errors.append(f"{handler_path(sub.handler)}: {exc!r}")
        Event.objects.filter(pk=row.pk).update(
            attempts=F("attempts") + 1,
            delivered_at=None if errors else timezone.now(),
            last_error="\n".join(errors),
        )
    for sub in subscriptions:
        if sub.background:
            deliver_event_to.enqueue(str(event.id), handler_path(sub.handler))
    return not errors


def replay(event_id: uuid.UUID) -> bool:
    """Deliver a stored event again (subscribers must be idempotent)."""
    return deliver(event_id)


def redeliver_pending(limit: int = 1000) -> int:
    """Retry events whose delivery failed or never ran (e.g. the process died after commit)."""
    ids = list(Event.objects.filter(delivered_at__isnull=True).order_by("id").values_list("id", flat=True)[:limit])
    return sum(1 for event_id in ids if deliver(event_id))
