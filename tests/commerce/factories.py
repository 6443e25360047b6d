"""Builders for commerce tests."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from carloop.commerce import payables, services
from carloop.commerce.models import BatteryPlan, Bundle, BundleItem, Campaign, CarOrder, SwapStation, TestDriveSlot
from carloop.core import authz
from carloop.core.authz import Subject
from carloop.identity import selectors as identity
from carloop.payments.simulator import pay_in_full
from tests.vehicles.factories import make_trim


def make_bundle(trim, price_yuan: int = 5_000) -> Bundle:
    bundle = Bundle.objects.create(trim=trim, code="maint-plus", kind=Bundle.Kind.MAINTENANCE, name="Maintenance plus",
                                   name_zh="养护加持版", price_fen=price_yuan * 100)
    BundleItem.objects.create(bundle=bundle, kind=BundleItem.Kind.MAINTENANCE, name="Minor service", name_zh="小保养",
                              standalone_price_fen=68_000, quantity=4, entitlement_code="minor-service", valid_months=24)
    BundleItem.objects.create(bundle=bundle, kind=BundleItem.Kind.ACCESSORY, name="Floor mats", name_zh="脚垫",
                              standalone_price_fen=89_900)
    return bundle


def make_plan(code: str = "std-500", monthly_yuan: int = 399) -> BatteryPlan:
    return BatteryPlan.objects.create(code=code, name=code, name_zh=code, min_kwh=Decimal(30), max_kwh=Decimal(50),
                                      monthly_km_limit=None, monthly_fen=monthly_yuan * 100)


def make_station() -> SwapStation:
    return SwapStation.objects.create(code="bj-001", name="Beijing 001", city="北京市", capacity=13)


def make_slot(store, series_id, capacity: int = 2, hours_ahead: int = 24) -> TestDriveSlot:
    return TestDriveSlot.objects.create(store=store, series_id=series_id, capacity=capacity,
                                        starts_at=timezone.now() + dt.timedelta(hours=hours_ahead))


# Operations staff acting in a story (commands check the caller's role, not that the user exists).
OPERATIONS = Subject(kind="operator", user_id=uuid.UUID("00000000-0000-7000-8000-00000000000a"), roles=frozenset({authz.OPS}))


def as_subject(user) -> Subject:
    """The caller a user is, as identity computes it for a request."""
    return identity.subject_for_user(user)


def analyst_of(manufacturer) -> Subject:
    return Subject(kind="org", user_id=uuid.uuid4(), memberships={manufacturer.pk: frozenset({authz.MANUFACTURER_ANALYST})})


def make_campaign(manufacturer) -> Campaign:
    return services.create_campaign(analyst_of(manufacturer), manufacturer_org_id=manufacturer.pk, title="New compact BEV",
                                    title_zh="新一代小型纯电车", closes_at=timezone.now() + dt.timedelta(days=30))


__all__ = ["OPERATIONS", "analyst_of", "as_subject", "make_bundle", "make_campaign", "make_plan", "make_slot",
           "make_station", "make_trim"]


def pay_deposit(order: CarOrder) -> CarOrder:
    """The buyer pays the deposit at the cashier (the simulator's page and its signed notification)."""
    return _pay(order, payables.DEPOSIT)


def pay_balance(order: CarOrder) -> CarOrder:
    """The buyer pays the balance in full at the cashier."""
    return _pay(order, payables.BALANCE)


def _pay(order: CarOrder, kind: str) -> CarOrder:
    buyer = identity.subject_for_user(get_user_model().objects.get(pk=order.customer_id))
    pay_in_full(kind=kind, ref=order.ref, subject=buyer)
    order.refresh_from_db()
    return order
