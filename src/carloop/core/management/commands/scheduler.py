from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import close_old_connections

from carloop.core import periodic


class Command(BaseCommand):
    help = "Enqueue periodic tasks when due (run next to `carloop worker`, or with --once from cron)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--once", action="store_true", help="check once and exit")
        parser.add_argument("--interval", type=int, default=30, help="seconds between checks (default 30)")
        parser.add_argument("--list", action="store_true", help="list the periodic tasks and exit")

    def handle(self, *args: Any, once: bool, interval: int, list: bool, **options: Any) -> None:  # noqa: A002
        if list:
            for item in periodic.registered():
                when = f"daily at {item.at:%H:%M} Asia/Shanghai" if item.at else f"every {item.every}"
                self.stdout.write(f"{item.name:<40} {when}")
            return
        while True:
            close_old_connections()  # each check is a unit of work: drop a connection that broke or expired
            for done in periodic.enqueue_due():
                self.stdout.write(f"enqueued {done}")
            if once:
                return
            time.sleep(max(1, interval))
