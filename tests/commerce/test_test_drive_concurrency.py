import threading

import pytest
from django.db import connection

from carloop.commerce import services
from carloop.commerce.models import TestDriveBooking, TestDriveSlot
from carloop.core.authz import Subject
from carloop.core.errors import Problem
from tests.commerce.factories import as_subject, make_slot, make_trim


def book_concurrently(slot_id, customers):
    barrier = threading.Barrier(len(customers))
    outcomes: list[str] = []

    def attempt(customer_id):
        try:
            barrier.wait()
            services.book_test_drive(Subject(kind="customer", user_id=customer_id), slot_id=slot_id)
            outcomes.append("booked")
        except Problem as problem:
            outcomes.append(problem.slug)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(c,)) for c in customers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def test_sequential_bookings_stop_at_capacity(actors):
    slot = make_slot(actors.org("store_manager"), make_trim().series_id, capacity=1)
    customer, other = as_subject(actors.user("customer")), as_subject(actors.user("other_customer"))
    services.book_test_drive(customer, slot_id=slot.pk)
    with pytest.raises(Problem) as info:
        services.book_test_drive(other, slot_id=slot.pk)
    assert info.value.slug == "slot-full"
    with pytest.raises(Problem) as info:
        services.book_test_drive(customer, slot_id=slot.pk)
    assert info.value.slug == "already-booked"
    booking = TestDriveBooking.objects.get(slot=slot)
    services.cancel_test_drive(customer, booking_id=booking.pk)
    services.book_test_drive(other, slot_id=slot.pk)
    slot.refresh_from_db()
    assert slot.booked == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_bookings_never_exceed_capacity():
    from carloop.core.seeding import SeedContext, fake_uscc
    from carloop.identity import services as identity

    store = identity.create_organisation(kind="store", name="并发测试门店", uscc_code=fake_uscc(
        SeedContext(scale="demo", stdout=None, quiet=True, seed=11)))
    customers = [identity.register_customer(phone=f"1370000{i:04d}", password="Tr0ub4dour&3x").pk for i in range(12)]
    slot = make_slot(store, make_trim().series_id, capacity=3)
    outcomes = book_concurrently(slot.pk, customers)
    assert outcomes.count("booked") == 3
    assert outcomes.count("slot-full") == 9
    slot = TestDriveSlot.objects.get(pk=slot.pk)
    assert slot.booked == 3 == TestDriveBooking.objects.filter(slot=slot, status="booked").count()
