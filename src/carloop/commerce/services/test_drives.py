"""Test drives: booking a seat of a slot within its capacity, and cancelling it."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import F

from carloop.commerce import selectors
from carloop.commerce.models import TestDriveBooking, TestDriveSlot
from carloop.commerce.services._shared import acting_on
from carloop.core import audit
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, NotFound
from carloop.core.timeutil import now


@transaction.atomic
def book_test_drive(subject: Subject, *, slot_id: uuid.UUID) -> TestDriveBooking:
    """A car owner takes one seat of a slot; the row lock and the conditional increment keep bookings within
    capacity."""
    customer_user_id = subject.require_customer("仅限车主用户预约", "Only car-owner accounts can book")
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
    audit.record(subject.ref, "commerce.test_drive.booked", "commerce.test_drive", booking.pk, {"slot_id": str(slot.pk)})
    return booking


@transaction.atomic
def cancel_test_drive(subject: Subject, *, booking_id: uuid.UUID) -> TestDriveBooking:
    """The customer cancels their booking and frees the seat."""
    booking = acting_on(subject, selectors.bookings_readable_by, booking_id, lambda s, b: b.customer_id == s.user_id)
    if booking.status != TestDriveBooking.Status.BOOKED:
        raise Conflict("not-booked", "该预约已取消", "This booking is already cancelled")
    TestDriveSlot.objects.select_for_update().filter(pk=booking.slot_id).update(booked=F("booked") - 1)
    booking.status = TestDriveBooking.Status.CANCELLED
    booking.save(update_fields=["status", "updated_at"])
    audit.record(subject.ref, "commerce.test_drive.cancelled", "commerce.test_drive", booking.pk, {})
    return booking
