"""Car orders: the state machine, deposits (定金 and 意向金), the balance paid in full or by a loan,
vehicle allocation, delivery, cancellation and the seller's default, each money movement through the ledger."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from django.db import transaction
from django_fsm import TransitionNotAllowed

from carloop.commerce import ledger_flows as flows
from carloop.commerce import selectors
from carloop.commerce.models import (
    BALANCE_KIND,
    DEPOSIT_KIND,
    ORDER_REF_PREFIX,
    BatterySubscription,
    Bundle,
    CarOrder,
    OrderState,
    TradeInQuote,
)
from carloop.commerce.services._shared import _bad, acting_on, policy
from carloop.commerce.services.pricing import price
from carloop.core import audit, events, notifications
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, NotFound
from carloop.core.timeutil import business_date, now
from carloop.identity import selectors as identity_q
from carloop.payments import services as payments
from carloop.vehicles import selectors as vehicles_q
from carloop.vehicles import services as vehicles

ORDER_DELIVERED = "commerce.order.delivered"


def _order_for_update(order_id: uuid.UUID) -> CarOrder:
    order = CarOrder.objects.select_for_update().filter(pk=order_id).first()
    if order is None:
        raise NotFound()
    return order


def _buyers_order(subject: Subject, order_id: uuid.UUID) -> CarOrder:
    return acting_on(subject, selectors.orders_readable_by, order_id, selectors.is_buyer)


def _operations_order(subject: Subject, order_id: uuid.UUID) -> CarOrder:
    return acting_on(subject, selectors.orders_readable_by, order_id, lambda s, _: selectors.runs_orders(s))


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
def create_order(subject: Subject, *, trim_id: uuid.UUID, colour_code: str,
                 option_codes: list[str] | tuple[str, ...] = (), bundle_id: uuid.UUID | None = None,
                 battery_mode: str = CarOrder.BatteryMode.OWNED, battery_plan_id: uuid.UUID | None = None,
                 deposit_kind: str = CarOrder.DepositKind.BINDING, trade_in_quote_id: uuid.UUID | None = None) -> CarOrder:
    """A car owner orders a configuration (staff and organisation accounts are 403)."""
    customer_user_id = subject.require_customer("仅限车主用户下单", "Only car-owner accounts can order")
    actor = subject.ref
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


def record_deposit_paid(*, order_ref: str, amount_fen: int, actor: str) -> None:
    """The cashier was paid the deposit (into ``deposits_held``): record it. Runs in the cashier's transaction."""
    order = _order_for_ref(order_ref)
    _require_state(order, OrderState.CREATED)
    if amount_fen != order.deposit_fen:
        raise Conflict("amount-mismatch", "支付金额与定金不符", "The amount paid is not the deposit")
    _deposit_paid(order, actor)


def record_balance_paid(*, order_ref: str, amount_fen: int, reference: str, actor: str) -> None:
    """The cashier was paid the balance (into ``balances_held``): in full, or the buyer's own down payment beside
    a disbursed loan. Record it."""
    order = _order_for_ref(order_ref)
    _require_state(order, OrderState.DEPOSIT_PAID)
    if amount_fen != order.balance_owed_fen:
        raise Conflict("amount-mismatch", "支付金额与尾款不符", "The amount paid is not the balance due")
    order.balance_held_fen = amount_fen
    if order.balance_loan_fen:
        _record_balance(order, "loan", order.balance_reference, actor)
    else:
        _record_balance(order, "full", reference, actor)


def _order_for_ref(order_ref: str) -> CarOrder:
    try:
        order_id = uuid.UUID(order_ref.removeprefix(ORDER_REF_PREFIX))
    except ValueError:
        raise NotFound() from None
    return _order_for_update(order_id)


def _deposit_paid(order: CarOrder, actor: str) -> None:
    order.deposit_paid_at = now()
    if order.deposit_kind == CarOrder.DepositKind.BINDING:
        _sign_contract(order)
    _transition(order, order.mark_deposit_paid, "commerce.order.deposit_paid", actor,
                {"amount_fen": order.deposit_fen, "deposit_kind": order.deposit_kind})


def _record_balance(order: CarOrder, method: str, reference: str, actor: str) -> None:
    order.balance_paid_at = now()
    order.balance_method = method
    order.balance_reference = reference
    if order.contract_signed_at is None:
        _sign_contract(order)
    _transition(order, order.mark_balance_paid, "commerce.order.balance_paid", actor,
                {"amount_fen": order.balance_due_fen, "method": method, "reference": reference})


@transaction.atomic
def record_loan_disbursed(*, order_ref: str, amount_fen: int, loan_ref: str, customer_user_id: str | None = None,
                          actor: str = "system") -> bool:
    """A finance loan paid (part of) the balance to the seller. All of it: the balance is paid. Less: the buyer
    pays the rest, the down payment, at the cashier (the balance payable now asks for it). More than the balance
    due, or another customer's loan, changes nothing and is audited. Idempotent: an order that already has its
    loan, or is past the deposit stage, is left alone. Returns whether the order changed."""
    if not order_ref.startswith(ORDER_REF_PREFIX):
        return False
    try:
        order_id = uuid.UUID(order_ref.removeprefix(ORDER_REF_PREFIX))
    except ValueError:
        return False
    order = CarOrder.objects.select_for_update().filter(pk=order_id).first()
    if order is None or order.state != OrderState.DEPOSIT_PAID or order.balance_loan_fen:
        return False
    if customer_user_id is not None and customer_user_id != str(order.customer_id):
        audit.record(actor, "commerce.order.balance_payer_mismatch", "commerce.order", order.pk,
                     {"payer": customer_user_id, "reference": loan_ref})
        return False
    if not 0 < amount_fen <= order.balance_due_fen:
        audit.record(actor, "commerce.order.balance_amount_mismatch", "commerce.order", order.pk,
                     {"expected_fen": order.balance_due_fen, "received_fen": amount_fen, "reference": loan_ref})
        return False
    order.balance_loan_fen, order.balance_method, order.balance_reference = amount_fen, "loan", loan_ref
    if order.balance_owed_fen == 0:
        _record_balance(order, "loan", loan_ref, actor)
        return True
    order.save(update_fields=["balance_loan_fen", "balance_method", "balance_reference", "updated_at"])
    audit.record(actor, "commerce.order.loan_disbursed", "commerce.order", order.pk,
                 {"loan_fen": amount_fen, "down_payment_fen": order.balance_owed_fen, "reference": loan_ref})
    notifications.notify(f"user:{order.customer_id}", "push", f"{order.ref}:loan", "您的购车分期已放款，请到收银台支付首付",
                         "Your purchase loan is disbursed: pay the down payment at the cashier")
    return True


@transaction.atomic
def allocate_vehicle(subject: Subject, *, order_id: uuid.UUID) -> CarOrder:
    """Operations allocate a stock car of the ordered trim and colour."""
    order, actor = _operations_order(subject, order_id), subject.ref
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
def schedule_delivery(subject: Subject, *, order_id: uuid.UUID, store_id: uuid.UUID, delivery_date: dt.date,
                      servicing_store_id: uuid.UUID | None = None) -> CarOrder:
    """Operations book the handover at a store."""
    order, actor = _operations_order(subject, order_id), subject.ref
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
def deliver(subject: Subject, *, order_id: uuid.UUID) -> CarOrder:
    """Hand the car over (operations or the delivery store's manager): garage, trade-in handover, settlement to
    the seller, battery plan, event."""
    order, actor = acting_on(subject, selectors.orders_readable_by, order_id, selectors.delivers), subject.ref
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
def cancel(subject: Subject, *, order_id: uuid.UUID) -> CarOrder:
    """The buyer cancels. Before payment nothing moves; afterwards the deposit rules apply:
    an intention payment before contract is refunded, a binding deposit is refunded within the cooling-off
    window and forfeited after it; any balance is refunded in full."""
    order, actor = _buyers_order(subject, order_id), subject.ref
    if order.state == OrderState.CREATED:
        _release_trade_in(order)
        _transition(order, order.mark_cancelled, "commerce.order.cancelled", actor, {"reason": "buyer"})
        return order
    _require_state(order, *[s.value for s in (OrderState.DEPOSIT_PAID, OrderState.BALANCE_PAID,
                                              OrderState.VEHICLE_ALLOCATED, OrderState.DELIVERY_SCHEDULED)])
    forfeit = _binding(order) and order.cooling_off_until is not None and now() > order.cooling_off_until
    steps: list[tuple[str, str, str, int, int]] = []
    if forfeit:
        order.deposit_forfeit_fen = order.deposit_fen
        steps.append(("forfeit-deposit", "deposits_held", "forfeited_deposits", order.deposit_fen, flows.DEPOSIT_FORFEIT))
    else:
        order.deposit_refund_fen = order.deposit_fen
    _close_with_refund(order, "buyer_withdrew" if forfeit else "buyer_cancelled", steps, actor)
    return order


@transaction.atomic
def seller_cannot_deliver(subject: Subject, *, order_id: uuid.UUID, reason: str) -> CarOrder:
    """Operations record that the seller defaults: a binding deposit is returned double, an intention payment once,
    the balance in full."""
    order, actor = _operations_order(subject, order_id), subject.ref
    _require_state(order, *[s.value for s in (OrderState.DEPOSIT_PAID, OrderState.BALANCE_PAID,
                                              OrderState.VEHICLE_ALLOCATED, OrderState.DELIVERY_SCHEDULED)])
    order.deposit_refund_fen = order.deposit_fen
    steps: list[tuple[str, str, str, int, int]] = []
    if _binding(order):
        order.penalty_fen = order.deposit_fen
        steps.append(("deposit-penalty", "deposit_penalties", "external", order.deposit_fen, flows.DEPOSIT_PENALTY))
    _close_with_refund(order, "seller_default", steps, actor, note=reason)
    return order


def _close_with_refund(order: CarOrder, reason: str, steps: list[tuple[str, str, str, int, int]], actor: str,
                       note: str = "") -> None:
    """Close the order: the internal moves in ``steps`` (forfeit, penalty), then the cashier refunds the deposit
    to be returned and the balance commerce holds from the intents that paid them."""
    order.balance_refund_fen = order.balance_held_fen
    flows.move_all(order.ref, steps, actor)
    for kind, amount in ((DEPOSIT_KIND, order.deposit_refund_fen), (BALANCE_KIND, order.balance_refund_fen)):
        if amount:
            payments.refund_payable(kind=kind, ref=order.ref, amount_fen=amount, reason=f"{order.ref} {reason}"[:200],
                                    actor=actor)
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
