import datetime as dt
import threading

import pytest
from django.db import connection

from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.core.timeutil import now
from carloop.parts import selectors, services
from carloop.parts.models import PartsOrder, Stock
from carloop.parts.services import OrderLine
from tests.commerce.factories import as_subject
from tests.parts.factories import OPERATIONS, make_part, stock, two_warehouses


@pytest.mark.django_db
def test_order_reserves_preferred_warehouse_first_and_splits(actors):
    near, far = two_warehouses()
    part = make_part(price_fen=5_000)
    stock(part, near, 3)
    stock(part, far, 10)
    manager = as_subject(actors.user("store_manager"))
    store = actors.org("store_manager")
    order = services.place_order(manager, store_id=store.pk, lines=[OrderLine(part.pk, 5)], preferred_warehouse_id=near.pk)
    assert order.status == "reserved" and order.total_fen == 25_000
    assert sorted((line.warehouse_id == near.pk, line.quantity) for line in order.lines.all()) == [(False, 2), (True, 3)]
    assert [(s.warehouse_id == near.pk, s.on_hand, s.reserved) for s in selectors.stock_of(part.pk)] == [(True, 3, 3), (False, 10, 2)]
    assert selectors.available_units(part.pk) == 8
    with pytest.raises(Problem) as info:
        services.place_order(manager, store_id=store.pk, lines=[OrderLine(part.pk, 9)])
    assert info.value.slug == "insufficient-stock" and info.value.extra["available"] == 8
    services.cancel_order(manager, order_id=order.pk)
    assert selectors.available_units(part.pk) == 13
    with pytest.raises(Problem) as info:
        services.cancel_order(manager, order_id=order.pk)
    assert info.value.status == 409


@pytest.mark.django_db
def test_order_rules(actors):
    warehouse, _ = two_warehouses()
    boxed = make_part(pack_size=4)
    stock(boxed, warehouse, 40)
    manager = as_subject(actors.user("store_manager"))
    store = actors.org("store_manager")
    for lines, slug in (([], "order-empty"), ([OrderLine(boxed.pk, 6)], "bad-quantity"),
                        ([OrderLine(boxed.pk, 4), OrderLine(boxed.pk, 4)], "duplicate-line")):
        with pytest.raises(Problem) as info:
            services.place_order(manager, store_id=store.pk, lines=lines)
        assert info.value.slug == slug and info.value.status == 422
    assert services.place_order(manager, store_id=store.pk, lines=[OrderLine(boxed.pk, 8)]).total_fen == 8 * boxed.price_fen
    for who, status in ((Subject(kind="anonymous"), 401), (as_subject(actors.user("supplier_staff")), 403),
                        (as_subject(actors.user("technician")), 403), (OPERATIONS, 403)):
        with pytest.raises(Problem) as info:
            services.place_order(who, store_id=store.pk, lines=[OrderLine(boxed.pk, 4)])
        assert info.value.status == status


@pytest.mark.django_db
def test_another_store_cannot_see_or_cancel_the_order(actors):
    warehouse, _ = two_warehouses()
    part = make_part()
    stock(part, warehouse, 5)
    order = services.place_order(as_subject(actors.user("store_manager")), store_id=actors.org("store_manager").pk,
                                 lines=[OrderLine(part.pk, 1)])
    stranger = as_subject(actors.user("supplier_staff"))
    with pytest.raises(Problem) as info:
        selectors.get_order(stranger, order.pk)
    assert info.value.status == 404
    with pytest.raises(Problem) as info:
        services.cancel_order(stranger, order_id=order.pk)
    assert info.value.status == 404
    assert selectors.get_order(OPERATIONS, order.pk) == order


@pytest.mark.django_db
def test_a_part_that_does_not_fit_the_vin_needs_an_override(actors):
    from carloop.vehicles.models import Vehicle
    from tests.vehicles.factories import make_trim

    trim = make_trim(stock=1)
    vin = Vehicle.objects.get(trim=trim).vin
    warehouse, _ = two_warehouses()
    fits, misfit = make_part(), make_part()
    services.add_fitment(OPERATIONS, part_id=fits.pk, trim_id=trim.pk)
    stock(fits, warehouse, 5)
    stock(misfit, warehouse, 5)
    manager, store = as_subject(actors.user("store_manager")), actors.org("store_manager")
    assert services.place_order(manager, store_id=store.pk, vin=vin, lines=[OrderLine(fits.pk, 1)]).vin == vin
    with pytest.raises(Problem) as info:
        services.place_order(manager, store_id=store.pk, vin=vin, lines=[OrderLine(fits.pk, 1), OrderLine(misfit.pk, 1)])
    assert info.value.slug == "part-does-not-fit" and info.value.extra["part_ids"] == [str(misfit.pk)]
    assert selectors.available_units(misfit.pk) == 5
    order = services.place_order(manager, store_id=store.pk, vin=vin, fitment_override=True, lines=[OrderLine(misfit.pk, 1)])
    assert order.fitment_override


@pytest.mark.django_db
def test_expiry_releases_the_reservation(actors):
    warehouse, _ = two_warehouses()
    part = make_part()
    stock(part, warehouse, 2)
    order = services.place_order(as_subject(actors.user("store_manager")), store_id=actors.org("store_manager").pk,
                                 lines=[OrderLine(part.pk, 2)])
    assert services.expire_orders() == 0
    assert services.expire_orders(now() + services.ORDER_HOLD + dt.timedelta(seconds=1)) == 1
    order.refresh_from_db()
    assert order.status == "expired" and selectors.available_units(part.pk) == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_stores_ordering_the_last_units_never_oversell():
    from carloop.core import authz
    from carloop.core.seeding import SeedContext, fake_uscc
    from carloop.identity import services as identity

    ctx = SeedContext(scale="demo", stdout=None, quiet=True, seed=17)
    buyers = []
    for i in range(16):
        org = identity.create_organisation(kind="store", name=f"并发门店{i}", uscc_code=fake_uscc(ctx))
        buyers.append((org.pk, Subject(kind="org", user_id=org.pk, memberships={org.pk: frozenset({authz.STORE_MANAGER})})))
    near, far = two_warehouses()
    part = make_part()
    stock(part, near, 3)
    stock(part, far, 2)  # 5 units left in the network, 16 stores want 2 each
    barrier = threading.Barrier(len(buyers))
    outcomes: list[str] = []

    def attempt(store_id, subject):
        try:
            barrier.wait()
            services.place_order(subject, store_id=store_id, lines=[OrderLine(part.pk, 2)])
            outcomes.append("ordered")
        except Problem as problem:
            outcomes.append(problem.slug)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=buyer) for buyer in buyers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes.count("ordered") == 2  # 2 + 2 units; the fifth unit cannot make a pair
    assert outcomes.count("insufficient-stock") == 14
    rows = Stock.objects.filter(part=part)
    assert sum(s.reserved for s in rows) == 4 and all(s.reserved <= s.on_hand for s in rows)
    assert sum(line.quantity for o in PartsOrder.objects.filter(status="reserved") for line in o.lines.all()) == 4
