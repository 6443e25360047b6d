"""Vehicle catalog (brand → series → model year → trim, colours, options), vehicles with VIN and plate, the
odometer history and condition reports."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from carloop.core.i18n import lt
from carloop.core.models import Entity
from carloop.vehicles.contracts import POWERTRAINS

Powertrain = models.TextChoices("Powertrain", [(code, (code, lt(zh, en))) for code, (zh, en) in POWERTRAINS.items()])  # type: ignore[call-overload]


class BrandTier(models.TextChoices):
    PREMIUM = "premium", lt("豪华", "Premium")
    MAINSTREAM = "mainstream", lt("主流", "Mainstream")
    VALUE = "value", lt("经济", "Value")


class Brand(Entity):
    slug = models.SlugField(max_length=50, unique=True)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100)
    tier = models.CharField(max_length=12, choices=BrandTier.choices, default=BrandTier.MAINSTREAM)
    manufacturer = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="+")

    class Meta:
        verbose_name = lt("品牌", "brand")
        verbose_name_plural = lt("品牌", "brands")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Series(Entity):
    brand = models.ForeignKey(Brand, on_delete=models.PROTECT, related_name="series")
    slug = models.SlugField(max_length=80, unique=True)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100)
    body_type = models.CharField(max_length=20)

    class Meta:
        verbose_name = lt("车系", "series")
        verbose_name_plural = lt("车系", "series")
        ordering = ["brand__name", "name"]

    def __str__(self) -> str:
        return f"{self.brand.name} {self.name}"


class Trim(Entity):
    series = models.ForeignKey(Series, on_delete=models.PROTECT, related_name="trims")
    model_year = models.PositiveSmallIntegerField()
    code = models.SlugField(max_length=100, unique=True)
    name = models.CharField(max_length=120)
    name_zh = models.CharField(max_length=120)
    powertrain = models.CharField(max_length=4, choices=Powertrain.choices)
    battery_kwh = models.DecimalField(max_digits=6, decimal_places=1, null=True, blank=True)
    cltc_range_km = models.PositiveIntegerField(null=True, blank=True)
    seats = models.PositiveSmallIntegerField(default=5)
    msrp_fen = models.BigIntegerField()
    battery_swap_capable = models.BooleanField(default=False)
    battery_price_fen = models.BigIntegerField(default=0, help_text="Part of the MSRP for the battery (BaaS price cut)")
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = lt("车型配置", "trim")
        verbose_name_plural = lt("车型配置", "trims")
        ordering = ["series__brand__name", "series__name", "-model_year", "msrp_fen"]
        indexes = [models.Index(fields=["is_active", "msrp_fen"])]
        constraints = [
            models.CheckConstraint(condition=models.Q(msrp_fen__gt=0), name="vehicles_trim_msrp_positive"),
            models.CheckConstraint(condition=models.Q(battery_price_fen__gte=0)
                                   & models.Q(battery_price_fen__lt=models.F("msrp_fen")),
                                   name="vehicles_trim_battery_price_in_range"),
        ]

    def __str__(self) -> str:
        return f"{self.series} {self.model_year} {self.name}"


class PaintColour(Entity):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="colours")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=60)
    name_zh = models.CharField(max_length=60)
    hex = models.CharField(max_length=7)
    price_fen = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = lt("车漆颜色", "paint colour")
        verbose_name_plural = lt("车漆颜色", "paint colours")
        ordering = ["price_fen", "code"]
        constraints = [models.UniqueConstraint(fields=["series", "code"], name="vehicles_colour_unique")]


class TrimOption(Entity):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="options")
    code = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100)
    price_fen = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = lt("选装项", "trim option")
        verbose_name_plural = lt("选装项", "trim options")
        ordering = ["price_fen", "code"]
        constraints = [models.UniqueConstraint(fields=["series", "code"], name="vehicles_option_unique")]


class Vehicle(Entity):
    class Status(models.TextChoices):
        STOCK = "stock", lt("经销商库存", "In dealer stock")
        ALLOCATED = "allocated", lt("已配给订单", "Allocated to an order")
        OWNED = "owned", lt("车主已购", "Owned by a customer")
        TRADED_IN = "traded_in", lt("已置换", "Traded in")

    vin = models.CharField(max_length=17, unique=True)
    trim = models.ForeignKey(Trim, null=True, blank=True, on_delete=models.PROTECT, related_name="vehicles")
    colour_code = models.CharField(max_length=40, blank=True)
    brand_name = models.CharField(max_length=100, blank=True, help_text="For vehicles outside the catalog")
    model_name = models.CharField(max_length=120, blank=True)
    powertrain = models.CharField(max_length=4, choices=Powertrain.choices, blank=True,
                                  help_text="For vehicles outside the catalog")
    reference_price_fen = models.BigIntegerField(null=True, blank=True, help_text="New price, outside the catalog")
    plate = models.CharField(max_length=10, blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                              related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STOCK)
    registration_date = models.DateField(null=True, blank=True)
    stock_location = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.SET_NULL,
                                       related_name="+")

    class Meta:
        verbose_name = lt("车辆", "vehicle")
        verbose_name_plural = lt("车辆", "vehicles")
        indexes = [models.Index(fields=["owner", "status"]), models.Index(fields=["trim", "status", "colour_code"])]

    def __str__(self) -> str:
        return self.vin


class OdometerReading(Entity):
    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="odometer")
    km = models.PositiveIntegerField()
    read_on = models.DateField()
    source = models.CharField(max_length=30, default="owner")
    meter_replaced = models.BooleanField(default=False)

    class Meta:
        verbose_name = lt("里程读数", "odometer reading")
        verbose_name_plural = lt("里程读数", "odometer readings")
        ordering = ["vehicle", "read_on", "created_at"]
        indexes = [models.Index(fields=["vehicle", "-read_on"])]


class ConditionReport(Entity):
    class Grade(models.TextChoices):
        A = "A", "A"
        B = "B", "B"
        C = "C", "C"
        D = "D", "D"
        E = "E", "E"

    vehicle = models.ForeignKey(Vehicle, on_delete=models.CASCADE, related_name="condition_reports")
    grade = models.CharField(max_length=1, choices=Grade.choices)
    inspected_on = models.DateField()
    odometer_km = models.PositiveIntegerField()
    inspector_org = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.SET_NULL,
                                      related_name="+")
    notes = models.TextField(blank=True)

    class Meta:
        verbose_name = lt("车况报告", "condition report")
        verbose_name_plural = lt("车况报告", "condition reports")
        indexes = [models.Index(fields=["vehicle", "-inspected_on"])]
