from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from carloop.core import notifications
from carloop.core.discovery import app_modules
from carloop.core.seeding import SCALES, SeedContext, login_table


class Command(BaseCommand):
    help = "Load demo data (idempotent): every app's seed module in layer order."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(SCALES), default="demo")
        parser.add_argument("--only", nargs="*", help="app labels to seed (default: all)")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, scale: str, only: list[str] | None, quiet: bool, **options: Any) -> None:
        self.stdout.ending = ""  # progress bars redraw their line with \r; every line below ends itself
        ctx = SeedContext(scale=scale, stdout=self.stdout, quiet=quiet)  # type: ignore[arg-type]
        # Reminders the seeded history sends go to files, not between the progress lines.
        with notifications.console_to_files() as sent:
            for label, module in app_modules("seed"):
                if only and label not in only:
                    continue
                started = time.perf_counter()
                ctx.reseed(label)
                ctx.say(f"seeding {label} …")
                with transaction.atomic():
                    module.seed(ctx)
                ctx.say(f"seeded {label} in {time.perf_counter() - started:.1f}s")
            ctx.finish()
        if sent.count:
            ctx.say(f"\n{sent.count} SMS/push messages sent while seeding: {', '.join(sent.files)} "
                    "(each owner also reads theirs at /me/inbox/)")
        if ctx.logins:
            self.stdout.write("\n" + login_table(ctx.logins))
