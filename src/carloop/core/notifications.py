"""SMS/push notifications through an outbox; the configured backend delivers (console or file for the demo)."""

from __future__ import annotations

import json
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from carloop.core.models import Notification


def notify(recipient: str, channel: str, dedupe_key: str, zh: str, en: str) -> bool:
    """Queue a message once per ``dedupe_key``; returns False when it was already queued."""
    try:
        with transaction.atomic():
            Notification.objects.create(recipient=recipient, channel=channel, dedupe_key=dedupe_key, text_zh=zh, text_en=en)
    except IntegrityError:
        return False
    return True


def send_pending(limit: int = 10_000) -> int:
    """Deliver queued messages with the configured backend and mark them sent."""
    pending = list(Notification.objects.filter(sent_at__isnull=True).order_by("created_at")[:limit])
    backend = settings.NOTIFICATION_BACKEND
    for message in pending:
        line = json.dumps({"to": message.recipient, "channel": message.channel, "zh": message.text_zh, "en": message.text_en}, ensure_ascii=False)
        if backend == "file":
            directory = Path(settings.NOTIFICATION_DIR)
            directory.mkdir(parents=True, exist_ok=True)
            with (directory / f"{message.channel}.jsonl").open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
        elif backend == "console":
            print(f"[{message.channel}] {line}")  # noqa: T201 - the console backend's job is to print
    Notification.objects.filter(pk__in=[m.pk for m in pending]).update(sent_at=timezone.now())
    return len(pending)
