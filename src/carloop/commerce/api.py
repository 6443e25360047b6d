"""Commerce API: configurator, bundles, battery plans and swaps, orders, trade-in, test drives, co-creation."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import Field, Router, Schema, Status

from carloop.commerce import selectors, services
from carloop.commerce.models import BatterySubscription, Campaign, CarOrder, TestDriveBooking, TradeInQuote
from carloop.core.errors import NotFound
from carloop.core.http import PUBLIC, PUBLIC_DOC
from carloop.core.idempotency import idempotent
from carloop.core.money import yuan_str
from carloop.core.timeutil import BusinessDate, BusinessDateTime
from carloop.identity.selectors import subject_of

router = Router(tags=["commerce"])


# ------------------------------------------------------------------------------------------------ schemas


class ConfigIn(Schema):
    trim_id: uuid.UUID
    colour_code: str = Field(..., max_length=40)
    option_codes: list[str] = Field(default_factory=list, max_length=20)
    bundle_id: uuid.UUID | None = None
    battery_mode: str = Field("owned", max_length=12)
    battery_plan_id: uuid.UUID | None = None


class OrderIn(ConfigIn):
    deposit_kind: str = Field("binding", max_length=10, description="binding (定金) or intention (意向金)")
    trade_in_quote_id: uuid.UUID | None = None


class PriceLineOut(Schema):
    code: str
    zh: str
    en: str
    amount: str


class PriceOut(Schema):
    lines: list[PriceLineOut]
    total: str
    monthly_battery_fee: str
    bundle_saving: str


class OrderOut(Schema):
    id: uuid.UUID
    order_ref: str
    state: str
    trim_id: uuid.UUID
    colour_code: str
    option_codes: list[str]
    battery_mode: str
    lines: list[PriceLineOut]
    total: str
    deposit_kind: str
    deposit: str
    trade_in_credit: str
    balance_due: str
    balance_method: str
    cooling_off_until: datetime | None
    vehicle_id: uuid.UUID | None
    delivery_store_id: uuid.UUID | None
    delivery_date: date | None
    deposit_refund: str
    deposit_forfeit: str
    penalty: str
    balance_refund: str


class BalanceIn(Schema):
    method: str = Field("full", max_length=20)


class ScheduleIn(Schema):
    store_id: uuid.UUID
    delivery_date: BusinessDate
    servicing_store_id: uuid.UUID | None = None


class SellerDefaultIn(Schema):
    reason: str = Field(..., min_length=2, max_length=500)


class BundleItemOut(Schema):
    kind: str
    name: str
    name_zh: str
    standalone_price: str
    quantity: int
    valid_months: int | None


class BundleOut(Schema):
    id: uuid.UUID
    trim_id: uuid.UUID
    code: str
    kind: str
    name: str
    name_zh: str
    price: str
    saving: str
    items: list[BundleItemOut]


class PlanOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    name_zh: str
    min_kwh: str
    max_kwh: str
    monthly_km_limit: int | None
    monthly_fee: str


class StationOut(Schema):
    id: uuid.UUID
    code: str
    name: str
    city: str
    capacity: int


class SubscriptionOut(Schema):
    id: uuid.UUID
    vehicle_id: uuid.UUID
    plan_id: uuid.UUID
    next_plan_id: uuid.UUID | None
    cycle_start: date


class PlanChangeIn(Schema):
    plan_id: uuid.UUID


class PlanChangeOut(SubscriptionOut):
    effective_from: date


class SwapIn(Schema):
    station_id: uuid.UUID
    odometer_km: int = Field(..., ge=0, le=3_000_000)


class SwapOut(Schema):
    id: uuid.UUID
    station_id: uuid.UUID
    swapped_at: datetime
    odometer_km: int


class QuoteIn(Schema):
    vehicle_id: uuid.UUID


class QuoteOut(Schema):
    id: uuid.UUID
    vehicle_id: uuid.UUID
    value: str
    low: str
    high: str
    valid_until: date
    status: str
    factors: dict[str, str]


class SlotOut(Schema):
    id: uuid.UUID
    store_id: uuid.UUID
    store_name: str
    series_id: uuid.UUID
    series_name: str
    starts_at: datetime
    capacity: int
    available: int


class BookingOut(Schema):
    id: uuid.UUID
    slot_id: uuid.UUID
    status: str


class CampaignIn(Schema):
    manufacturer_org_id: uuid.UUID | None = None
    title: str = Field(..., min_length=2, max_length=200)
    title_zh: str = Field(..., min_length=2, max_length=200)
    description_zh: str = Field("", max_length=4000)
    closes_at: BusinessDateTime


class CampaignOut(Schema):
    id: uuid.UUID
    manufacturer_org_id: uuid.UUID
    title: str
    title_zh: str
    description_zh: str
    status: str
    closes_at: datetime
    questions: list[dict[str, Any]]


class AnswersIn(Schema):
    answers: dict[str, Any]


class AnswerOut(Schema):
    campaign_id: uuid.UUID
    answers: dict[str, Any]


# ---------------------------------------------------------------------------------------------- helpers


def _lines(lines: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"code": x["code"], "zh": x["zh"], "en": x["en"], "amount": yuan_str(x["amount_fen"])} for x in lines]


def order_out(order: CarOrder) -> dict[str, Any]:
    return {
        "id": order.pk, "order_ref": order.ref, "state": order.state, "trim_id": order.trim_id,
        "colour_code": order.colour_code, "option_codes": order.option_codes, "battery_mode": order.battery_mode,
        "lines": _lines(order.price_lines), "total": yuan_str(order.total_fen), "deposit_kind": order.deposit_kind,
        "deposit": yuan_str(order.deposit_fen), "trade_in_credit": yuan_str(order.trade_in_credit_fen),
        "balance_due": yuan_str(order.balance_due_fen), "balance_method": order.balance_method,
        "cooling_off_until": order.cooling_off_until, "vehicle_id": order.vehicle_id,
        "delivery_store_id": order.delivery_store_id, "delivery_date": order.delivery_date,
        "deposit_refund": yuan_str(order.deposit_refund_fen), "deposit_forfeit": yuan_str(order.deposit_forfeit_fen),
        "penalty": yuan_str(order.penalty_fen), "balance_refund": yuan_str(order.balance_refund_fen),
    }


def _price_out(p: services.PriceBreakdown) -> dict[str, Any]:
    return {"lines": _lines(p.lines_json()), "total": yuan_str(p.total_fen),
            "monthly_battery_fee": yuan_str(p.monthly_battery_fen), "bundle_saving": yuan_str(p.bundle_saving_fen)}


# ------------------------------------------------------------------------------------ catalog extras


@router.post("/configurator/price", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=PriceOut, summary="Price a configuration (public)")
def configurator_price(request: HttpRequest, body: ConfigIn) -> Any:
    return _price_out(services.price(**body.dict()))


@router.get("/bundles", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=list[BundleOut], summary="Bundles offered for a trim (public)")
def bundles(request: HttpRequest, trim_id: uuid.UUID) -> Any:
    return [{"id": b.pk, "trim_id": b.trim_id, "code": b.code, "kind": b.kind, "name": b.name, "name_zh": b.name_zh,
             "price": yuan_str(b.price_fen), "saving": yuan_str(selectors.bundle_saving(b)),
             "items": [{"kind": i.kind, "name": i.name, "name_zh": i.name_zh,
                        "standalone_price": yuan_str(i.standalone_price_fen), "quantity": i.quantity,
                        "valid_months": i.valid_months} for i in b.items.all()]}
            for b in selectors.bundles_for_trim(trim_id)]


@router.get("/battery-plans", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=list[PlanOut], summary="Battery subscription plans (public)")
def battery_plans(request: HttpRequest) -> Any:
    return [{"id": p.pk, "code": p.code, "name": p.name, "name_zh": p.name_zh, "min_kwh": str(p.min_kwh),
             "max_kwh": str(p.max_kwh), "monthly_km_limit": p.monthly_km_limit, "monthly_fee": yuan_str(p.monthly_fen)}
            for p in selectors.battery_plans()]


@router.get("/swap-stations", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=list[StationOut], summary="Battery swap stations (public)")
def swap_stations(request: HttpRequest, city: str = "") -> Any:
    return [{"id": s.pk, "code": s.code, "name": s.name, "city": s.city, "capacity": s.capacity}
            for s in selectors.swap_stations(city)]


def _sub_out(sub: BatterySubscription) -> dict[str, Any]:
    return {"id": sub.pk, "vehicle_id": sub.vehicle_id, "plan_id": sub.plan_id, "next_plan_id": sub.next_plan_id,
            "cycle_start": sub.cycle_start}


@router.get("/battery-subscriptions", response=list[SubscriptionOut], summary="The caller's battery subscriptions")
def battery_subscriptions(request: HttpRequest) -> Any:
    subject = subject_of(request)
    return [_sub_out(s) for s in selectors.subscriptions_readable_by(subject).filter(customer_id=subject.user_id)]


@router.post("/battery-subscriptions/{subscription_id}/plan", response=PlanChangeOut,
             summary="Change plan from the next cycle")
def battery_plan_change(request: HttpRequest, subscription_id: uuid.UUID, body: PlanChangeIn) -> Any:
    sub, effective = services.change_battery_plan(subject_of(request), subscription_id=subscription_id,
                                                  plan_id=body.plan_id)
    return {**_sub_out(sub), "effective_from": effective}


@router.get("/battery-subscriptions/{subscription_id}/swaps", response=list[SwapOut], summary="Swap history")
def swap_history(request: HttpRequest, subscription_id: uuid.UUID) -> Any:
    sub = selectors.subscriptions_readable_by(subject_of(request)).filter(pk=subscription_id).first()
    if sub is None:
        raise NotFound()
    return [{"id": s.pk, "station_id": s.station_id, "swapped_at": s.swapped_at, "odometer_km": s.odometer_km}
            for s in selectors.swaps(sub)]


@router.post("/battery-subscriptions/{subscription_id}/swaps", response={201: SwapOut},
             summary="Record a battery swap (station operators: ops)")
def swap_record(request: HttpRequest, subscription_id: uuid.UUID, body: SwapIn) -> Any:
    swap = services.record_swap(subject_of(request), subscription_id=subscription_id, station_id=body.station_id,
                                odometer_km=body.odometer_km)
    return Status(201, {"id": swap.pk, "station_id": swap.station_id, "swapped_at": swap.swapped_at,
                        "odometer_km": swap.odometer_km})


# ------------------------------------------------------------------------------------------------ orders


@router.post("/orders", response={201: OrderOut}, summary="Place a car order from a configuration")
@idempotent
def order_create(request: HttpRequest, body: OrderIn) -> Any:
    order = services.create_order(subject_of(request), **body.dict())
    return Status(201, order_out(order))


@router.get("/orders", response=list[OrderOut], summary="Orders the caller may see")
def orders(request: HttpRequest) -> Any:
    return [order_out(o) for o in selectors.orders_readable_by(subject_of(request)).order_by("-created_at")[:200]]


@router.get("/orders/{order_id}", response=OrderOut, summary="One order")
def order_detail(request: HttpRequest, order_id: uuid.UUID) -> Any:
    order = selectors.get_order(subject_of(request), order_id)
    if order is None:
        raise NotFound()
    return order_out(order)


@router.post("/orders/{order_id}/cancel", response=OrderOut, summary="Buyer cancels or withdraws (deposit rules apply)")
@idempotent
def order_cancel(request: HttpRequest, order_id: uuid.UUID) -> Any:
    return order_out(services.cancel(subject_of(request), order_id=order_id))


@router.post("/orders/{order_id}/allocate", response=OrderOut, summary="Allocate a stock vehicle (ops)")
def order_allocate(request: HttpRequest, order_id: uuid.UUID) -> Any:
    return order_out(services.allocate_vehicle(subject_of(request), order_id=order_id))


@router.post("/orders/{order_id}/schedule-delivery", response=OrderOut, summary="Schedule delivery at a store (ops)")
def order_schedule(request: HttpRequest, order_id: uuid.UUID, body: ScheduleIn) -> Any:
    return order_out(services.schedule_delivery(subject_of(request), order_id=order_id, store_id=body.store_id,
                                                delivery_date=body.delivery_date,
                                                servicing_store_id=body.servicing_store_id))


@router.post("/orders/{order_id}/deliver", response=OrderOut, summary="Confirm delivery (ops or the delivery store)")
@idempotent
def order_deliver(request: HttpRequest, order_id: uuid.UUID) -> Any:
    return order_out(services.deliver(subject_of(request), order_id=order_id))


@router.post("/orders/{order_id}/seller-default", response=OrderOut,
             summary="Seller cannot deliver: return the deposit double (ops)")
@idempotent
def order_seller_default(request: HttpRequest, order_id: uuid.UUID, body: SellerDefaultIn) -> Any:
    return order_out(services.seller_cannot_deliver(subject_of(request), order_id=order_id, reason=body.reason))


# ---------------------------------------------------------------------------------------------- trade-in


def _quote_out(q: TradeInQuote) -> dict[str, Any]:
    return {"id": q.pk, "vehicle_id": q.vehicle_id, "value": yuan_str(q.value_fen), "low": yuan_str(q.low_fen),
            "high": yuan_str(q.high_fen), "valid_until": q.valid_until, "status": q.status, "factors": q.factors}


@router.post("/trade-in/quotes", response={201: QuoteOut}, summary="Quote a trade-in for a car in the caller's garage")
def trade_in_quote(request: HttpRequest, body: QuoteIn) -> Any:
    quote = services.quote_trade_in(subject_of(request), vehicle_id=body.vehicle_id)
    return Status(201, _quote_out(quote))


@router.get("/trade-in/quotes/{quote_id}", response=QuoteOut, summary="One trade-in quote")
def trade_in_quote_detail(request: HttpRequest, quote_id: uuid.UUID) -> Any:
    quote = selectors.quotes_readable_by(subject_of(request)).filter(pk=quote_id).first()
    if quote is None:
        raise NotFound()
    return _quote_out(quote)


# ------------------------------------------------------------------------------------------- test drives


@router.get("/test-drives/slots", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=list[SlotOut], summary="Upcoming test-drive slots (public)")
def test_drive_slots(request: HttpRequest, series_id: uuid.UUID | None = None, store_id: uuid.UUID | None = None) -> Any:
    return [{"id": s.pk, "store_id": s.store_id, "store_name": s.store.name, "series_id": s.series_id,
             "series_name": s.series.name_zh, "starts_at": s.starts_at, "capacity": s.capacity,
             "available": s.capacity - s.booked} for s in selectors.open_slots(series_id, store_id)[:200]]


def _booking_out(booking: TestDriveBooking) -> dict[str, Any]:
    return {"id": booking.pk, "slot_id": booking.slot_id, "status": booking.status}


@router.post("/test-drives/slots/{slot_id}/bookings", response={201: BookingOut}, summary="Book a test drive")
@idempotent
def test_drive_book(request: HttpRequest, slot_id: uuid.UUID) -> Any:
    booking = services.book_test_drive(subject_of(request), slot_id=slot_id)
    return Status(201, _booking_out(booking))


@router.post("/test-drives/bookings/{booking_id}/cancel", response=BookingOut, summary="Cancel a test-drive booking")
def test_drive_cancel(request: HttpRequest, booking_id: uuid.UUID) -> Any:
    return _booking_out(services.cancel_test_drive(subject_of(request), booking_id=booking_id))


# ------------------------------------------------------------------------------------------- co-creation


def _campaign_out(c: Campaign) -> dict[str, Any]:
    return {"id": c.pk, "manufacturer_org_id": c.manufacturer_id, "title": c.title, "title_zh": c.title_zh,
            "description_zh": c.description_zh, "status": c.status, "closes_at": c.closes_at, "questions": c.questions}


@router.post("/campaigns", response={201: CampaignOut}, summary="Create a co-creation campaign (manufacturer analysts)")
def campaign_create(request: HttpRequest, body: CampaignIn) -> Any:
    campaign = services.create_campaign(subject_of(request), manufacturer_org_id=body.manufacturer_org_id,
                                        title=body.title, title_zh=body.title_zh, description_zh=body.description_zh,
                                        closes_at=body.closes_at)
    return Status(201, _campaign_out(campaign))


@router.get("/campaigns", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=list[CampaignOut], summary="Campaigns the caller may see")
def campaigns(request: HttpRequest) -> Any:
    return [_campaign_out(c) for c in selectors.campaigns_readable_by(subject_of(request)).order_by("-created_at")[:100]]


@router.get("/campaigns/{campaign_id}", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=CampaignOut, summary="One campaign")
def campaign_detail(request: HttpRequest, campaign_id: uuid.UUID) -> Any:
    campaign = selectors.campaigns_readable_by(subject_of(request)).filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound()
    return _campaign_out(campaign)


@router.put("/campaigns/{campaign_id}/response", response=AnswerOut, summary="Answer (or edit the answer) until close")
def campaign_answer(request: HttpRequest, campaign_id: uuid.UUID, body: AnswersIn) -> Any:
    response, _ = services.answer_campaign(subject_of(request), campaign_id=campaign_id, answers=body.answers)
    return {"campaign_id": campaign_id, "answers": response.answers}


@router.post("/campaigns/{campaign_id}/close", response=CampaignOut, summary="Close a campaign (its manufacturer)")
def campaign_close(request: HttpRequest, campaign_id: uuid.UUID) -> Any:
    return _campaign_out(services.close_campaign(subject_of(request), campaign_id=campaign_id))


@router.get("/campaigns/{campaign_id}/report", summary="Demand report: aggregates only (JSON)")
def campaign_report(request: HttpRequest, campaign_id: uuid.UUID) -> Any:
    campaign = selectors.reportable_campaign(subject_of(request), campaign_id)
    if campaign is None:
        raise NotFound()
    return selectors.demand_report(campaign)


@router.get("/campaigns/{campaign_id}/report.csv", summary="Demand report as CSV")
def campaign_report_csv(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    campaign = selectors.reportable_campaign(subject_of(request), campaign_id)
    if campaign is None:
        raise NotFound()
    return csv_response(campaign)


def csv_response(campaign: Campaign) -> HttpResponse:
    buffer = io.StringIO()
    csv.writer(buffer).writerows(selectors.report_rows(selectors.demand_report(campaign)))
    response = HttpResponse(buffer.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="campaign-{campaign.pk}.csv"'
    return response
