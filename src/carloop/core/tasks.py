"""Background tasks of the shared kernel."""

from __future__ import annotations

import uuid

from django_tasks import task

from carloop.core import events
from carloop.core.models import Event


@task()
def deliver_event_to(event_id: str, handler: str) -> None:
    row = Event.objects.get(pk=uuid.UUID(event_id))
    events.run_handler(events.DomainEvent(row.id, row.type, row.subject, row.actor, row.occurred_at, row.payload), handler)


@task()
def redeliver_pending_events() -> int:
    return events.redeliver_pending()
