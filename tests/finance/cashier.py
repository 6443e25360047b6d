"""Repayments the way borrowers make them: at the cashier (the simulator's page and its signed notification), on a
chosen business date; and money already in ``repayments_received`` for tests of the booking itself."""

from __future__ import annotations

import uuid
from datetime import date

from carloop.core.authz import Subject
from carloop.finance import ledger_accounts as accounts
from carloop.finance import services
from carloop.finance.models import Repayment
from carloop.ledger import services as ledger
from carloop.payments.models import IntentState
from carloop.payments.simulator import pay_in_full


def repay(subject: Subject, loan_id: uuid.UUID, *, amount_fen: int | None = None, on: date, option: str = "",
          payoff: bool = False) -> Repayment:
    """The borrower pays ``amount_fen`` (what is due when None) at the cashier on ``on``; returns the repayment it
    booked. A Problem when the cashier refuses it (the amount does not fit)."""
    ref = services.ref_for(loan_id, amount_fen=amount_fen, option=option, payoff=payoff)
    with services.as_of(on):
        intent = pay_in_full(kind=services.REPAYMENT_KIND, ref=ref, subject=subject)
    assert intent.state == IntentState.SUCCEEDED, (intent.state, intent.failure)
    return Repayment.objects.select_related("loan").get(key=f"payments:intent:{intent.pk}")


def receive(amount_fen: int) -> None:
    """Money the cashier booked into finance's repayments received (for tests that call ``book_repayment``)."""
    ledger.transfer(id=f"test:received:{uuid.uuid4()}", debit=ledger.system_account("external").id,
                    credit=accounts.received().id, amount_fen=amount_fen, code=6001, memo="test: cashier receipts")
