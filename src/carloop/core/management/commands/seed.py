from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from carloop.core.discovery import app_modules
from carloop.core.seeding import SCALES, SeedContext


class Command(BaseCommand):
    help = "Load demo data (idempotent): every app's seed module in layer order."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--scale", choices=sorted(SCALES), default="demo")
        parser.add_argument("--only", nargs="*", help="app labels to seed (default: all)")
        parser.add_argument("--quiet", action="store_true")

    def handle(self, *args: Any, scale: str, only: list[str] | None, quiet: bool, **options: Any) -> None:
        ctx = SeedContext(scale=scale, stdout=self.stdout, quiet=quiet)  # type: ignore[arg-type]
        for label, module in app_modules("seed"):
            if only and label not in only:
                continue
            started = time.perf_counter()
            ctx.reseed(label)
            ctx.say(f"seeding {label} …")
            with transaction.atomic():
                module.seed(ctx)
            ctx.say(f"seeded {label} in {time.perf_counter() - started:.1f}s")
        if ctx.logins:
            self.stdout.write("\nDemo logins (password shown once per role):")
            width = max(len(role) for role, _, _ in ctx.logins)
            for role, username, password in ctx.logins:
                self.stdout.write(f"  {role:<{width}}  {username:<22} {password}")
