"""Battery subscriptions (车电分离): plan changes at the next monthly cycle, and swaps at stations."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction
from django.db.models import QuerySet

from carloop.commerce import selectors
from carloop.commerce.models import BatteryPlan, BatterySubscription, SwapRecord, SwapStation
from carloop.commerce.services._shared import _bad, acting_on
from carloop.core import audit, authz
from carloop.core.authz import Subject
from carloop.core.errors import NotFound
from carloop.core.timeutil import business_date, now
from carloop.vehicles import services as vehicles


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


def _subscriber(subject: Subject, sub: BatterySubscription) -> bool:
    return subject.kind == "customer" and sub.customer_id == subject.user_id


def _active(subject: Subject) -> QuerySet[BatterySubscription]:
    return selectors.subscriptions_readable_by(subject).filter(status=BatterySubscription.Status.ACTIVE)


@transaction.atomic
def change_battery_plan(subject: Subject, *, subscription_id: uuid.UUID,
                        plan_id: uuid.UUID) -> tuple[BatterySubscription, dt.date]:
    """The subscriber changes plan from the next cycle; returns the subscription and that date."""
    sub = acting_on(subject, _active, subscription_id, _subscriber)
    actor = subject.ref
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
def record_swap(subject: Subject, *, subscription_id: uuid.UUID, station_id: uuid.UUID, odometer_km: int) -> SwapRecord:
    """Operations (who run the swap stations) record a swap and the odometer read at it."""
    sub = acting_on(subject, _active, subscription_id, lambda s, _: s.has_role(authz.OPS))
    station = SwapStation.objects.filter(pk=station_id).first()
    if station is None:
        raise NotFound()
    vehicles.record_odometer(vehicle_id=sub.vehicle_id, km=odometer_km, source="swap")
    return SwapRecord.objects.create(subscription=sub, station=station, swapped_at=now(), odometer_km=odometer_km)
