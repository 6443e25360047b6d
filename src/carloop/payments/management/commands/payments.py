"""``carloop payments reconcile --date YYYY-MM-DD [--provider simulator] [--statement FILE]``: daily
reconciliation against the provider's statement (the simulator writes its own when no file is given).
``carloop payments settle [--date YYYY-MM-DD]``: the settlement run of every merchant with a contract."""

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
    help = "The cashier: reconcile a day against the payment provider's statement; settle merchants."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        rec = sub.add_parser("reconcile", help="match the provider's statement for a day against our books")
        rec.add_argument("--date", help="business date YYYY-MM-DD (default: yesterday, Asia/Shanghai)")
        rec.add_argument("--provider", default="simulator")
        rec.add_argument("--statement", help="the provider's statement CSV (default: the simulator writes it)")
        rec.add_argument("--json", action="store_true", help="print the run as JSON")
        settle = sub.add_parser("settle", help="settlement run of every merchant with a contract")
        settle.add_argument("--date", help="run date YYYY-MM-DD (default: today, Asia/Shanghai)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "settle":
            self._settle(options["date"])
            return
        from carloop.payments import reconcile
        from carloop.payments.simulator import SIMULATOR

        day = _day(options["date"], default=date.fromordinal(business_date().toordinal() - 1))
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

    def _settle(self, day_text: str | None) -> None:
        from carloop.payments import settlement

        for statement in settlement.settle_all(run_date=_day(day_text, default=business_date()), actor="system:cli"):
            self.stdout.write(f"{statement.merchant_id} {statement.period_start}..{statement.period_end}: "
                              f"gross {yuan_str(statement.gross_fen)}, refunds {yuan_str(statement.refunds_fen)}, "
                              f"commission {yuan_str(statement.fees_fen)}, net {yuan_str(statement.net_fen)}")


def _day(text: str | None, *, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        raise CommandError("--date must be YYYY-MM-DD / 日期格式须为 YYYY-MM-DD", returncode=2) from None
