"""``carloop payments reconcile --date YYYY-MM-DD [--provider simulator] [--statement FILE]``: daily
reconciliation against the provider's statement (the simulator writes its own when no file is given)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from carloop.core.errors import Problem
from carloop.core.money import yuan_str
from carloop.core.timeutil import business_date


class Command(BaseCommand):
    help = "The cashier: reconcile a day against the payment provider's statement."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        rec = sub.add_parser("reconcile", help="match the provider's statement for a day against our books")
        rec.add_argument("--date", help="business date YYYY-MM-DD (default: yesterday, Asia/Shanghai)")
        rec.add_argument("--provider", default="simulator")
        rec.add_argument("--statement", help="the provider's statement CSV (default: the simulator writes it)")
        rec.add_argument("--json", action="store_true", help="print the run as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        from carloop.payments import reconcile
        from carloop.payments.simulator import SIMULATOR

        try:
            day = date.fromisoformat(options["date"]) if options["date"] else date.fromordinal(business_date().toordinal() - 1)
        except ValueError:
            raise CommandError("--date must be YYYY-MM-DD / 日期格式须为 YYYY-MM-DD", returncode=2) from None
        if options["statement"]:
            text = Path(options["statement"]).read_text(encoding="utf-8")
        elif options["provider"] == "simulator":
            text = SIMULATOR.statement(day)
            path = Path(settings.VAR_DIR) / "statements" / f"simulator-{day.isoformat()}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        else:
            raise CommandError("--statement is required for this provider", returncode=2)
        try:
            run = reconcile.reconcile(provider=options["provider"], day=day, statement=text, actor="system:reconcile")
        except (ValueError, Problem) as exc:
            raise CommandError(f"bad statement: {exc}", returncode=2) from None
        summary = {"day": day.isoformat(), "provider": run.provider, "matched": run.matched, "missing": run.missing,
                   "extra": run.extra, "mismatched": run.mismatched, "ours": yuan_str(run.ours_fen),
                   "theirs": yuan_str(run.theirs_fen), "fees": yuan_str(run.fees_fen), "rows": run.rows}
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False, indent=2))
            return
        self.stdout.write(f"{day} {run.provider}: matched {run.matched}, missing {run.missing}, extra {run.extra}, "
                          f"mismatched {run.mismatched}; ours {summary['ours']}, theirs {summary['theirs']}, "
                          f"fees booked {summary['fees']}")
        for row in run.rows:
            self.stdout.write(f"  {row['status']:<10} {row['kind']:<7} {row['key']}  ours={row['ours']} theirs={row['theirs']}")
