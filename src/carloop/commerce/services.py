"""Commerce commands: configurator pricing, car orders (state machine, deposits, balance, delivery),
trade-in quotes, test drives, battery subscriptions and co-creation campaigns."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, QuerySet, Sum
from django.db.models.functions import Coalesce
from django_fsm import TransitionNotAllowed

from carloop.commerce import ledger_flows as flows
from carloop.commerce.models import (
    ORDER_REF_PREFIX,
    BatteryPlan,
    BatterySubscription,
    Bundle,
    Campaign,
    CampaignResponse,
    CarOrder,
    CommercePolicy,
    OrderState,
    SwapRecord,
    SwapStation,
    TestDriveBooking,
    TestDriveSlot,
    TradeInQuote,
)
from carloop.core import audit, events, notifications
from carloop.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Problem
from carloop.core.timeutil import business_date, now
from carloop.identity import selectors as identity_q
from carloop.vehicles import selectors as vehicles_q
from carloop.vehicles import services as vehicles

log = logging.getLogger(__name__)

ORDER_DELIVERED = "commerce.order.delivered"


def policy() -> CommercePolicy:
    found, _ = CommercePolicy.objects.get_or_create(key="default")
    return found


# ------------------------------------------------------------------------------------------------ pricing


@dataclass(frozen=True)
class PriceLine:
    code: str
    zh: str
    en: str
    amount_fen: int


@dataclass(frozen=True)
class PriceBreakdown:
    trim_id: uuid.UUID
    lines: tuple[PriceLine, ...]
    total_fen: int
    monthly_battery_fen: int
    bundle_saving_fen: int
    colour_code: str
    option_codes: tuple[str, ...]
    bundle_id: uuid.UUID | None
    battery_mode: str
    battery_plan_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def lines_json(self) -> list[dict[str, Any]]:
        return [{"code": x.code, "zh": x.zh, "en": x.en, "amount_fen": x.amount_fen} for x in self.lines]


def _bad(slug: str, pointer: str, zh: str, en: str) -> Problem:
    return Invalid(slug, zh, en, errors=[FieldError(pointer, zh, en)])


def with_item_totals(qs: QuerySet[Bundle]) -> QuerySet[Bundle]:
    """Annotate ``items_total_fen``: what the bundle's items cost when bought separately."""
    return qs.annotate(items_total_fen=Coalesce(Sum(F("items__standalone_price_fen") * F("items__quantity")), 0))


def bundle_saving(bundle: Bundle) -> int:
    """Saving against buying the items separately (``bundle`` must come from :func:`with_item_totals`)."""
    return int(bundle.items_total_fen) - bundle.price_fen  # type: ignore[attr-defined]


def price(*, trim_id: uuid.UUID, colour_code: str, option_codes: list[str] | tuple[str, ...] = (),
          bundle_id: uuid.UUID | None = None, battery_mode: str = CarOrder.BatteryMode.OWNED,
          battery_plan_id: uuid.UUID | None = None, fresh: bool = False) -> PriceBreakdown:
    """Configurator price: MSRP + paint + options + bundle − battery (when subscribed). Bad choices are 422.

    ``fresh`` reads the catalog from the database instead of the catalog cache (orders always do).
    """
    config = vehicles_q.trim_config(trim_id, fresh=fresh)
    if config is None or not config.trim.is_active:
        raise _bad("unknown-trim", "/trim_id", "车型配置不存在", "Unknown trim")
    trim = config.trim
    lines = [PriceLine("msrp", f"{trim.brand_zh} {trim.series_zh} {trim.name_zh}", f"{trim.brand} {trim.series} {trim.name}",
                       trim.msrp_fen)]
    colour = next((c for c in config.colours if c.code == colour_code), None)
    if colour is None:
        raise _bad("unknown-colour", "/colour_code", "该车型没有此颜色", "This colour is not offered for the model")
    if colour.price_fen:
        lines.append(PriceLine(f"colour:{colour.code}", f"车漆：{colour.name_zh}", f"Paint: {colour.name}", colour.price_fen))
    offered = {o.code: o for o in config.options}
    codes = tuple(dict.fromkeys(option_codes))
    for index, code in enumerate(codes):
        option = offered.get(code)
        if option is None:
            raise _bad("unknown-option", f"/option_codes/{index}", "该车型没有此选装", "This option is not offered for the model")
        lines.append(PriceLine(f"option:{code}", f"选装：{option.name_zh}", f"Option: {option.name}", option.price_fen))
    saving = 0
    if bundle_id is not None:
        bundle = with_item_totals(Bundle.objects.filter(pk=bundle_id, trim_id=trim.id, is_active=True)).first()
        if bundle is None:
            raise _bad("unknown-bundle", "/bundle_id", "该车型没有此套餐", "This bundle is not offered for the trim")
        saving = bundle_saving(bundle)
        lines.append(PriceLine(f"bundle:{bundle.code}", f"套餐：{bundle.name_zh}", f"Bundle: {bundle.name}", bundle.price_fen))
    monthly = 0
    if battery_mode == CarOrder.BatteryMode.SUBSCRIPTION:
        if not trim.battery_swap_capable or trim.battery_price_fen <= 0:
            raise _bad("battery-subscription-unavailable", "/battery_mode", "该车型不支持车电分离",
                       "This trim cannot be bought without its battery")
        plan = BatteryPlan.objects.filter(pk=battery_plan_id).first() if battery_plan_id else None
        kwh = trim.battery_kwh or Decimal(0)
        if plan is None or not plan.min_kwh <= kwh <= plan.max_kwh:
            raise _bad("invalid-battery-plan", "/battery_plan_id", "请选择适用于该电池容量的电池租用方案",
                       "Choose a battery plan for this battery capacity")
        monthly = plan.monthly_fen
        lines.append(PriceLine("battery", "车电分离：不含电池", "Battery as a service: battery not included", -trim.battery_price_fen))
    elif battery_mode != CarOrder.BatteryMode.OWNED:
        raise _bad("invalid-battery-mode", "/battery_mode", "电池方式应为 owned 或 subscription",
                   "Battery mode must be owned or subscription")
    total = sum(x.amount_fen for x in lines)
    return PriceBreakdown(trim.id, tuple(lines), total, monthly, saving, colour.code, codes, bundle_id, battery_mode,
                          battery_plan_id if battery_mode == CarOrder.BatteryMode.SUBSCRIPTION else None)


# ------------------------------------------------------------------------------------------------- orders


def _order_for_update(order_id: uuid.UUID) -> CarOrder:
    order = CarOrder.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound()
    return order


CUSTOMER_MESSAGES = {
    OrderState.DEPOSIT_PAID: ("已收到您的定金/意向金", "has received your deposit"),
    OrderState.VEHICLE_ALLOCATED: ("已配车", "has a vehicle allocated"),
    OrderState.DELIVERY_SCHEDULED: ("已安排交付，请按约定时间到店提车", "is scheduled for delivery at the store"),
    OrderState.DELIVERED: ("已交付，车辆已加入您的车库", "is delivered; the car is in your garage"),
    OrderState.REFUNDED: ("已关闭，款项按规则退还", "is closed; money is returned as the rules provide"),
}


def _transition(order: CarOrder, method: Callable[[], None], event: str, actor: str, data: dict[str, Any]) -> None:
    """Run a state-machine transition: 409 when illegal, otherwise saved, audited and published."""
    before = order.state
    try:
        method()
    except TransitionNotAllowed:
        raise Conflict("illegal-transition", f"订单当前状态（{before}）不允许此操作",
                       f"The order is {before}; this action is not allowed now", state=before) from None
    order.save()
    audit.record(actor, event, "commerce.order", order.pk, {"from": before, "to": order.state, **data})
    message = CUSTOMER_MESSAGES.get(order.state)
    if message:
        notifications.notify(f"user:{order.customer_id}", "push", f"{order.ref}:{order.state}",
                             f"您的购车订单{message[0]}", f"Your car order {message[1]}")
    events.publish(event, order.ref, {"order_id": str(order.pk), "from": before, "to": order.state,
                                      "customer_user_id": str(order.customer_id), **data}, actor=actor)


def _require_state(order: CarOrder, *states: str) -> None:
    if order.state not in states:
        raise Conflict("illegal-transition", f"订单当前状态（{order.state}）不允许此操作",
                       f"The order is {order.state}; this action is not allowed now", state=order.state)


@transaction.atomic
def create_order(*, customer_user_id: uuid.UUID, trim_id: uuid.UUID, colour_code: str,
                 option_codes: list[str] | tuple[str, ...] = (), bundle_id: uuid.UUID | None = None,
                 battery_mode: str = CarOrder.BatteryMode.OWNED, battery_plan_id: uuid.UUID | None = None,
                 deposit_kind: str = CarOrder.DepositKind.BINDING, trade_in_quote_id: uuid.UUID | None = None,
                 actor: str) -> CarOrder:
    breakdown = price(trim_id=trim_id, colour_code=colour_code, option_codes=option_codes, bundle_id=bundle_id,
                      battery_mode=battery_mode, battery_plan_id=battery_plan_id, fresh=True)
    rules = policy()
    if deposit_kind == CarOrder.DepositKind.BINDING:
        deposit = rules.binding_deposit_fen
    elif deposit_kind == CarOrder.DepositKind.INTENTION:
        deposit = rules.intention_deposit_fen
    else:
        raise _bad("invalid-deposit-kind", "/deposit_kind", "定金类型应为 binding（定金）或 intention（意向金）",
                   "Deposit kind must be binding or intention")
    credit, quote = 0, None
    if trade_in_quote_id is not None:
        quote = TradeInQuote.objects.select_for_update().filter(pk=trade_in_quote_id, customer_id=customer_user_id).first()
        if quote is None:
            raise _bad("unknown-trade-in", "/trade_in_quote_id", "置换报价不存在", "Trade-in quote not found")
        if quote.status != TradeInQuote.Status.OPEN or quote.valid_until < business_date():
            raise _bad("trade-in-unavailable", "/trade_in_quote_id", "置换报价已过期或已使用",
                       "The trade-in quote has expired or is already used")
        if vehicles_q.get_owned_vehicle(customer_user_id, quote.vehicle_id) is None:
            raise _bad("trade-in-unavailable", "/trade_in_quote_id", "置换车辆已不在您名下", "You no longer own the trade-in car")
        credit = quote.value_fen
    deposit = min(deposit, breakdown.total_fen)
    if breakdown.total_fen - deposit - credit < 0:
        raise _bad("trade-in-exceeds-price", "/trade_in_quote_id", "置换抵扣超过车价", "The trade-in credit exceeds the price")
    order = CarOrder.objects.create(
        customer_id=customer_user_id, trim_id=trim_id, colour_code=breakdown.colour_code,
        option_codes=list(breakdown.option_codes), bundle_id=bundle_id, battery_mode=battery_mode,
        battery_plan_id=breakdown.battery_plan_id, price_lines=breakdown.lines_json(), total_fen=breakdown.total_fen,
        trade_in=quote, trade_in_credit_fen=credit, deposit_kind=deposit_kind, deposit_fen=deposit,
    )
    if quote is not None:
        quote.status = TradeInQuote.Status.APPLIED
        quote.save(update_fields=["status", "updated_at"])
    audit.record(actor, "commerce.order.created", "commerce.order", order.pk, {"total_fen": order.total_fen})
    events.publish("commerce.order.created", order.ref, {
        "order_id": str(order.pk), "customer_user_id": str(customer_user_id), "trim_id": str(trim_id),
        "total_fen": order.total_fen, "deposit_kind": deposit_kind}, actor=actor)
    return order


def _binding(order: CarOrder) -> bool:
    """定金 from the start, or an intention payment converted at contract signing."""
    return order.deposit_kind == CarOrder.DepositKind.BINDING or order.contract_signed_at is not None


def _sign_contract(order: CarOrder) -> None:
    order.contract_signed_at = now()
    order.cooling_off_until = order.contract_signed_at + dt.timedelta(hours=policy().cooling_off_hours)


@transaction.atomic
def pay_deposit(*, order_id: uuid.UUID, actor: str) -> CarOrder:
    order = _order_for_update(order_id)
    _require_state(order, OrderState.CREATED)
    flows.move(order.ref, "deposit", "external", "deposits_held", order.deposit_fen, flows.DEPOSIT_IN, actor)
    order.deposit_paid_at = now()
    if order.deposit_kind == CarOrder.DepositKind.BINDING:
        _sign_contract(order)
    _transition(order, order.mark_deposit_paid, "commerce.order.deposit_paid", actor,
                {"amount_fen": order.deposit_fen, "deposit_kind": order.deposit_kind})
    return order


@transaction.atomic
def pay_balance(*, order_id: uuid.UUID, method: str = "full", actor: str) -> CarOrder:
    """Balance by full payment now. A loan is applied for in finance with the order's reference; its
    disbursement event pays the balance (``record_external_balance_payment``)."""
    order = _order_for_update(order_id)
    _require_state(order, OrderState.DEPOSIT_PAID)
    if method == "loan":
        raise Conflict("apply-for-loan", f"请以订单号 {order.ref} 申请购车分期，放款后尾款自动结清",
                       f"Apply for a car purchase instalment with order reference {order.ref}; "
                       "its disbursement pays the balance",
                       order_ref=order.ref, amount_fen=order.balance_due_fen, car_price_fen=order.total_fen)
    if method != "full":
        raise _bad("invalid-payment-method", "/method", "支付方式应为 full 或 loan", "Method must be full or loan")
    flows.move(order.ref, "balance", "external", "balances_held", order.balance_due_fen, flows.BALANCE_IN, actor)
    order.balance_held_fen = order.balance_due_fen
    _record_balance(order, "full", "", actor)
    return order


def _record_balance(order: CarOrder, method: str, reference: str, actor: str) -> None:
    order.balance_paid_at = now()
    order.balance_method = method
    order.balance_reference = reference
    if order.contract_signed_at is None:
        _sign_contract(order)
    _transition(order, order.mark_balance_paid, "commerce.order.balance_paid", actor,
                {"amount_fen": order.balance_due_fen, "method": method, "reference": reference})


@transaction.atomic
def record_external_balance_payment(*, order_ref: str, amount_fen: int, method: str, reference: str,
                                    customer_user_id: str | None = None, actor: str = "system") -> bool:
    """The hook for balance paid elsewhere (a finance loan disbursed to the seller, a payments-app checkout).

    ``amount_fen`` may be less than the balance due: the buyer pays the rest as the down payment, held here
    like a full payment. More than the balance due, or another customer's payment, moves nothing and is audited.
    Idempotent: a replay for an order already past the deposit stage is ignored. Returns whether the order moved.
    """
    if not order_ref.startswith(ORDER_REF_PREFIX):
        return False
    try:
        order_id = uuid.UUID(order_ref.removeprefix(ORDER_REF_PREFIX))
    except ValueError:
        return False
    order = CarOrder.objects.select_for_update().filter(pk=order_id).first()
    if order is None or order.state != OrderState.DEPOSIT_PAID:
        return False
    if customer_user_id is not None and customer_user_id != str(order.customer_id):
        audit.record(actor, "commerce.order.balance_payer_mismatch", "commerce.order", order.pk,
                     {"payer": customer_user_id, "reference": reference})
        return False
    if not 0 < amount_fen <= order.balance_due_fen:
        audit.record(actor, "commerce.order.balance_amount_mismatch", "commerce.order", order.pk,
                     {"expected_fen": order.balance_due_fen, "received_fen": amount_fen, "reference": reference})
        return False
    own_fen = order.balance_due_fen - amount_fen
    flows.move(order.ref, "balance", "external", "balances_held", own_fen, flows.BALANCE_IN, actor)
    order.balance_held_fen = own_fen
    _record_balance(order, method, reference, actor)
    return True


@transaction.atomic
def allocate_vehicle(*, order_id: uuid.UUID, actor: str) -> CarOrder:
    order = _order_for_update(order_id)
    _require_state(order, OrderState.BALANCE_PAID)
    vehicle = vehicles.allocate_stock(trim_id=order.trim_id, colour_code=order.colour_code)
    if vehicle is None:
        raise Conflict("no-stock", "暂无该配置和颜色的现车", "No vehicle of this trim and colour is in stock")
    order.vehicle_id = vehicle.id
    _transition(order, order.mark_allocated, "commerce.order.vehicle_allocated", actor, {"vin": vehicle.vin})
    return order


def _store(org_id: uuid.UUID | None, pointer: str) -> uuid.UUID:
    info = identity_q.get_organisation(org_id) if org_id else None
    if info is None or info.kind != "store" or info.status != "active":
        raise _bad("unknown-store", pointer, "门店不存在", "Unknown store")
    return info.id


@transaction.atomic
def schedule_delivery(*, order_id: uuid.UUID, store_id: uuid.UUID, delivery_date: dt.date,
                      servicing_store_id: uuid.UUID | None = None, actor: str) -> CarOrder:
    order = _order_for_update(order_id)
    _require_state(order, OrderState.VEHICLE_ALLOCATED)
    order.delivery_store_id = _store(store_id, "/store_id")
    order.servicing_store_id = _store(servicing_store_id, "/servicing_store_id") if servicing_store_id else order.delivery_store_id
    if delivery_date < business_date():
        raise _bad("invalid-date", "/delivery_date", "交付日期不能早于今天", "The delivery date is in the past")
    order.delivery_date = delivery_date
    _transition(order, order.mark_delivery_scheduled, "commerce.order.delivery_scheduled", actor,
                {"delivery_store_org_id": str(order.delivery_store_id), "delivery_date": delivery_date.isoformat()})
    return order


def bundle_entitlements(bundle: Bundle | None) -> list[dict[str, Any]]:
    if bundle is None:
        return []
    return [{"kind": i.kind, "code": i.entitlement_code or f"{bundle.code}:{i.pk}", "name": i.name, "name_zh": i.name_zh,
             "quantity": i.quantity, "valid_months": i.valid_months} for i in bundle.items.all()]


@transaction.atomic
def deliver(*, order_id: uuid.UUID, actor: str) -> CarOrder:
    """Hand the car over: garage, trade-in handover, settlement to the seller, battery plan, event."""
    order = _order_for_update(order_id)
    _require_state(order, OrderState.DELIVERY_SCHEDULED)
    today = business_date()
    if order.vehicle_id is None:
        raise Conflict("vehicle-not-allocated", "订单尚未配车", "No vehicle is allocated to the order")
    vehicles.hand_over_to_owner(vehicle_id=order.vehicle_id, owner_user_id=order.customer_id, registration_date=today)
    steps = [("settle-deposit", "deposits_held", "seller_payable", order.deposit_fen, flows.SETTLE_SELLER)]
    if order.trade_in_id:
        quote = TradeInQuote.objects.select_for_update().get(pk=order.trade_in_id)
        quote.handover_odometer_km = vehicles_q.latest_odometer_km(quote.vehicle_id)
        vehicles.mark_traded_in(vehicle_id=quote.vehicle_id, owner_user_id=order.customer_id)
        quote.status, quote.handed_over_at = TradeInQuote.Status.HANDED_OVER, now()
        quote.save(update_fields=["status", "handed_over_at", "handover_odometer_km", "updated_at"])
        steps.append(("trade-in", "trade_in_inventory", "balances_held", order.trade_in_credit_fen, flows.TRADE_IN_CREDIT))
    steps.append(("settle-balance", "balances_held", "seller_payable", order.balance_held_fen + order.trade_in_credit_fen,
                  flows.SETTLE_SELLER))
    flows.move_all(order.ref, steps, actor)
    if order.battery_mode == CarOrder.BatteryMode.SUBSCRIPTION and order.battery_plan_id:
        BatterySubscription.objects.get_or_create(order=order, defaults={
            "customer_id": order.customer_id, "vehicle_id": order.vehicle_id, "plan_id": order.battery_plan_id,
            "cycle_start": today})
    order.delivered_at = now()
    bundle = Bundle.objects.prefetch_related("items").filter(pk=order.bundle_id).first() if order.bundle_id else None
    _transition(order, order.mark_delivered, ORDER_DELIVERED, actor, {
        "vehicle_id": str(order.vehicle_id), "trim_id": str(order.trim_id),
        "bundle_entitlements": bundle_entitlements(bundle),
        "delivery_store_org_id": str(order.delivery_store_id), "servicing_store_org_id": str(order.servicing_store_id),
    })
    return order


@transaction.atomic
def cancel(*, order_id: uuid.UUID, actor: str) -> CarOrder:
    """Buyer cancels. Before payment nothing moves; afterwards the deposit rules apply:
    an intention payment before contract is refunded, a binding deposit is refunded within the cooling-off
    window and forfeited after it; any balance is refunded in full."""
    order = _order_for_update(order_id)
    if order.state == OrderState.CREATED:
        _release_trade_in(order)
        _transition(order, order.mark_cancelled, "commerce.order.cancelled", actor, {"reason": "buyer"})
        return order
    _require_state(order, *[s.value for s in (OrderState.DEPOSIT_PAID, OrderState.BALANCE_PAID,
                                              OrderState.VEHICLE_ALLOCATED, OrderState.DELIVERY_SCHEDULED)])
    forfeit = _binding(order) and order.cooling_off_until is not None and now() > order.cooling_off_until
    if forfeit:
        order.deposit_forfeit_fen = order.deposit_fen
        steps = [("forfeit-deposit", "deposits_held", "forfeited_deposits", order.deposit_fen, flows.DEPOSIT_FORFEIT)]
    else:
        order.deposit_refund_fen = order.deposit_fen
        steps = [("refund-deposit", "deposits_held", "external", order.deposit_fen, flows.DEPOSIT_REFUND)]
    _close_with_refund(order, "buyer_withdrew" if forfeit else "buyer_cancelled", steps, actor)
    return order


@transaction.atomic
def seller_cannot_deliver(*, order_id: uuid.UUID, reason: str, actor: str) -> CarOrder:
    """The seller defaults: a binding deposit is returned double, an intention payment once, the balance in full."""
    order = _order_for_update(order_id)
    _require_state(order, *[s.value for s in (OrderState.DEPOSIT_PAID, OrderState.BALANCE_PAID,
                                              OrderState.VEHICLE_ALLOCATED, OrderState.DELIVERY_SCHEDULED)])
    order.deposit_refund_fen = order.deposit_fen
    steps = [("refund-deposit", "deposits_held", "external", order.deposit_fen, flows.DEPOSIT_REFUND)]
    if _binding(order):
        order.penalty_fen = order.deposit_fen
        steps.append(("deposit-penalty", "deposit_penalties", "external", order.deposit_fen, flows.DEPOSIT_PENALTY))
    _close_with_refund(order, "seller_default", steps, actor, note=reason)
    return order


def _close_with_refund(order: CarOrder, reason: str, steps: list[tuple[str, str, str, int, int]], actor: str,
                       note: str = "") -> None:
    if order.balance_held_fen:
        order.balance_refund_fen = order.balance_held_fen
        steps.append(("refund-balance", "balances_held", "external", order.balance_held_fen, flows.BALANCE_REFUND))
    flows.move_all(order.ref, steps, actor)
    if order.vehicle_id:
        vehicles.release_allocation(order.vehicle_id)
    _release_trade_in(order)
    order.closed_reason = reason
    _transition(order, order.mark_refunded, "commerce.order.refunded", actor, {
        "reason": reason, "note": note, "deposit_refund_fen": order.deposit_refund_fen,
        "deposit_forfeit_fen": order.deposit_forfeit_fen, "penalty_fen": order.penalty_fen,
        "balance_refund_fen": order.balance_refund_fen})


def _release_trade_in(order: CarOrder) -> None:
    if order.trade_in_id:
        TradeInQuote.objects.filter(pk=order.trade_in_id, status=TradeInQuote.Status.APPLIED).update(
            status=TradeInQuote.Status.OPEN)


# ----------------------------------------------------------------------------------------------- trade-in


@transaction.atomic
def quote_trade_in(*, customer_user_id: uuid.UUID, vehicle_id: uuid.UUID, actor: str) -> TradeInQuote:
    if vehicles_q.get_owned_vehicle(customer_user_id, vehicle_id) is None:
        raise NotFound()
    today = business_date()
    valuation = vehicles.value(vehicle_id, today)
    quote = TradeInQuote.objects.create(
        customer_id=customer_user_id, vehicle_id=vehicle_id, value_fen=valuation.value_fen, low_fen=valuation.low_fen,
        high_fen=valuation.high_fen, factors=valuation.factors,
        valid_until=today + dt.timedelta(days=policy().trade_in_quote_days))
    audit.record(actor, "commerce.trade_in.quoted", "commerce.trade_in", quote.pk, {"value_fen": quote.value_fen})
    return quote


# ------------------------------------------------------------------------------------------- test drives


@transaction.atomic
def book_test_drive(*, slot_id: uuid.UUID, customer_user_id: uuid.UUID, actor: str) -> TestDriveBooking:
    """Take one seat of a slot; the row lock and the conditional increment keep bookings within capacity."""
    slot = TestDriveSlot.objects.select_for_update().filter(pk=slot_id).first()
    if slot is None:
        raise NotFound()
    if slot.starts_at <= now():
        raise Conflict("slot-in-past", "该时段已开始", "This slot has already started")
    if TestDriveBooking.objects.filter(slot=slot, customer_id=customer_user_id, status=TestDriveBooking.Status.BOOKED).exists():
        raise Conflict("already-booked", "您已预约该时段", "You already booked this slot")
    taken = TestDriveSlot.objects.filter(pk=slot.pk, booked__lt=F("capacity")).update(booked=F("booked") + 1)
    if not taken:
        raise Conflict("slot-full", "该时段已约满", "This slot is fully booked")
    booking = TestDriveBooking.objects.create(slot=slot, customer_id=customer_user_id)
    audit.record(actor, "commerce.test_drive.booked", "commerce.test_drive", booking.pk, {"slot_id": str(slot.pk)})
    return booking


@transaction.atomic
def cancel_test_drive(*, booking_id: uuid.UUID, customer_user_id: uuid.UUID, actor: str) -> None:
    booking = (TestDriveBooking.objects.select_for_update()
               .filter(pk=booking_id, customer_id=customer_user_id).first())
    if booking is None:
        raise NotFound()
    if booking.status != TestDriveBooking.Status.BOOKED:
        raise Conflict("not-booked", "该预约已取消", "This booking is already cancelled")
    TestDriveSlot.objects.select_for_update().filter(pk=booking.slot_id).update(booked=F("booked") - 1)
    booking.status = TestDriveBooking.Status.CANCELLED
    booking.save(update_fields=["status", "updated_at"])
    audit.record(actor, "commerce.test_drive.cancelled", "commerce.test_drive", booking.pk, {})


# ------------------------------------------------------------------------------------ battery subscriptions


def next_cycle_start(cycle_start: dt.date, today: dt.date) -> dt.date:
    """First day of the next monthly cycle after ``today`` (cycles start on the anchor's day of month)."""
    month, year = today.month, today.year
    day = min(cycle_start.day, 28)
    candidate = dt.date(year, month, day)
    if candidate <= today:
        month = 1 if month == 12 else month + 1
        year = year + 1 if month == 1 else year
        candidate = dt.date(year, month, day)
    return candidate


@transaction.atomic
def change_battery_plan(*, subscription_id: uuid.UUID, customer_user_id: uuid.UUID, plan_id: uuid.UUID,
                        actor: str) -> tuple[BatterySubscription, dt.date]:
    """Plan changes take effect at the next cycle; returns the subscription and that date."""
    sub = (BatterySubscription.objects.select_for_update(of=("self",)).select_related("vehicle__trim")
           .filter(pk=subscription_id, customer_id=customer_user_id, status=BatterySubscription.Status.ACTIVE).first())
    if sub is None:
        raise NotFound()
    plan = BatteryPlan.objects.filter(pk=plan_id).first()
    kwh = sub.vehicle.trim.battery_kwh if sub.vehicle.trim else None
    if plan is None or kwh is None or not plan.min_kwh <= kwh <= plan.max_kwh:
        raise _bad("invalid-battery-plan", "/plan_id", "该方案不适用于此车辆的电池", "This plan does not fit the vehicle's battery")
    sub.next_plan = None if plan.pk == sub.plan_id else plan
    sub.save(update_fields=["next_plan", "updated_at"])
    effective = next_cycle_start(sub.cycle_start, business_date())
    audit.record(actor, "commerce.battery.plan_change", "commerce.battery_subscription", sub.pk,
                 {"plan": plan.code, "effective": effective.isoformat()})
    return sub, effective


@transaction.atomic
def roll_battery_cycles(today: dt.date | None = None) -> int:
    """Apply pending plan changes whose next cycle has started (run daily by the worker)."""
    today = today or business_date()
    changed = 0
    for sub in BatterySubscription.objects.select_for_update().filter(next_plan__isnull=False,
                                                                      status=BatterySubscription.Status.ACTIVE):
        start = next_cycle_start(sub.cycle_start, business_date(sub.updated_at))
        if start <= today and sub.next_plan_id is not None:
            sub.plan_id, sub.next_plan, sub.cycle_start = sub.next_plan_id, None, start
            sub.save(update_fields=["plan", "next_plan", "cycle_start", "updated_at"])
            changed += 1
    return changed


@transaction.atomic
def record_swap(*, subscription_id: uuid.UUID, station_id: uuid.UUID, odometer_km: int, actor: str) -> SwapRecord:
    sub = BatterySubscription.objects.filter(pk=subscription_id, status=BatterySubscription.Status.ACTIVE).first()
    station = SwapStation.objects.filter(pk=station_id).first()
    if sub is None or station is None:
        raise NotFound()
    vehicles.record_odometer(vehicle_id=sub.vehicle_id, km=odometer_km, source="swap")
    return SwapRecord.objects.create(subscription=sub, station=station, swapped_at=now(), odometer_km=odometer_km)


# ------------------------------------------------------------------------------------------- co-creation

DEFAULT_QUESTIONS: list[dict[str, Any]] = [
    {"key": "exterior", "kind": "single", "zh": "外观风格", "en": "Exterior style", "options": [
        {"code": "retro", "zh": "复古圆润", "en": "Retro and round"},
        {"code": "sporty", "zh": "运动锐利", "en": "Sporty and sharp"},
        {"code": "boxy", "zh": "方正硬朗", "en": "Boxy and rugged"}]},
    {"key": "colour", "kind": "single", "zh": "车身颜色", "en": "Body colour", "options": [
        {"code": "white", "zh": "白色", "en": "White"}, {"code": "green", "zh": "抹茶绿", "en": "Matcha green"},
        {"code": "pink", "zh": "樱花粉", "en": "Sakura pink"}, {"code": "grey", "zh": "云雾灰", "en": "Cloud grey"}]},
    {"key": "features", "kind": "multi", "zh": "智能功能（多选）", "en": "Smart features (choose any)", "options": [
        {"code": "adas", "zh": "高速领航辅助", "en": "Highway assisted driving"},
        {"code": "parking", "zh": "自动泊车", "en": "Automatic parking"},
        {"code": "voice", "zh": "语音助手", "en": "Voice assistant"},
        {"code": "swap", "zh": "换电", "en": "Battery swap"},
        {"code": "v2l", "zh": "对外放电", "en": "Vehicle-to-load"}]},
    {"key": "range", "kind": "single", "zh": "续航偏好", "en": "Range preference", "options": [
        {"code": "300", "zh": "300 公里左右", "en": "About 300 km"}, {"code": "400", "zh": "400 公里左右", "en": "About 400 km"},
        {"code": "500", "zh": "500 公里以上", "en": "500 km or more"}]},
    {"key": "price", "kind": "price", "zh": "您期望的价格（元）", "en": "Price you expect (yuan)"},
    {"key": "vw_too_cheap", "kind": "price", "vw": True, "zh": "多少钱会便宜到让您怀疑质量？",
     "en": "At what price would it be so cheap that you doubt its quality?"},
    {"key": "vw_cheap", "kind": "price", "vw": True, "zh": "多少钱您觉得划算？", "en": "At what price is it a bargain?"},
    {"key": "vw_expensive", "kind": "price", "vw": True, "zh": "多少钱开始觉得贵，但仍会考虑？",
     "en": "At what price does it get expensive, but you would still consider it?"},
    {"key": "vw_too_expensive", "kind": "price", "vw": True, "zh": "多少钱贵到您不会考虑？",
     "en": "At what price is it too expensive to consider?"},
]


@transaction.atomic
def create_campaign(*, manufacturer_org_id: uuid.UUID, title: str, title_zh: str, closes_at: dt.datetime,
                    description_zh: str = "", questions: list[dict[str, Any]] | None = None, actor: str) -> Campaign:
    if closes_at <= now():
        raise _bad("invalid-date", "/closes_at", "截止时间必须晚于现在", "The closing time must be in the future")
    campaign = Campaign.objects.create(manufacturer_id=manufacturer_org_id, title=title, title_zh=title_zh,
                                       description_zh=description_zh, questions=questions or DEFAULT_QUESTIONS,
                                       closes_at=closes_at)
    audit.record(actor, "commerce.campaign.created", "commerce.campaign", campaign.pk, {})
    return campaign


def _clean_answers(campaign: Campaign, raw: dict[str, Any]) -> dict[str, Any]:
    from carloop.core.money import parse_yuan

    cleaned: dict[str, Any] = {}
    for q in campaign.questions:
        key, value, pointer = q["key"], raw.get(q["key"]), f"/answers/{q['key']}"
        codes = {o["code"] for o in q.get("options", [])}
        if value in (None, "", []):
            raise _bad("answer-required", pointer, "请回答此问题", "Please answer this question")
        if q["kind"] == "single":
            if value not in codes:
                raise _bad("invalid-answer", pointer, "选项无效", "Invalid choice")
        elif q["kind"] == "multi":
            if not isinstance(value, list) or not set(value) <= codes:
                raise _bad("invalid-answer", pointer, "选项无效", "Invalid choice")
            value = [c for c in (o["code"] for o in q["options"]) if c in value]
        else:
            value = parse_yuan(str(value), field=f"answers.{key}")
        cleaned[key] = value
    vw = [int(cleaned[k]) for k in ("vw_too_cheap", "vw_cheap", "vw_expensive", "vw_too_expensive") if k in cleaned]
    if len(vw) == 4 and not vw[0] <= vw[1] <= vw[2] <= vw[3]:
        raise _bad("inconsistent-prices", "/answers/vw_too_cheap", "四个价格应从低到高：太便宜 ≤ 划算 ≤ 偏贵 ≤ 太贵",
                   "The four prices must ascend: too cheap ≤ bargain ≤ expensive ≤ too expensive")
    return cleaned


@transaction.atomic
def answer_campaign(*, campaign_id: uuid.UUID, respondent_user_id: uuid.UUID, answers: dict[str, Any],
                    actor: str) -> tuple[CampaignResponse, bool]:
    """Verified customers answer once; they may edit their answer until the campaign closes."""
    campaign = Campaign.objects.filter(pk=campaign_id).exclude(status=Campaign.Status.DRAFT).first()
    if campaign is None:
        raise NotFound()
    if campaign.status != Campaign.Status.OPEN or campaign.closes_at <= now():
        raise Conflict("campaign-closed", "该共创活动已结束", "This campaign is closed")
    facts = identity_q.customer_facts(respondent_user_id)
    if facts is None or not facts.kyc_verified:
        raise Forbidden("请先完成实名认证再参与共创", "Verify your identity before taking part")
    cleaned = _clean_answers(campaign, answers)
    response, created = CampaignResponse.objects.update_or_create(
        campaign=campaign, respondent_id=respondent_user_id, defaults={"answers": cleaned})
    return response, created


@transaction.atomic
def close_campaign(*, campaign_id: uuid.UUID, actor: str) -> Campaign:
    campaign = Campaign.objects.select_for_update().filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound()
    campaign.status = Campaign.Status.CLOSED
    campaign.save(update_fields=["status", "updated_at"])
    audit.record(actor, "commerce.campaign.closed", "commerce.campaign", campaign.pk, {})
    return campaign
