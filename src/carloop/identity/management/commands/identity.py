"""``carloop identity kyc-correct`` (an operator's audited identity correction) and ``kyc-retry``."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carloop.core.errors import Problem
from carloop.identity import selectors, services
from carloop.identity.models import User


class Command(BaseCommand):
    help = "Identity: correct a customer's verified identity (audited); ask the KYC provider about unanswered checks."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        correct = sub.add_parser("kyc-correct", help="replace a customer's name and ID number; the provider re-verifies")
        correct.add_argument("customer", help="the customer's username or mobile number")
        correct.add_argument("--real-name", required=True)
        correct.add_argument("--id-number", required=True)
        correct.add_argument("--reason", required=True, help="why (kept in the audit trail)")
        correct.add_argument("--operator", required=True, help="username of the operator (ops or admin) doing it")
        sub.add_parser("kyc-retry", help="ask the KYC provider again about checks it has not answered")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "kyc-retry":
            self.stdout.write(f"asked the provider about {services.retry_pending_kyc()} pending checks")
            return
        operator = selectors.subject_for_user(User.objects.filter(username=options["operator"]).first())
        customer = services.find_account(options["customer"])
        if customer is None:
            raise CommandError(f"no customer {options['customer']!r}")
        try:
            services.correct_kyc(operator, customer.pk, real_name=options["real_name"], id_number=options["id_number"],
                                 reason=options["reason"])
        except Problem as problem:
            if problem.status in (401, 403):
                raise CommandError(f"{options['operator']!r} is not an operator with the ops or admin role") from problem
            raise CommandError(problem.en) from problem
        facts = selectors.customer_facts(customer.pk)
        assert facts is not None
        self.stdout.write(f"{customer.username}: {facts.real_name} {facts.id_number_masked} — {facts.kyc_status}")
