"""Shared-kernel tables: the base entity, the domain-event outbox, the audit trail, idempotency records and
the notification outbox."""

from __future__ import annotations

from django.db import models

from carloop.core.i18n import lt
from carloop.core.ids import new_id


class Entity(models.Model):
    """Base for every carloop table: a UUID7 primary key (sortable, never sequential) and timestamps."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    created_at = models.DateTimeField(auto_now_add=True, db_index=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Event(models.Model):
    """A domain event, written in the publisher's transaction (outbox) and delivered after commit."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    type = models.CharField(max_length=100)
    subject = models.CharField(max_length=200, help_text="What the event is about, e.g. 'commerce:order:<uuid>'")
    actor = models.CharField(max_length=200, blank=True, help_text="Who caused it, e.g. 'user:<uuid>' or 'system'")
    occurred_at = models.DateTimeField()
    payload = models.JSONField(default=dict)
    delivered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        verbose_name = lt("领域事件", "domain event")
        verbose_name_plural = lt("领域事件", "domain events")
        indexes = [
            models.Index(fields=["type", "occurred_at"]),
            models.Index(fields=["subject"]),
            models.Index(fields=["delivered_at"], name="core_event_undelivered", condition=models.Q(delivered_at__isnull=True)),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.type} {self.subject}"


class AuditEntry(models.Model):
    """Who did what to a money-relevant object. Append-only."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    at = models.DateTimeField(auto_now_add=True)
    actor = models.CharField(max_length=200)
    action = models.CharField(max_length=100)
    object_type = models.CharField(max_length=100)
    object_id = models.CharField(max_length=100)
    data = models.JSONField(default=dict)

    class Meta:
        verbose_name = lt("审计记录", "audit entry")
        verbose_name_plural = lt("审计记录", "audit entries")
        indexes = [models.Index(fields=["object_type", "object_id", "at"]), models.Index(fields=["actor", "at"])]
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.actor} {self.action} {self.object_type}:{self.object_id}"


class IdempotencyRecord(models.Model):
    """The stored outcome of a state-changing request made with an Idempotency-Key."""

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    scope = models.CharField(max_length=200, help_text="caller and operation")
    key = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response_body = models.BinaryField()
    content_type = models.CharField(max_length=100, default="application/json")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="core_idempotency_scope_key")]


class Notification(models.Model):
    """Outbox of SMS/push messages; a backend (console, file, or a real gateway adapter) sends them."""

    class Channel(models.TextChoices):
        SMS = "sms", lt("短信", "SMS")
        PUSH = "push", lt("推送", "Push")

    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    recipient = models.CharField(max_length=200, help_text="user:<uuid> or org:<uuid>")
    dedupe_key = models.CharField(max_length=200, unique=True)
    text_zh = models.TextField()
    text_en = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = lt("通知", "notification")
        verbose_name_plural = lt("通知", "notifications")
        indexes = [models.Index(fields=["recipient", "created_at"])]


class ScheduledRun(models.Model):
    """The last slot a periodic task was enqueued for (``core.periodic``): one row per periodic task."""

    name = models.CharField(max_length=100, primary_key=True)
    last_slot = models.CharField(max_length=40, help_text="ISO date (daily) or UTC timestamp (interval)")
    enqueued_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} @ {self.last_slot}"

    class Meta:
        verbose_name = lt("定时任务运行", "scheduled run")
        verbose_name_plural = lt("定时任务运行", "scheduled runs")
