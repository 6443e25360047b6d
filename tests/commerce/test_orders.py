import datetime as dt

import pytest
from django.utils import timezone

from carloop.commerce import ledger_flows, services
from carloop.commerce.models import BatterySubscription, CarOrder, CommercePolicy, OrderState, TradeInQuote
from carloop.core.errors import Problem
from carloop.core.events import publish
from carloop.core.models import AuditEntry, Event
from carloop.ledger import selectors as ledger_q
from carloop.payments.simulator import SIMULATOR, Behaviour
from carloop.vehicles import selectors as vehicles_q
from carloop.vehicles.models import Vehicle
from tests.commerce.factories import OPERATIONS, as_subject, make_bundle, make_plan, make_trim, pay_balance, pay_deposit
from tests.payments.conftest import assert_consistent
from tests.vehicles.factories import owned_vehicle


def held(name: str) -> int:
    b = ledger_q.balance(ledger_flows.account_id(name))
    return b.credits_posted - b.debits_posted


def spent(name: str) -> int:
    b = ledger_q.balance(ledger_flows.account_id(name))
    return b.debits_posted - b.credits_posted


@pytest.fixture
def buyer(actors):
    return actors.user("customer")


@pytest.fixture(autouse=True)
def _refunds_at_once(db):
    """The simulator answers refunds at once, so a refunded order's held accounts are empty when the call returns."""
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(refunds="sync"), []
    yield
    SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []
    assert_consistent()


@pytest.fixture
def store(actors):
    return actors.org("store_manager")


def new_order(buyer, trim=None, **kwargs):
    trim = trim or make_trim(msrp_yuan=89_800)
    return services.create_order(as_subject(buyer), trim_id=trim.pk, colour_code="white", **kwargs)


def run_to_delivery(order, store):
    pay_deposit(order)
    pay_balance(order)
    services.allocate_vehicle(OPERATIONS, order_id=order.pk)
    services.schedule_delivery(OPERATIONS, order_id=order.pk, store_id=store.pk, delivery_date=dt.date.today())
    return services.deliver(OPERATIONS, order_id=order.pk)


def test_price_breakdown_with_options_bundle_and_battery_subscription(db):
    trim = make_trim(msrp_yuan=101_800, swap=True, battery_yuan=36_000)
    bundle = make_bundle(trim, price_yuan=3_000)
    plan = make_plan()
    quote = services.price(trim_id=trim.pk, colour_code="green", option_codes=["adas", "heat-pump", "adas"],
                           bundle_id=bundle.pk, battery_mode="subscription", battery_plan_id=plan.pk)
    assert [line.amount_fen for line in quote.lines] == [10_180_000, 200_000, 600_000, 300_000, 300_000, -3_600_000]
    assert quote.total_fen == 10_180_000 + 200_000 + 900_000 + 300_000 - 3_600_000
    assert quote.monthly_battery_fen == 39_900
    assert quote.bundle_saving_fen == 4 * 68_000 + 89_900 - 300_000


@pytest.mark.parametrize(("kwargs", "slug"), [
    ({"colour_code": "purple"}, "unknown-colour"),
    ({"option_codes": ["warp-drive"]}, "unknown-option"),
    ({"battery_mode": "subscription"}, "battery-subscription-unavailable"),
    ({"battery_mode": "lease"}, "invalid-battery-mode"),
])
def test_bad_configuration_is_422(db, kwargs, slug):
    trim = make_trim()
    with pytest.raises(Problem) as info:
        services.price(trim_id=trim.pk, **{"colour_code": "white", **kwargs})
    assert (info.value.status, info.value.slug) == (422, slug)


def test_full_flow_moves_money_through_the_ledger_and_publishes_delivery(buyer, store):
    trim = make_trim(msrp_yuan=89_800)
    bundle = make_bundle(trim)
    order = new_order(buyer, trim, bundle_id=bundle.pk, option_codes=["heat-pump"])
    assert order.total_fen == 8_980_000 + 300_000 + 500_000
    order = run_to_delivery(order, store)
    assert order.state == OrderState.DELIVERED
    assert held("deposits_held") == 0 and held("balances_held") == 0
    assert held("seller_payable") == order.total_fen
    garage = vehicles_q.garage(buyer.pk)
    assert [v.id for v in garage] == [order.vehicle_id]
    event = Event.objects.get(type="commerce.order.delivered")
    assert event.payload["vehicle_id"] == str(order.vehicle_id)
    assert event.payload["delivery_store_org_id"] == str(store.pk) == event.payload["servicing_store_org_id"]
    assert {e["code"] for e in event.payload["bundle_entitlements"]} >= {"minor-service"}
    from carloop.core.models import Notification

    assert Notification.objects.filter(recipient=f"user:{buyer.pk}", dedupe_key=f"{order.ref}:delivered").exists()
    transitions = AuditEntry.objects.filter(object_type="commerce.order", object_id=str(order.pk))
    assert transitions.count() == 6
    assert Event.objects.filter(subject=order.ref).count() == 6


@pytest.mark.parametrize("action", [
    lambda order: services.allocate_vehicle(OPERATIONS, order_id=order.pk),
    lambda order: services.deliver(OPERATIONS, order_id=order.pk),
    lambda order: services.record_balance_paid(order_ref=order.ref, amount_fen=order.balance_due_fen, reference="r",
                                               actor="test"),
], ids=["allocate_vehicle", "deliver", "record_balance_paid"])
def test_illegal_transitions_are_409_and_change_nothing(buyer, action):
    order = new_order(buyer)
    with pytest.raises(Problem) as info:
        action(order)
    assert info.value.status == 409 and info.value.slug == "illegal-transition"
    order.refresh_from_db()
    assert order.state == OrderState.CREATED
    assert held("balances_held") == 0


def test_paying_the_deposit_twice_is_409(buyer):
    order = new_order(buyer)
    pay_deposit(order)
    with pytest.raises(Problem) as info:
        pay_deposit(order)
    assert info.value.status == 409
    assert held("deposits_held") == order.deposit_fen


def test_binding_deposit_refunded_within_cooling_off(buyer):
    order = new_order(buyer)
    pay_deposit(order)
    order = services.cancel(as_subject(buyer), order_id=order.pk)
    assert order.state == OrderState.REFUNDED
    assert (order.deposit_refund_fen, order.deposit_forfeit_fen) == (order.deposit_fen, 0)
    assert held("deposits_held") == 0 and held("forfeited_deposits") == 0


def test_binding_deposit_forfeited_after_cooling_off_but_balance_refunded(buyer):
    order = new_order(buyer)
    pay_deposit(order)
    pay_balance(order)
    services.allocate_vehicle(OPERATIONS, order_id=order.pk)
    CarOrder.objects.filter(pk=order.pk).update(cooling_off_until=timezone.now() - dt.timedelta(minutes=1))
    order = services.cancel(as_subject(buyer), order_id=order.pk)
    assert order.closed_reason == "buyer_withdrew"
    assert order.deposit_forfeit_fen == order.deposit_fen == held("forfeited_deposits")
    assert order.balance_refund_fen == order.balance_due_fen
    assert held("deposits_held") == 0 and held("balances_held") == 0
    assert Vehicle.objects.get(pk=order.vehicle_id).status == Vehicle.Status.STOCK


def test_cooling_off_window_is_operator_configured(buyer):
    CommercePolicy.objects.update_or_create(key="default", defaults={"cooling_off_hours": 0})
    order = new_order(buyer)
    pay_deposit(order)
    order = services.cancel(as_subject(buyer), order_id=order.pk)
    assert order.deposit_forfeit_fen == order.deposit_fen


def test_seller_default_returns_binding_deposit_double(buyer):
    order = new_order(buyer)
    pay_deposit(order)
    pay_balance(order)
    order = services.seller_cannot_deliver(OPERATIONS, order_id=order.pk, reason="no stock")
    assert order.deposit_refund_fen + order.penalty_fen == 2 * order.deposit_fen
    assert spent("deposit_penalties") == order.deposit_fen
    assert held("deposits_held") == 0 and held("balances_held") == 0


def test_intention_payment_always_refundable_before_contract(buyer):
    CommercePolicy.objects.update_or_create(key="default", defaults={"cooling_off_hours": 0})
    order = new_order(buyer, deposit_kind="intention")
    pay_deposit(order)
    assert order.contract_signed_at is None
    order = services.cancel(as_subject(buyer), order_id=order.pk)
    assert (order.deposit_refund_fen, order.deposit_forfeit_fen) == (order.deposit_fen, 0)


def test_intention_payment_seller_default_returned_once(buyer):
    order = new_order(buyer, deposit_kind="intention")
    pay_deposit(order)
    order = services.seller_cannot_deliver(OPERATIONS, order_id=order.pk, reason="model discontinued")
    assert (order.deposit_refund_fen, order.penalty_fen) == (order.deposit_fen, 0)


def test_intention_payment_becomes_binding_at_contract(buyer):
    CommercePolicy.objects.update_or_create(key="default", defaults={"cooling_off_hours": 0})
    order = new_order(buyer, deposit_kind="intention")
    pay_deposit(order)
    pay_balance(order)
    order = services.cancel(as_subject(buyer), order_id=order.pk)
    assert order.deposit_forfeit_fen == order.deposit_fen


def test_cancel_before_payment_moves_nothing(buyer):
    order = services.cancel(as_subject(buyer), order_id=new_order(buyer).pk)
    assert order.state == OrderState.CANCELLED
    with pytest.raises(Problem):
        pay_deposit(order)


def test_loan_points_to_finance_and_a_disbursement_event_pays_part_of_the_balance(buyer, actors, django_capture_on_commit_callbacks):
    order = new_order(buyer)
    pay_deposit(order)
    stranger = actors.user("other_customer")
    for wrong in ({"amount_fen": order.balance_due_fen + 1, "customer_user_id": str(buyer.pk)},
                  {"amount_fen": 1, "customer_user_id": str(stranger.pk)}):
        with django_capture_on_commit_callbacks(execute=True):
            publish("finance.loan.disbursed", "finance:loan:x", {"loan_id": "L0", "order_ref": order.ref, **wrong})
        order.refresh_from_db()
        assert order.state == OrderState.DEPOSIT_PAID
    loan_fen = order.balance_due_fen - 2_000_000
    with django_capture_on_commit_callbacks(execute=True):
        publish("finance.loan.disbursed", "finance:loan:x", {"loan_id": "L1", "order_ref": order.ref,
                                                              "amount_fen": loan_fen, "customer_user_id": str(buyer.pk)})
    order.refresh_from_db()
    assert (order.state, order.balance_method, order.balance_reference) == (OrderState.DEPOSIT_PAID, "loan", "L1")
    assert (order.balance_loan_fen, order.balance_owed_fen) == (loan_fen, 2_000_000)  # the loan went to the seller
    pay_balance(order)  # the buyer's own down payment, at the cashier
    assert (order.state, order.balance_held_fen) == (OrderState.BALANCE_PAID, 2_000_000)
    assert AuditEntry.objects.filter(action__in=["commerce.order.balance_amount_mismatch",
                                                 "commerce.order.balance_payer_mismatch"]).count() == 2


def test_trade_in_quote_credit_and_handover(buyer, store):
    old = owned_vehicle(buyer, registration_date=dt.date(2021, 1, 10), km=60_000)
    quote = services.quote_trade_in(as_subject(buyer), vehicle_id=old.pk)
    assert quote.value_fen > 0 and quote.valid_until > dt.date.today()
    order = new_order(buyer, trade_in_quote_id=quote.pk)
    assert order.trade_in_credit_fen == quote.value_fen
    assert order.balance_due_fen == order.total_fen - order.deposit_fen - quote.value_fen
    with pytest.raises(Problem):
        new_order(buyer, trade_in_quote_id=quote.pk)
    run_to_delivery(order, store)
    quote.refresh_from_db()
    assert quote.status == TradeInQuote.Status.HANDED_OVER
    assert quote.handover_odometer_km == 60_000 and quote.handed_over_at is not None
    assert Vehicle.objects.get(pk=old.pk).status == Vehicle.Status.TRADED_IN
    assert held("seller_payable") == order.total_fen
    assert spent("trade_in_inventory") == quote.value_fen


def test_expired_trade_in_quote_is_refused(buyer):
    old = owned_vehicle(buyer)
    quote = services.quote_trade_in(as_subject(buyer), vehicle_id=old.pk)
    TradeInQuote.objects.filter(pk=quote.pk).update(valid_until=dt.date.today() - dt.timedelta(days=1))
    with pytest.raises(Problem) as info:
        new_order(buyer, trade_in_quote_id=quote.pk)
    assert info.value.slug == "trade-in-unavailable"


def test_battery_subscription_starts_at_delivery_and_plan_change_next_cycle(buyer, store):
    trim = make_trim(msrp_yuan=101_800, swap=True, battery_yuan=36_000)
    plan, bigger = make_plan(), make_plan("plus-1000", 599)
    order = new_order(buyer, trim, battery_mode="subscription", battery_plan_id=plan.pk)
    run_to_delivery(order, store)
    sub = BatterySubscription.objects.get(order=order)
    sub, effective = services.change_battery_plan(as_subject(buyer), subscription_id=sub.pk, plan_id=bigger.pk)
    assert sub.plan_id == plan.pk and sub.next_plan_id == bigger.pk and effective > dt.date.today()
    assert services.roll_battery_cycles(dt.date.today()) == 0
    assert services.roll_battery_cycles(effective) == 1
    sub.refresh_from_db()
    assert sub.plan_id == bigger.pk and sub.next_plan_id is None


def test_plan_change_made_late_evening_utc_waits_for_the_next_cycle(buyer, store):
    """The change date is the Shanghai business date: 23:30 UTC on 1 Dec is already 2 Dec in Shanghai."""
    trim = make_trim(msrp_yuan=101_800, swap=True, battery_yuan=36_000)
    plan, bigger = make_plan(), make_plan("plus-1000", 599)
    order = new_order(buyer, trim, battery_mode="subscription", battery_plan_id=plan.pk)
    run_to_delivery(order, store)
    changed_at = dt.datetime(2026, 12, 1, 23, 30, tzinfo=dt.UTC)
    BatterySubscription.objects.filter(order=order).update(cycle_start=dt.date(2026, 12, 2), next_plan=bigger,
                                                            updated_at=changed_at)
    assert services.roll_battery_cycles(dt.date(2026, 12, 2)) == 0
    assert services.roll_battery_cycles(dt.date(2027, 1, 2)) == 1


def test_next_cycle_start():
    assert services.next_cycle_start(dt.date(2026, 1, 31), dt.date(2026, 2, 10)) == dt.date(2026, 2, 28)
    assert services.next_cycle_start(dt.date(2026, 1, 5), dt.date(2026, 12, 5)) == dt.date(2027, 1, 5)


def test_roll_battery_cycles_task_runs(db):
    from carloop.commerce.tasks import roll_battery_cycles

    result = roll_battery_cycles.enqueue(dt.date.today().isoformat())
    assert result.return_value == 0
