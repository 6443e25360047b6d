"""Test drives: booking a seat of a slot within its capacity, and cancelling it."""

from __future__ import annotations

import uuid

from django.db import transaction
from django.db.models import F

from carloop.commerce.models import TestDriveBooking, TestDriveSlot
from carloop.core import audit
from carloop.core.errors import Conflict, NotFound
from carloop.core.timeutil import now


@transaction.atomic
def book_test_drive(*, slot_id: uuid.UUID, customer_user_id: uuid.UUID, actor: str) -> TestDriveBooking:
    """Take one seat of a slot; the row lock and the conditional increment keep bookings within capacity."""
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
    audit.record(actor, "commerce.test_drive.booked", "commerce.test_drive", booking.pk, {"slot_id": str(slot.pk)})
    return booking


@transaction.atomic
def cancel_test_drive(*, booking_id: uuid.UUID, customer_user_id: uuid.UUID, actor: str) -> None:
    booking = (TestDriveBooking.objects.select_for_update()
               .filter(pk=booking_id, customer_id=customer_user_id).first())
    if booking is None:
        raise NotFound()
    if booking.status != TestDriveBooking.Status.BOOKED:
        raise Conflict("not-booked", "该预约已取消", "This booking is already cancelled")
    TestDriveSlot.objects.select_for_update().filter(pk=booking.slot_id).update(booked=F("booked") - 1)
    booking.status = TestDriveBooking.Status.CANCELLED
    booking.save(update_fields=["status", "updated_at"])
    audit.record(actor, "commerce.test_drive.cancelled", "commerce.test_drive", booking.pk, {})
