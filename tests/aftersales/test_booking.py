"""Transparent prices to the fen, nearest-store search, and booking within a store's bays."""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal

import pytest
from django.db import connection

from carloop.aftersales import selectors, services
from carloop.aftersales.models import Booking, Slot, Store
from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.core.timeutil import SHANGHAI
from tests.aftersales.factories import make_service, make_store, next_hour
from tests.commerce.factories import as_subject
from tests.harness import status_of
from tests.vehicles.factories import owned_vehicle


def _problem(command) -> Problem:
    with pytest.raises(Problem) as info:
        command()
    return info.value


@pytest.mark.django_db
def test_price_is_parts_at_platform_price_plus_labour_hours_times_rate_each_line_rounded_half_up():
    # 4.5 L oil at ¥68.33 = 30,748.5 fen → 30,749; filter 1 × ¥45.00; 1.5 h × ¥173.33 = 25,999.5 fen → 26,000
    service = make_service("minor", hours="1.50", parts=(("OIL-0W20", "4.50", 6_833), ("FLT-01", "1", 4_500)))
    store = Store(labour_rate_fen=17_333)
    price = selectors.quote(store, service)
    assert [line.amount_fen for line in price.lines] == [4_500, 30_749, 26_000]
    assert (price.parts_fen, price.labour_fen, price.total_fen) == (35_249, 26_000, 61_249)
    assert price.lines[-1].kind == "labour" and price.lines[-1].quantity == Decimal("1.50")


@pytest.mark.django_db
def test_a_service_without_parts_costs_its_labour():
    assert selectors.quote(Store(labour_rate_fen=20_000), make_service(hours="0.25")).total_fen == 5_000


def test_haversine_beijing_to_shanghai():
    assert 1060 < selectors.haversine_km(39.9042, 116.4074, 31.2304, 121.4737) < 1075


@pytest.mark.django_db
def test_nearest_stores_are_ordered_by_distance_and_filtered(actors):
    org = actors.org("store_manager")
    oil = make_service("oil")
    near = make_store(org, lat="39.910000", lng="116.410000", services=[oil], rating="4.8")
    farther = make_store(org, lat="39.990000", lng="116.480000", services=[oil], rating="4.0", kind=Store.Kind.PARTNER)
    no_oil = make_store(org, lat="39.905000", lng="116.408000")
    make_store(org, lat="31.230400", lng="121.473700", services=[oil])  # Shanghai
    point = {"latitude": Decimal("39.9042"), "longitude": Decimal("116.4074")}
    hits = selectors.nearest_stores(**point, radius_km=50)
    assert [h.store for h in hits] == [no_oil, near, farther]
    assert hits[0].distance_km < hits[1].distance_km < hits[2].distance_km < 20
    assert [h.store for h in selectors.nearest_stores(**point, service_code="oil")] == [near, farther]
    assert [h.store for h in selectors.nearest_stores(**point, kinds=["partner"])] == [farther]
    assert [h.store for h in selectors.nearest_stores(**point, service_code="oil", min_rating=Decimal("4.5"))] == [near]
    assert [h.store for h in selectors.nearest_stores(**point, radius_km=1)] == [no_oil, near]


@pytest.mark.django_db
def test_open_now_filter_follows_opening_hours(actors):
    org = actors.org("store_manager")
    day = make_store(org, opens=dt.time(8), closes=dt.time(18))
    point = {"latitude": day.latitude, "longitude": day.longitude}
    at_ten = next_hour(hour=10)
    assert [h.store for h in selectors.nearest_stores(**point, open_at=at_ten)] == [day]
    assert selectors.nearest_stores(**point, open_at=at_ten.replace(hour=20)) == []


@pytest.fixture
def world(actors):
    service = make_service("minor", hours="1.00", parts=(("OIL", "4", 6_000),))
    store = make_store(actors.org("store_manager"), bays=2, rate_fen=18_000, services=[service],
                       opens=dt.time(8), closes=dt.time(18))
    owner, other = actors.user("customer"), actors.user("other_customer")
    return store, service, (as_subject(owner), owned_vehicle(owner)), (as_subject(other), owned_vehicle(other))


def test_booking_takes_a_bay_at_the_quoted_price_and_a_full_slot_refuses(world, actors):
    store, service, (owner, car), (other, other_car) = world
    at = next_hour(hour=10)
    first = services.book(owner, store_id=store.pk, service_code="minor", vehicle_id=car.pk, starts_at=at)
    assert (first.parts_fen, first.labour_fen, first.total_fen) == (24_000, 18_000, 42_000)
    services.book(other, store_id=store.pk, service_code="minor", vehicle_id=other_car.pk, starts_at=at)
    full = _problem(lambda: services.book(owner, store_id=store.pk, service_code="minor", vehicle_id=car.pk, starts_at=at))
    assert (full.status, full.slug) == (409, "slot-full")
    assert Slot.objects.get(store=store, starts_at=at).booked == 2
    assert selectors.earliest_free_slot(store, service, after=at - dt.timedelta(minutes=30)) == at + dt.timedelta(hours=1)
    services.cancel_booking(owner, booking_id=first.pk)
    assert Slot.objects.get(store=store, starts_at=at).booked == 1
    services.book(owner, store_id=store.pk, service_code="minor", vehicle_id=car.pk, starts_at=at)
    assert Booking.objects.filter(store=store, starts_at=at, status="booked").count() == 2


def test_a_two_hour_service_holds_two_slots(world, actors):
    store, _, (owner, car), (other, other_car) = world
    long = make_service("major", hours="1.50")
    store.offered.create(service=long)
    store.bays = 1
    store.save()
    at = next_hour(hour=10)
    booking = services.book(owner, store_id=store.pk, service_code="major", vehicle_id=car.pk, starts_at=at)
    assert booking.hours == 2 and booking.labour_fen == 27_000
    clash = _problem(lambda: services.book(other, store_id=store.pk, service_code="minor", vehicle_id=other_car.pk,
                                           starts_at=at + dt.timedelta(hours=1)))
    assert clash.slug == "slot-full"
    late = _problem(lambda: services.book(other, store_id=store.pk, service_code="major", vehicle_id=other_car.pk,
                                          starts_at=at.replace(hour=17)))
    assert late.slug == "store-closed"
    assert not Slot.objects.filter(store=store, starts_at=at.replace(hour=17)).exists() or \
        Slot.objects.get(store=store, starts_at=at.replace(hour=17)).booked == 0


@pytest.mark.parametrize(("change", "slug"), [
    ({"starts_at": next_hour(hour=10) + dt.timedelta(minutes=30)}, "slot-not-on-the-hour"),
    ({"starts_at": next_hour(days=-1, hour=10)}, "slot-in-past"),
    ({"starts_at": next_hour(days=90, hour=10)}, "slot-too-far"),
    ({"starts_at": next_hour(hour=7)}, "store-closed"),
    ({"service_code": "nonexistent"}, "service-not-offered"),
    ({"vehicle_id": "other"}, "not-your-vehicle"),
])
def test_bad_bookings_are_422_and_book_nothing(world, change, slug):
    store, _, (owner, car), (_, other_car) = world
    args = {"store_id": store.pk, "service_code": "minor", "vehicle_id": car.pk, "starts_at": next_hour(hour=10)} | change
    if args["vehicle_id"] == "other":
        args["vehicle_id"] = other_car.pk
    problem = _problem(lambda: services.book(owner, **args))
    assert (problem.status, problem.slug) == (422, slug)
    assert not Booking.objects.exists() and not Slot.objects.filter(booked__gt=0).exists()


def test_who_may_book_and_cancel(world, actors):
    store, _, (owner, car), (other, _) = world
    args = {"store_id": store.pk, "service_code": "minor", "vehicle_id": car.pk, "starts_at": next_hour(hour=11)}
    assert status_of(lambda: services.book(Subject(kind="anonymous"), **args)) == 401
    assert status_of(lambda: services.book(as_subject(actors.user("store_manager")), **args)) == 403
    assert status_of(lambda: services.book(owner, **(args | {"store_id": store.organisation_id}))) == 404
    booking = services.book(owner, **args)
    assert status_of(lambda: services.cancel_booking(other, booking_id=booking.pk)) == 404
    assert status_of(lambda: services.cancel_booking(as_subject(actors.user("supplier_staff")), booking_id=booking.pk)) == 404
    assert status_of(lambda: services.cancel_booking(as_subject(actors.user("technician")), booking_id=booking.pk)) == 404
    manager = as_subject(actors.user("store_manager"))
    assert selectors.get_booking(manager, booking.pk) == booking
    services.cancel_booking(manager, booking_id=booking.pk)
    assert status_of(lambda: services.cancel_booking(owner, booking_id=booking.pk)) == 409


def test_the_same_request_key_books_once(world):
    store, _, (owner, car), (other, other_car) = world
    args = {"store_id": store.pk, "service_code": "minor", "starts_at": next_hour(hour=12), "request_key": "k-1"}
    first = services.book(owner, vehicle_id=car.pk, **args)
    assert services.book(owner, vehicle_id=car.pk, **args) == first
    assert status_of(lambda: services.book(other, vehicle_id=other_car.pk, **args)) == 409
    assert Slot.objects.get(store=store, starts_at=args["starts_at"]).booked == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_never_take_more_bays_than_the_store_has():
    from carloop.core.seeding import SeedContext, fake_uscc
    from carloop.identity import services as identity

    org = identity.create_organisation(kind="store", name="并发测试养车门店", uscc_code=fake_uscc(
        SeedContext(scale="demo", stdout=None, quiet=True, seed=16)))
    service = make_service("minor")
    store = make_store(org, bays=3, services=[service], opens=dt.time(8), closes=dt.time(18))
    owners = [identity.register_customer(phone=f"1371600{i:04d}", password="Tr0ub4dour&3x") for i in range(16)]
    cars = {o.pk: owned_vehicle(o).pk for o in owners}
    at = next_hour(hour=9).astimezone(SHANGHAI)
    barrier = threading.Barrier(len(owners))
    outcomes: list[str] = []

    def attempt(user_id):
        try:
            barrier.wait()
            services.book(Subject(kind="customer", user_id=user_id), store_id=store.pk, service_code="minor",
                          vehicle_id=cars[user_id], starts_at=at)
            outcomes.append("booked")
        except Problem as problem:
            outcomes.append(problem.slug)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(o.pk,)) for o in owners]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(outcomes)) == ["booked", "slot-full"]
    assert outcomes.count("booked") == 3
    assert Slot.objects.get(store=store, starts_at=at).booked == 3 == Booking.objects.filter(store=store).count()
