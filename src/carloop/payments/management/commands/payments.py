"""``carloop payments reconcile --date YYYY-MM-DD [--provider simulator] [--statement FILE]``: daily
reconciliation against the provider's statement (the simulator writes its own when no file is given).
``carloop payments settle [--date YYYY-MM-DD]``: the settlement run of every merchant with a contract.
``carloop payments payouts prepare --user NAME`` / ``approve BATCH --user NAME`` / ``recover``: payout batches
(four-eyes: a second finance operator approves) and the query of payouts whose result never came."""

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
        pay = sub.add_parser("payouts", help="payout batches of unpaid statements").add_subparsers(dest="step", required=True)
        prepare = pay.add_parser("prepare", help="prepare a batch of every unpaid statement owed")
        prepare.add_argument("--user", required=True, help="the finance operator preparing it (login name)")
        approve = pay.add_parser("approve", help="approve a prepared batch and pay out")
        approve.add_argument("batch", help="the batch id")
        approve.add_argument("--user", required=True, help="a finance operator other than the preparer (login name)")
        pay.add_parser("recover", help="ask the payout provider about payouts whose result never came")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "settle":
            self._settle(options["date"])
            return
        if options["action"] == "payouts":
            self._payouts(options)
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


    def _payouts(self, options: dict[str, Any]) -> None:
        from carloop.identity import selectors as identity
        from carloop.payments import payouts

        if options["step"] == "recover":
            self.stdout.write(f"payouts concluded: {payouts.recover()}")
            return
        subject = identity.subject_for_login(options["user"])
        if subject is None:
            raise CommandError(f"no such login: {options['user']} / 没有该登录名", returncode=2)
        try:
            batch = (payouts.prepare(subject) if options["step"] == "prepare"
                     else payouts.approve(subject, batch_id=options["batch"]))
        except Problem as problem:
            raise CommandError(f"{problem.slug}: {problem.en} / {problem.zh}", returncode=1) from None
        self.stdout.write(f"batch {batch.pk} {batch.state}: {yuan_str(batch.total_fen)}")
        for payout in batch.payouts.order_by("merchant_id"):
            self.stdout.write(f"  {payout.payout_no} {payout.merchant_id} {yuan_str(payout.amount_fen)} {payout.state}")


def _day(text: str | None, *, default: date) -> date:
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        raise CommandError("--date must be YYYY-MM-DD / 日期格式须为 YYYY-MM-DD", returncode=2) from None
