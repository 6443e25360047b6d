"""``carloop finance quote …`` (loan calculator) and ``carloop finance cob --date …`` (daily close of business)."""

from __future__ import annotations

import json
import sys
import time
from datetime import date
from decimal import Decimal
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carloop.core.errors import Problem
from carloop.core.money import format_cny
from carloop.core.timeutil import business_date
from carloop.finance.quotes import build_quote, parse_quote_request, schedule_json


class Command(BaseCommand):
    help = "Auto finance: quote a schedule with its APR; run the daily close of business."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        quote = sub.add_parser("quote", help="repayment schedule and APR for a loan")
        quote.add_argument("--principal", required=True, help="yuan, e.g. 100000.00")
        quote.add_argument("--annual-rate", help="decimal fraction, e.g. 0.06 (0 or omitted for monthly_fee)")
        quote.add_argument("--term", required=True, help="months")
        quote.add_argument("--method", required=True, help="equal_installment | equal_principal | monthly_fee")
        quote.add_argument("--monthly-fee-rate", help="monthly fee as a fraction of the principal, e.g. 0.006")
        quote.add_argument("--start", help="disbursement date YYYY-MM-DD (default: today, Asia/Shanghai)")
        quote.add_argument("--product", help="a loan product's code: the quote is capped at its APR cap "
                                             "(default: the platform cap)")
        quote.add_argument("--json", action="store_true", help="print the quote as JSON")
        cob = sub.add_parser("cob", help="daily close of business (idempotent per date)")
        cob.add_argument("--date", help="business date YYYY-MM-DD (default: today, Asia/Shanghai)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "quote":
            self._quote(options)
        elif options["action"] == "cob":
            self._cob(options)

    def _cob(self, options: dict[str, Any]) -> None:
        from carloop.finance import cob

        try:
            day = date.fromisoformat(options["date"]) if options["date"] else business_date()
        except ValueError:
            raise CommandError("--date must be YYYY-MM-DD / 日期格式须为 YYYY-MM-DD", returncode=2) from None
        started = time.perf_counter()
        stats = cob.run(day)
        stats["seconds"] = round(time.perf_counter() - started, 3)  # float-ok: a duration
        self.stdout.write(json.dumps(stats, ensure_ascii=False, indent=2))

    def _fail(self, problem: Problem, as_json: bool) -> None:
        if as_json:
            sys.stderr.write(json.dumps(problem.as_dict("en"), ensure_ascii=False, indent=2) + "\n")
        details = "; ".join(f"{e.pointer}: {e.en} / {e.zh}" for e in problem.errors)
        raise CommandError(f"{problem.en} / {problem.zh}" + (f" ({details})" if details else ""), returncode=2)

    def _quote(self, options: dict[str, Any]) -> None:
        try:
            request = parse_quote_request(
                principal=options["principal"],
                annual_rate=options["annual_rate"],
                term=options["term"],
                method=options["method"],
                monthly_fee_rate=options["monthly_fee_rate"],
                start=options["start"],
                product=options["product"],
                today=business_date(),
            )
            schedule = build_quote(request)
        except Problem as problem:
            self._fail(problem, options["json"])
            return
        body = schedule_json(schedule)
        if options["json"]:
            self.stdout.write(json.dumps(body, ensure_ascii=False, indent=2))
            return
        out = self.stdout
        out.write(f"年化利率 APR (IRR×12): {_percent(body['apr'])}    实际年化 effective: {_percent(body['apr_effective'])}")
        out.write(f"本金 principal {format_cny(schedule.principal_fen)}  期数 term {schedule.term}  方式 method {schedule.method}")
        out.write(f"{'期':>4} {'还款日 due':<11} {'本金 principal':>15} {'利息 interest':>14} {'费用 fee':>10} "
                  f"{'月供 payment':>13} {'余额 balance':>14}")
        for row in body["schedule"]:
            out.write(f"{row['period']:>4} {row['due_date']:<11} {row['principal']:>15} {row['interest']:>14} "
                      f"{row['fee']:>10} {row['payment']:>13} {row['balance']:>14}")
        out.write(f"利息合计 total interest {body['total_interest']}  费用合计 total fees {body['total_fees']}  "
                  f"还款合计 total payment {body['total_payment']}")


def _percent(fraction: str) -> str:
    return f"{Decimal(fraction) * 100:.4f}%"
