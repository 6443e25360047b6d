"""Credit-line helpers: open a line for a customer, and check out a test bill with it at the cashier."""

from __future__ import annotations

from datetime import date

from carloop.core.authz import Subject
from carloop.finance import credit_line
from carloop.finance.models import CreditLine
from carloop.payments import services as payments
from carloop.payments.models import PaymentIntent
from carloop.payments.services import TenderRequest
from tests.payments.conftest import KIND, Bills

OPENED_ON = date(2026, 3, 5)


def open_line(subject: Subject, limit_fen: int = 2_000_000) -> CreditLine:
    app = credit_line.apply(subject, requested_limit_fen=limit_fen, consent=True, on=OPENED_ON)
    return CreditLine.objects.get(application=app)


def checkout(bills: Bills, subject: Subject, amount_fen: int, instrument: str = "") -> PaymentIntent:
    """A bill of ``amount_fen`` paid in full with the credit line."""
    bill = bills.add(subject.user_id, amount_fen)
    intent = payments.create_intent(kind=KIND, ref=bill.ref, subject=subject, actor=subject.ref)
    return payments.confirm(intent_id=intent.pk, subject=subject, method="simulator", actor=subject.ref,
                            tenders=[TenderRequest(credit_line.TENDER, amount_fen, instrument)])


def available(line: CreditLine) -> int:
    return credit_line.summary(line).available_fen
