"""Finance JSON API, mounted at /api/v1/finance/."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema

from carloop.core.timeutil import business_date
from carloop.finance.quotes import build_quote, parse_quote_request, schedule_json

router = Router(tags=["finance"])


class QuoteIn(Schema):
    principal: str | int
    annual_rate: str | int | float | None = None  # float-ok: JSON numbers are re-read exactly from the body
    term: int | str
    method: str
    monthly_fee_rate: str | int | float | None = None  # float-ok: as above
    start: date | None = None


class QuoteRowOut(Schema):
    period: int
    due_date: date
    principal: str
    interest: str
    fee: str
    payment: str
    balance: str


class QuoteOut(Schema):
    principal: str
    term: int
    method: str
    schedule: list[QuoteRowOut]
    total_interest: str
    total_fees: str
    total_payment: str
    apr: str
    apr_effective: str


@router.post("/quotes", response=QuoteOut, auth=None, summary="Quote a schedule with its APR (calculator)")
def create_quote(request: HttpRequest, body: QuoteIn) -> dict[str, Any]:
    # Rates may come as JSON numbers: take them exactly as written ("0.06"), never through a binary float.
    exact = json.loads(request.body, parse_float=Decimal)
    quote = parse_quote_request(
        principal=body.principal,
        annual_rate=exact.get("annual_rate"),
        term=body.term,
        method=body.method,
        monthly_fee_rate=exact.get("monthly_fee_rate"),
        start=body.start,
        today=business_date(),
    )
    return schedule_json(build_quote(quote))
