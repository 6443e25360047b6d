"""``carloop ledger check`` (invariants) and ``carloop ledger expire`` (void pending transfers past their timeout)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carloop.core.money import format_cny
from carloop.ledger import selectors, services


class Command(BaseCommand):
    help = "Ledger: check the double-entry invariants; void expired pending transfers."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        sub.add_parser("check", help="Σdebits = Σcredits per ledger (posted and pending); exit 1 when violated")
        sub.add_parser("expire", help="void pending transfers whose timeout passed")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "expire":
            self.stdout.write(f"voided {services.void_expired_pendings()} expired pending transfers")
            return
        totals = selectors.totals()
        ledgers = sorted({key.split(":")[0] for key in totals})
        broken = []
        for name in ledgers:
            posted = (totals[f"{name}:debits_posted"], totals[f"{name}:credits_posted"])
            pending = (totals[f"{name}:debits_pending"], totals[f"{name}:credits_pending"])
            self.stdout.write(f"{name}: posted debits {format_cny(posted[0])} credits {format_cny(posted[1])}; "
                              f"pending debits {format_cny(pending[0])} credits {format_cny(pending[1])}")
            if posted[0] != posted[1] or pending[0] != pending[1]:
                broken.append(name)
        if broken:
            raise CommandError(f"ledger invariant violated for {', '.join(broken)}")
        self.stdout.write(self.style.SUCCESS("ledger balanced"))
