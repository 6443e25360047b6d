"""``carloop vin decode VIN [--json]``: validate and decode a VIN; exit status 1 when it is invalid."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from carloop.vehicles.vin import decode_vin


class Command(BaseCommand):
    help = "Decode a VIN (GB 16735 / ISO 3779): carloop vin decode VIN [--json]"

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        decode = sub.add_parser("decode", help="Validate and decode one VIN")
        decode.add_argument("vin")
        decode.add_argument("--json", action="store_true", help="Print the result as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        report = decode_vin(options["vin"])
        data = report.as_dict()
        if options["json"]:
            self.stdout.write(json.dumps(data, ensure_ascii=False))
        else:
            for key in ("vin", "valid", "check_digit_ok", "wmi", "manufacturer", "country", "model_year"):
                self.stdout.write(f"{key:15} {data[key]}")
            for issue in report.errors:
                self.stdout.write(f"{issue.severity:15} {issue.code}: {issue.en} / {issue.zh}")
        if not report.valid:
            raise SystemExit(1)
