"""Trade-in quotes: a valuation of a car the customer owns, valid for the policy's number of days."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction

from carloop.commerce.models import TradeInQuote
from carloop.commerce.services._shared import policy
from carloop.core import audit
from carloop.core.authz import Subject
from carloop.core.errors import NotFound
from carloop.core.timeutil import business_date
from carloop.vehicles import selectors as vehicles_q
from carloop.vehicles import services as vehicles


@transaction.atomic
def quote_trade_in(subject: Subject, *, vehicle_id: uuid.UUID) -> TradeInQuote:
    """A car owner has a car in their garage valued for trade-in (a car not theirs is a 404)."""
    customer_user_id = subject.require_customer()
    if vehicles_q.get_owned_vehicle(customer_user_id, vehicle_id) is None:
        raise NotFound()
    today = business_date()
    valuation = vehicles.value(vehicle_id, today)
    quote = TradeInQuote.objects.create(
        customer_id=customer_user_id, vehicle_id=vehicle_id, value_fen=valuation.value_fen, low_fen=valuation.low_fen,
        high_fen=valuation.high_fen, factors=valuation.factors,
        valid_until=today + dt.timedelta(days=policy().trade_in_quote_days))
    audit.record(subject.ref, "commerce.trade_in.quoted", "commerce.trade_in", quote.pk, {"value_fen": quote.value_fen})
    return quote
