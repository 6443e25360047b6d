"""Operator read API for the shared kernel: the domain-event log and the audit trail."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Query, Router, Schema

from carloop.core import audit, authz, events
from carloop.core.pagination import Page

router = Router(tags=["core"])


class EventOut(Schema):
    id: uuid.UUID
    type: str
    subject: str
    actor: str
    occurred_at: datetime
    payload: dict[str, Any]
    delivered: bool


class AuditOut(Schema):
    id: uuid.UUID
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    data: dict[str, Any]


@router.get("/events", response=list[EventOut], summary="Domain events, newest first (operators)")
def list_events(request: HttpRequest, page: Query[Page], type_prefix: str = "", subject: str = "",
                before: uuid.UUID | None = None) -> list[EventOut]:
    rows = events.readable_by(authz.request_subject(request))
    if type_prefix:
        rows = rows.filter(type__startswith=type_prefix)
    if subject:
        rows = rows.filter(subject=subject)
    if before:
        rows = rows.filter(id__lt=before)
    return [
        EventOut(id=e.id, type=e.type, subject=e.subject, actor=e.actor, occurred_at=e.occurred_at, payload=e.payload,
                 delivered=e.delivered_at is not None)
        for e in page.slice(rows)
    ]


@router.get("/audit", response=list[AuditOut], summary="Audit trail of one object (operators)")
def audit_trail(request: HttpRequest, object_type: str, object_id: str) -> list[AuditOut]:
    rows = (audit.readable_by(authz.request_subject(request)).filter(object_type=object_type, object_id=object_id)
            .order_by("at")[:1000])
    return [AuditOut(id=a.id, at=a.at, actor=a.actor, action=a.action, object_type=a.object_type, object_id=a.object_id, data=a.data)
            for a in rows]
