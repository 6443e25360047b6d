"""After-sales commands: booking a store's bays for a car in the owner's garage, and cancelling a booking.

A booking holds consecutive one-hour slots (the service's labour hours rounded up). Each slot row is created on
first use with the store's bays as its capacity, locked in time order, and taken with a conditional increment,
so concurrent bookings never hold more bays than the store has (a check constraint backs it)."""

from __future__ import annotations

import uuid
from datetime import datetime

from django.db import transaction
from django.db.models import F

from carloop.aftersales import selectors
from carloop.aftersales.models import Booking, Slot
from carloop.core import audit, events
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound, Problem
from carloop.core.timeutil import SHANGHAI, now
from carloop.vehicles import selectors as vehicles


def _bad(slug: str, pointer: str, zh: str, en: str) -> Problem:
    return Invalid(slug, zh, en, errors=[FieldError(pointer, zh, en)])


@transaction.atomic
def book(subject: Subject, *, store_id: uuid.UUID, service_code: str, vehicle_id: uuid.UUID, starts_at: datetime,
         request_key: str | None = None) -> Booking:
    """A car owner books a store's service for one of their cars at a whole hour within opening hours."""
    customer_id = subject.require_customer("仅限车主用户预约", "Only car-owner accounts can book")
    if request_key:
        earlier = Booking.objects.filter(request_key=request_key).first()
        if earlier is not None:
            if earlier.customer_id != customer_id:
                raise Conflict("request-key-taken", "该请求编号已被使用", "This request key is already taken")
            return earlier
    store = selectors.get_store(store_id)
    if store is None:
        raise NotFound("未找到该门店", "Store not found")
    service = selectors.get_service(service_code)
    if service is None or not store.offered.filter(service=service).exists():
        raise _bad("service-not-offered", "/service_code", "该门店不提供此项服务", "This store does not offer this service")
    if vehicles.get_owned_vehicle(customer_id, vehicle_id) is None:
        raise _bad("not-your-vehicle", "/vehicle_id", "该车辆不在您的车库中", "This car is not in your garage")
    local = starts_at.astimezone(SHANGHAI)
    if local.minute or local.second or local.microsecond:
        raise _bad("slot-not-on-the-hour", "/starts_at", "预约须从整点开始", "A booking starts on the hour")
    if starts_at <= now():
        raise _bad("slot-in-past", "/starts_at", "该时段已开始", "This slot has already started")
    if starts_at > now() + selectors.BOOKING_HORIZON:
        raise _bad("slot-too-far", "/starts_at", "最多可预约 60 天内的时段", "Bookings open at most 60 days ahead")
    hours = selectors.hours_needed(service)
    if not selectors.within_opening_hours(selectors.opening_hours(store), starts_at, selectors.SLOT * hours):
        raise _bad("store-closed", "/starts_at", "该时段门店未营业", "The store is not open for this whole slot")

    times = [starts_at + selectors.SLOT * i for i in range(hours)]
    Slot.objects.bulk_create([Slot(store=store, starts_at=t, capacity=store.bays) for t in times], ignore_conflicts=True)
    slots = list(Slot.objects.select_for_update().filter(store=store, starts_at__in=times).order_by("starts_at"))
    for slot in slots:
        if not Slot.objects.filter(pk=slot.pk, booked__lt=F("capacity")).update(booked=F("booked") + 1):
            raise Conflict("slot-full", "该时段工位已约满", "Every bay is booked at this time",
                           full_at=slot.starts_at.isoformat())
    price = selectors.quote(store, service)
    booking = Booking.objects.create(store=store, service=service, customer_id=customer_id, vehicle_id=vehicle_id,
                                     starts_at=starts_at, hours=hours, parts_fen=price.parts_fen,
                                     labour_fen=price.labour_fen, total_fen=price.total_fen,
                                     request_key=request_key or None)
    audit.record(subject.ref, "aftersales.booking.booked", "aftersales.booking", booking.pk,
                 {"store_id": str(store.pk), "starts_at": starts_at.isoformat(), "total_fen": price.total_fen})
    events.publish("aftersales.booking.booked", f"aftersales:booking:{booking.pk}",
                   {"store_id": str(store.pk), "vehicle_id": str(vehicle_id), "service": service.code,
                    "starts_at": starts_at.isoformat()}, actor=subject.ref)
    return booking


@transaction.atomic
def cancel_booking(subject: Subject, *, booking_id: uuid.UUID) -> Booking:
    """The owner, the store's manager or operations cancel a booking before it starts; its bays are free again."""
    subject.require_authenticated()
    booking = selectors.bookings_readable_by(subject).select_related(None).select_for_update(of=("self",)) \
        .filter(pk=booking_id).select_related("store").first()
    if booking is None:
        raise NotFound()
    if not selectors.may_cancel(subject, booking):
        raise Forbidden()
    if booking.status != Booking.Status.BOOKED:
        raise Conflict("not-booked", "该预约已取消", "This booking is already cancelled")
    if booking.starts_at <= now():
        raise Conflict("booking-started", "预约时间已到，无法取消", "The booking has started and cannot be cancelled")
    times = [booking.starts_at + selectors.SLOT * i for i in range(booking.hours)]
    locked = Slot.objects.select_for_update().filter(store_id=booking.store_id, starts_at__in=times).order_by("starts_at")
    Slot.objects.filter(pk__in=[s.pk for s in locked]).update(booked=F("booked") - 1)
    booking.status = Booking.Status.CANCELLED
    booking.save(update_fields=["status", "updated_at"])
    audit.record(subject.ref, "aftersales.booking.cancelled", "aftersales.booking", booking.pk, {})
    events.publish("aftersales.booking.cancelled", f"aftersales:booking:{booking.pk}", {"store_id": str(booking.store_id)},
                   actor=subject.ref)
    return booking
