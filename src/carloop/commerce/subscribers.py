"""Events commerce listens to: a balance paid by a finance loan (payments at the cashier arrive through the
payable kinds in ``commerce.payables``)."""

from __future__ import annotations

from carloop.commerce import services
from carloop.core.events import DomainEvent, subscribe

LOAN_DISBURSED = "finance.loan.disbursed"


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def on_loan_disbursed(event: DomainEvent) -> None:
    payload = event.payload
    services.record_loan_disbursed(order_ref=str(payload.get("order_ref", "")), amount_fen=int(payload.get("amount_fen", 0)),
                                   loan_ref=str(payload.get("loan_id", "")),
                                   customer_user_id=_text(payload.get("customer_user_id")), actor=event.actor)


def register() -> None:
    subscribe(LOAN_DISBURSED, on_loan_disbursed)
