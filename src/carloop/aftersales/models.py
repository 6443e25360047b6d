"""After-sales tables: cities, the store network (opening hours, bays, labour rate, services offered), the
service catalog with its standard labour hours and parts at platform prices, bookable slots and bookings."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from carloop.core.i18n import lt
from carloop.core.models import Entity


class City(Entity):
    """A prefecture-level city by its administrative division code, with the coordinates of its centre."""

    code = models.CharField(max_length=6, unique=True)
    name = models.CharField(max_length=40)
    name_en = models.CharField(max_length=40)
    province = models.CharField(max_length=40)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)

    class Meta:
        verbose_name = lt("城市", "city")
        verbose_name_plural = lt("城市", "cities")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name


class Store(Entity):
    class Kind(models.TextChoices):
        SELF_OPERATED = "self_operated", lt("直营店", "Self-operated")
        FRANCHISE = "franchise", lt("京车会加盟店", "Franchise")
        PARTNER = "partner", lt("合作店", "Partner")
        SPECIAL = "special", lt("专项店", "Special")

    organisation = models.ForeignKey("identity.Organisation", on_delete=models.PROTECT, related_name="+")
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="stores")
    address = models.CharField(max_length=200)
    latitude = models.DecimalField(max_digits=9, decimal_places=6)
    longitude = models.DecimalField(max_digits=9, decimal_places=6)
    bays = models.PositiveSmallIntegerField()
    labour_rate_fen = models.BigIntegerField(help_text="Price of one labour hour, in fen")
    rating = models.DecimalField(max_digits=2, decimal_places=1, default=0)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = lt("门店", "store")
        verbose_name_plural = lt("门店", "stores")
        ordering = ["code"]
        indexes = [models.Index(fields=["latitude", "longitude"], name="aftersales_store_position")]
        constraints = [
            models.CheckConstraint(condition=models.Q(bays__gte=1), name="aftersales_store_has_bays"),
            models.CheckConstraint(condition=models.Q(labour_rate_fen__gt=0), name="aftersales_store_rate_positive"),
        ]

    def __str__(self) -> str:
        return self.name


class OpeningHours(Entity):
    """When a store takes cars on one weekday (0 = Monday), Asia/Shanghai time; a missing weekday is closed."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="hours")
    weekday = models.PositiveSmallIntegerField()
    opens = models.TimeField()
    closes = models.TimeField()

    class Meta:
        ordering = ["weekday"]
        constraints = [
            models.UniqueConstraint(fields=["store", "weekday"], name="aftersales_hours_one_per_day"),
            models.CheckConstraint(condition=models.Q(weekday__lte=6), name="aftersales_hours_weekday"),
            models.CheckConstraint(condition=models.Q(opens__lt=models.F("closes")), name="aftersales_hours_order"),
        ]


class ServiceItem(Entity):
    """A catalog service with its standard labour hours; its parts are priced at the platform price."""

    class Category(models.TextChoices):
        MAINTENANCE = "maintenance", lt("保养", "Maintenance")
        REPAIR = "repair", lt("维修", "Repair")
        BODYWORK = "bodywork", lt("钣金喷漆", "Bodywork and paint")
        TYRES = "tyres", lt("轮胎", "Tyres")
        FILM = "film", lt("贴膜", "Film")
        BATTERY = "battery", lt("电池检测", "Battery check")

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    category = models.CharField(max_length=12, choices=Category.choices)
    labour_hours = models.DecimalField(max_digits=5, decimal_places=2)

    class Meta:
        verbose_name = lt("服务项目", "service")
        verbose_name_plural = lt("服务项目", "services")
        ordering = ["code"]
        constraints = [models.CheckConstraint(condition=models.Q(labour_hours__gt=0), name="aftersales_service_hours")]

    def __str__(self) -> str:
        return self.name


class ServicePart(Entity):
    service = models.ForeignKey(ServiceItem, on_delete=models.CASCADE, related_name="parts")
    part_no = models.CharField(max_length=40)
    name = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    quantity = models.DecimalField(max_digits=7, decimal_places=2)
    unit_price_fen = models.BigIntegerField(help_text="Platform price of one unit, in fen")

    class Meta:
        ordering = ["part_no"]
        constraints = [
            models.UniqueConstraint(fields=["service", "part_no"], name="aftersales_part_once_per_service"),
            models.CheckConstraint(condition=models.Q(quantity__gt=0, unit_price_fen__gte=0), name="aftersales_part_amounts"),
        ]


class StoreService(Entity):
    """A service a store offers."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="offered")
    service = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["store", "service"], name="aftersales_store_service_once")]


class Slot(Entity):
    """One hour at a store: ``capacity`` is the store's bays, ``booked`` how many of them bookings hold."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="slots")
    starts_at = models.DateTimeField()
    capacity = models.PositiveSmallIntegerField()
    booked = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["store", "starts_at"], name="aftersales_slot_once"),
            models.CheckConstraint(condition=models.Q(booked__lte=models.F("capacity")), name="aftersales_slot_not_overbooked"),
        ]


class Booking(Entity):
    class Status(models.TextChoices):
        BOOKED = "booked", lt("已预约", "Booked")
        CANCELLED = "cancelled", lt("已取消", "Cancelled")

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="bookings")
    service = models.ForeignKey(ServiceItem, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField()
    hours = models.PositiveSmallIntegerField(help_text="Consecutive one-hour slots the booking holds")
    parts_fen = models.BigIntegerField()
    labour_fen = models.BigIntegerField()
    total_fen = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)
    request_key = models.CharField(max_length=200, null=True, blank=True, unique=True)

    class Meta:
        verbose_name = lt("预约", "booking")
        verbose_name_plural = lt("预约", "bookings")
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["store", "starts_at"]), models.Index(fields=["customer", "starts_at"])]
        constraints = [models.CheckConstraint(condition=models.Q(total_fen=models.F("parts_fen") + models.F("labour_fen")),
                                              name="aftersales_booking_total")]
