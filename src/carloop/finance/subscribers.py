"""Events finance listens to: a risk analyst's decision on a referred application; a refunded car order."""

from __future__ import annotations

from carloop.core.events import DomainEvent, subscribe
from carloop.finance import services

RISK_REVIEW_DECIDED = "risk.review.decided"
ORDER_REFUNDED = "commerce.order.refunded"


def on_risk_review_decided(event: DomainEvent) -> None:
    payload = event.payload
    amount = payload.get("approved_amount_fen")
    services.apply_risk_review(str(payload.get("application_ref", "")), str(payload.get("outcome", "")),
                               int(amount) if amount is not None else None, payload.get("price_tier"), event.actor)


def on_order_refunded(event: DomainEvent) -> None:
    services.order_refunded(event.subject, str(event.payload.get("reason", "")), event.actor)


def register() -> None:
    subscribe(RISK_REVIEW_DECIDED, on_risk_review_decided)
    subscribe(ORDER_REFUNDED, on_order_refunded)
