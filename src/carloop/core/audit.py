"""Audit trail: append-only record of who did what to money-relevant objects."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from carloop.core import authz
from carloop.core.models import AuditEntry


def record(actor: str, action: str, object_type: str, object_id: object, data: dict[str, Any] | None = None) -> None:
    AuditEntry.objects.create(actor=actor, action=action, object_type=object_type, object_id=str(object_id), data=data or {})


def record_many(actor: str, action: str, object_type: str, entries: list[tuple[object, dict[str, Any]]]) -> None:
    """One entry per (object id, data), written in one statement (a batch of intents opened together)."""
    AuditEntry.objects.bulk_create([AuditEntry(actor=actor, action=action, object_type=object_type, object_id=str(oid),
                                               data=data) for oid, data in entries])


def history(object_type: str, object_id: object) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(object_type=object_type, object_id=str(object_id)).order_by("at"))


def readable_by(subject: authz.Subject) -> QuerySet[AuditEntry]:
    """The audit trail is for platform operators: anyone else is 403 (401 when anonymous)."""
    subject.require_role(*authz.OPERATOR_ROLES)
    return AuditEntry.objects.all()
