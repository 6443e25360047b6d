"""SMS/push notifications through an outbox; the configured backend delivers (console or file for the demo,
the simulator for tests), and ``send_sms_now`` sends a one-time code straight to a number."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from carloop.core import pii
from carloop.core.models import Notification


@dataclass(frozen=True)
class Delivered:
    """A message the simulator backend delivered (tests read one-time codes from it)."""

    to: str
    channel: str
    zh: str
    en: str


SIMULATOR_INBOX: list[Delivered] = []


def simulator_inbox(to: str) -> list[Delivered]:
    """What the simulator backend delivered to ``to`` (a mobile number, or ``user:<uuid>``), oldest first."""
    return [message for message in SIMULATOR_INBOX if message.to == to]


@dataclass
class FileDeliveries:
    """What went to files while ``console_to_files`` was in force."""

    count: int = 0
    paths: set[Path] = field(default_factory=set)

    @property
    def files(self) -> list[str]:
        """The files written, relative to the working directory when under it."""
        return sorted(os.path.relpath(p) if p.is_relative_to(Path.cwd()) else str(p) for p in self.paths)


_to_files: ContextVar[FileDeliveries | None] = ContextVar("carloop_notifications_to_files", default=None)


@contextmanager
def console_to_files() -> Iterator[FileDeliveries]:
    """Within the block the console backend writes files as the file backend does (a bulk job such as the demo
    seed keeps its output readable); yields the tally of what went to files."""
    tally = FileDeliveries()
    token = _to_files.set(tally)
    try:
        yield tally
    finally:
        _to_files.reset(token)


def _deliver(to: str, channel: str, zh: str, en: str) -> None:
    backend = settings.NOTIFICATION_BACKEND
    if backend == "simulator":
        SIMULATOR_INBOX.append(Delivered(to, channel, zh, en))
        return
    tally = _to_files.get()
    if backend == "file" or (backend == "console" and tally is not None):
        path = Path(settings.NOTIFICATION_DIR) / f"{channel}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"to": pii.scrub(to), "channel": channel, "zh": zh, "en": en}, ensure_ascii=False) + "\n")
        if tally is not None:
            tally.count += 1
            tally.paths.add(path)
    elif backend == "console":
        print(f"[{channel} → {pii.scrub(to)}] {zh} / {en}", flush=True)  # noqa: T201 - the console backend's job is to print


def notify(recipient: str, channel: str, dedupe_key: str, zh: str, en: str) -> bool:
    """Queue a message once per ``dedupe_key``; returns False when it was already queued."""
    try:
        with transaction.atomic():
            Notification.objects.create(recipient=recipient, channel=channel, dedupe_key=dedupe_key, text_zh=zh, text_en=en)
    except IntegrityError:
        return False
    return True


def inbox(recipient: str, limit: int = 100) -> list[Notification]:
    """What was sent to ``recipient`` (``user:<uuid>``), newest first: the owner's notifications inbox."""
    return list(Notification.objects.filter(recipient=recipient, sent_at__isnull=False).order_by("-sent_at")[:limit])


def send_pending(limit: int = 10_000) -> int:
    """Deliver queued messages with the configured backend and mark them sent."""
    pending = list(Notification.objects.filter(sent_at__isnull=True).order_by("created_at")[:limit])
    for message in pending:
        _deliver(message.recipient, message.channel, message.text_zh, message.text_en)
    Notification.objects.filter(pk__in=[m.pk for m in pending]).update(sent_at=timezone.now())
    return len(pending)


def send_sms_now(phone: str, zh: str, en: str) -> None:
    """Send an SMS to a mobile number at once, outside the outbox: a one-time code must not rest in clear in a
    table, and is useless late. The demo backends print or write the number masked (the code in clear)."""
    _deliver(phone, Notification.Channel.SMS, zh, en)
