from __future__ import annotations

import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carloop.core import events
from carloop.core.models import Event


class Command(BaseCommand):
    help = "Domain events: list recent ones, replay one by id, or redeliver undelivered ones."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        recent = sub.add_parser("list")
        recent.add_argument("--type", default="")
        recent.add_argument("--limit", type=int, default=20)
        replay = sub.add_parser("replay")
        replay.add_argument("event_id")
        sub.add_parser("redeliver")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "list":
            rows = Event.objects.order_by("-id")
            if options["type"]:
                rows = rows.filter(type__startswith=options["type"])
            for row in rows[: options["limit"]]:
                state = "delivered" if row.delivered_at else f"pending ({row.attempts} attempts)"
                self.stdout.write(f"{row.id}  {row.occurred_at:%Y-%m-%d %H:%M:%S}  {row.type:<40} {row.subject}  {state}")
        elif action == "replay":
            try:
                event_id = uuid.UUID(options["event_id"])
            except ValueError as exc:
                raise CommandError("event id must be a UUID") from exc
            if not Event.objects.filter(pk=event_id).exists():
                raise CommandError(f"no event {event_id}")
            ok = events.replay(event_id)
            self.stdout.write("delivered" if ok else "delivery failed; see the event's last_error")
            if not ok:
                raise CommandError("delivery failed")
        else:
            self.stdout.write(f"delivered {events.redeliver_pending()} events")
