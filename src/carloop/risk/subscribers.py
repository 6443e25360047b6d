"""Domain events → feature store facts (and observed loan outcomes for the vintage report).

Payloads are read leniently: the customer is ``customer_user_id`` (or ``user_id``), amounts are ``*_fen``.
Every handler is idempotent per event id.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from carloop.core.events import DomainEvent
from carloop.risk import services

log = logging.getLogger(__name__)

PATTERNS = [
    "commerce.order.*",
    "finance.repayment.posted",
    "finance.loan.disbursed",
    "finance.loan.settled",
    "finance.application.decided",
    "finance.application.cancelled",
    "identity.login",
    "identity.customer.registered",
    "wallet.card.spent",
    "aftersales.workorder.completed",
    "vehicles.condition_report.created",
    "vehicles.valuation.*",
]

ORDER_KINDS = {"commerce.order.created": "order", "commerce.order.refunded": "order_return", "commerce.order.cancelled": "order_return"}
BAD_DPD = 30


def _customer(payload: dict[str, Any]) -> str | None:
    for key in ("customer_user_id", "user_id", "customer_id", "owner_user_id"):
        value = payload.get(key)
        if value:
            try:
                return str(uuid.UUID(str(value)))
            except ValueError:
                return None
    return None


def _amount(payload: dict[str, Any], *keys: str) -> int | None:
    for key in keys:
        value = payload.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def _fact_for(event: DomainEvent) -> tuple[str, int | None, dict[str, Any]] | None:
    p = event.payload
    t = event.type
    if t in ORDER_KINDS:
        return ORDER_KINDS[t], _amount(p, "total_fen", "amount_fen"), {"order": p.get("order_id")}
    if t == "finance.repayment.posted":
        dpd = int(p.get("days_past_due", p.get("dpd", 0)) or 0)
        return "repayment", _amount(p, "amount_fen", "paid_fen"), {"dpd": dpd, "loan": p.get("loan_id"), "settled": bool(p.get("settled"))}
    if t == "finance.loan.disbursed":
        return (
            "disbursal",
            _amount(p, "principal_fen", "amount_fen"),
            {"loan": p.get("loan_id"), "application_ref": p.get("application_ref")},
        )
    if t == "finance.loan.settled":
        return "repayment", None, {"dpd": 0, "loan": p.get("loan_id"), "settled": True}
    if t == "finance.application.decided":
        return "application", _amount(p, "amount_fen"), {"outcome": p.get("outcome")}
    if t == "identity.login":
        return "login", None, {"device": p.get("device_id") or "", "city": p.get("city") or "", "ip": p.get("ip") or ""}
    if t == "identity.customer.registered":
        return "registered", None, {}
    if t == "wallet.card.spent":
        return "card_spend", _amount(p, "amount_fen"), {}
    if t == "aftersales.workorder.completed":
        return "service", _amount(p, "total_fen", "amount_fen"), {}
    if t.startswith("vehicles."):
        value = _amount(p, "value_fen", "valuation_fen", "mid_fen")
        return ("vehicle_value", value, {}) if value is not None else None
    return None


def on_event(event: DomainEvent) -> None:
    if event.type == "finance.application.decided":
        services.close_reviews_decided_elsewhere(event.subject, str(event.payload.get("outcome", "")), event.actor)
    elif event.type == "finance.application.cancelled":
        services.close_reviews_decided_elsewhere(event.subject, "cancelled", event.actor)
    customer = _customer(event.payload)
    if customer is None:
        return
    fact = _fact_for(event)
    if fact is None:
        return
    kind, amount, data = fact
    services.record_fact(
        customer_user_id=customer, kind=kind, occurred_at=event.occurred_at, amount_fen=amount, data=data, event_id=event.id
    )
    if kind == "repayment" and data.get("dpd", 0) >= BAD_DPD and event.payload.get("application_ref"):
        services.mark_outcome(str(event.payload["application_ref"]), True)
