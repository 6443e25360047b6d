"""Commerce commands check their caller themselves, so a page, an API call and a CLI command get one answer:
an object the caller cannot read is a 404, one they read but may not act on a 403, and nothing changes."""

import datetime as dt
import uuid
from types import SimpleNamespace

import pytest
from django.utils import timezone

from carloop.commerce import services
from carloop.commerce.models import BatterySubscription, Campaign, CarOrder, OrderState, TestDriveBooking
from carloop.core.authz import ANONYMOUS
from tests.commerce.factories import (
    OPERATIONS,
    analyst_of,
    as_subject,
    make_campaign,
    make_plan,
    make_slot,
    make_station,
    make_trim,
    pay_balance,
    pay_deposit,
)
from tests.harness import status_of
from tests.vehicles.factories import owned_vehicle


@pytest.fixture
def who(actors):
    return {kind: as_subject(actors.user(kind)) for kind in
            ("customer", "other_customer", "risk_analyst", "store_manager", "manufacturer_analyst")}


@pytest.fixture
def paid_order(actors):
    order = services.create_order(as_subject(actors.user("customer")), trim_id=make_trim().pk, colour_code="white")
    pay_deposit(order)
    return pay_balance(order)


def test_order_commands_answer_404_to_strangers_and_403_to_readers_who_may_not_act(who, paid_order, actors):
    order_id = paid_order.pk
    assert status_of(lambda: services.cancel(who["other_customer"], order_id=order_id)) == 404
    assert status_of(lambda: services.cancel(who["risk_analyst"], order_id=order_id)) == 403  # operators read all
    assert status_of(lambda: services.cancel(ANONYMOUS, order_id=order_id)) == 401
    assert status_of(lambda: services.allocate_vehicle(who["customer"], order_id=order_id)) == 403  # the buyer reads it
    assert status_of(lambda: services.allocate_vehicle(who["store_manager"], order_id=order_id)) == 404
    assert status_of(lambda: services.seller_cannot_deliver(who["risk_analyst"], order_id=order_id, reason="x")) == 403
    assert CarOrder.objects.get(pk=order_id).state == OrderState.BALANCE_PAID
    services.allocate_vehicle(OPERATIONS, order_id=order_id)
    store = actors.org("store_manager")
    assert status_of(lambda: services.schedule_delivery(who["store_manager"], order_id=order_id, store_id=store.pk,
                                                        delivery_date=dt.date.today())) == 404
    services.schedule_delivery(OPERATIONS, order_id=order_id, store_id=store.pk, delivery_date=dt.date.today())
    assert status_of(lambda: services.deliver(who["customer"], order_id=order_id)) == 403
    assert services.deliver(who["store_manager"], order_id=order_id).state == OrderState.DELIVERED  # its store


def test_only_car_owners_order_quote_and_book(who, actors):
    trim = make_trim()
    for kind in ("risk_analyst", "store_manager"):
        assert status_of(lambda k=kind: services.create_order(who[k], trim_id=trim.pk, colour_code="white")) == 403
    assert not CarOrder.objects.exists()
    vehicle = owned_vehicle(actors.user("customer"))
    assert status_of(lambda: services.quote_trade_in(who["other_customer"], vehicle_id=vehicle.pk)) == 404
    assert status_of(lambda: services.quote_trade_in(OPERATIONS, vehicle_id=vehicle.pk)) == 403
    slot = make_slot(actors.org("store_manager"), trim.series_id)
    assert status_of(lambda: services.book_test_drive(who["store_manager"], slot_id=slot.pk)) == 403
    booking = services.book_test_drive(who["customer"], slot_id=slot.pk)
    assert status_of(lambda: services.cancel_test_drive(who["other_customer"], booking_id=booking.pk)) == 404
    assert status_of(lambda: services.cancel_test_drive(OPERATIONS, booking_id=booking.pk)) == 404
    assert TestDriveBooking.objects.get(pk=booking.pk).status == TestDriveBooking.Status.BOOKED


def test_battery_subscription_commands(who, actors):
    customer = actors.user("customer")
    vehicle = owned_vehicle(customer, trim=make_trim(swap=True, battery_yuan=36_000))
    plan, other = make_plan(), make_plan("plus", 599)
    sub = BatterySubscription.objects.create(customer=customer, vehicle=vehicle, plan=plan, cycle_start=dt.date.today())
    station = make_station()
    assert status_of(lambda: services.change_battery_plan(who["other_customer"], subscription_id=sub.pk,
                                                          plan_id=other.pk)) == 404
    assert status_of(lambda: services.change_battery_plan(OPERATIONS, subscription_id=sub.pk, plan_id=other.pk)) == 403
    assert status_of(lambda: services.record_swap(who["customer"], subscription_id=sub.pk, station_id=station.pk,
                                                  odometer_km=1_000)) == 403
    assert status_of(lambda: services.record_swap(who["risk_analyst"], subscription_id=sub.pk, station_id=station.pk,
                                                  odometer_km=1_000)) == 404
    sub.refresh_from_db()
    assert sub.next_plan_id is None and not sub.swaps.exists()


def test_campaign_commands(who, actors):
    maker = actors.org("manufacturer_analyst")
    closes = timezone.now() + dt.timedelta(days=5)
    assert status_of(lambda: services.create_campaign(who["customer"], title="x1", title_zh="x1", closes_at=closes)) == 403
    assert status_of(lambda: services.create_campaign(OPERATIONS, manufacturer_org_id=maker.pk, title="x1",
                                                      title_zh="x1", closes_at=closes)) == 403
    campaign = make_campaign(maker)
    assert status_of(lambda: services.close_campaign(who["customer"], campaign_id=campaign.pk)) == 403  # reads it
    assert status_of(lambda: services.close_campaign(who["store_manager"], campaign_id=campaign.pk)) == 404
    stranger = analyst_of(SimpleNamespace(pk=uuid.uuid4()))  # another manufacturer's analyst
    assert status_of(lambda: services.close_campaign(stranger, campaign_id=campaign.pk)) == 404
    assert status_of(lambda: services.answer_campaign(who["manufacturer_analyst"], campaign_id=campaign.pk,
                                                      answers={})) == 403
    assert Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.OPEN
    assert services.close_campaign(who["manufacturer_analyst"], campaign_id=campaign.pk).status == Campaign.Status.CLOSED
