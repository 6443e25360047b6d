"""Parts supply chain: the catalog (parts with OE numbers, cross-references and fitment to the vehicles catalog's
trims), the regional warehouses with their stock, and B2B orders from stores that reserve that stock."""

from __future__ import annotations

from django.db import models

from carloop.core.i18n import lt
from carloop.core.models import Entity


class Category(models.TextChoices):
    STANDARD = "standard", lt("标准件", "Standard part")
    WEAR = "wear", lt("易损件", "Wear part")
    WHOLE_VEHICLE = "whole_vehicle", lt("全车件", "Whole-vehicle part")


class Part(Entity):
    brand = models.CharField(max_length=60)
    brand_part_no = models.CharField(max_length=60)
    brand_part_no_norm = models.CharField(max_length=60, help_text="Upper case, letters and digits only")
    name = models.CharField(max_length=160)
    name_zh = models.CharField(max_length=160)
    category = models.CharField(max_length=16, choices=Category.choices)
    attributes = models.JSONField(default=dict, blank=True)
    pack_size = models.PositiveIntegerField(default=1)
    price_fen = models.BigIntegerField(help_text="Platform price per unit")
    supplier = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = lt("配件", "part")
        verbose_name_plural = lt("配件", "parts")
        ordering = ["brand", "brand_part_no"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "brand_part_no_norm"], name="parts_part_brand_number_unique"),
            models.CheckConstraint(condition=models.Q(price_fen__gt=0), name="parts_part_price_positive"),
            models.CheckConstraint(condition=models.Q(pack_size__gte=1), name="parts_part_pack_size_positive"),
        ]
        indexes = [models.Index(fields=["brand_part_no_norm"]), models.Index(fields=["category", "is_active"])]

    def __str__(self) -> str:
        return f"{self.brand} {self.brand_part_no} {self.name_zh}"


class OeNumber(Entity):
    """An original-equipment number the part carries or replaces."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="oe_numbers")
    number = models.CharField(max_length=60)
    number_norm = models.CharField(max_length=60, db_index=True)

    class Meta:
        verbose_name = lt("原厂编号", "OE number")
        verbose_name_plural = lt("原厂编号", "OE numbers")
        constraints = [models.UniqueConstraint(fields=["part", "number_norm"], name="parts_oe_unique_per_part")]


class CrossReference(Entity):
    """Interchange: another brand's number for the same part (OE ↔ aftermarket)."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="cross_references")
    brand = models.CharField(max_length=60)
    number = models.CharField(max_length=60)
    number_norm = models.CharField(max_length=60, db_index=True)

    class Meta:
        verbose_name = lt("互换编号", "cross-reference")
        verbose_name_plural = lt("互换编号", "cross-references")
        constraints = [models.UniqueConstraint(fields=["part", "brand", "number_norm"], name="parts_xref_unique")]


class Fitment(Entity):
    """An ACES-style application: the part fits a trim, optionally narrowed by engine code, model years and a
    position/qualifier note."""

    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="fitments")
    trim = models.ForeignKey("vehicles.Trim", on_delete=models.CASCADE, related_name="+")
    engine_code = models.CharField(max_length=30, blank=True)
    year_from = models.PositiveSmallIntegerField(null=True, blank=True)
    year_to = models.PositiveSmallIntegerField(null=True, blank=True)
    position = models.CharField(max_length=60, blank=True, help_text="e.g. front axle")
    note = models.CharField(max_length=200, blank=True, help_text="e.g. from VIN serial …")

    class Meta:
        verbose_name = lt("适配", "fitment")
        verbose_name_plural = lt("适配", "fitments")
        indexes = [models.Index(fields=["trim", "part"])]
        constraints = [models.UniqueConstraint(fields=["part", "trim", "engine_code", "position"], name="parts_fitment_unique")]


class Warehouse(Entity):
    code = models.SlugField(max_length=30, unique=True)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100)
    city = models.CharField(max_length=40)
    latitude = models.DecimalField(max_digits=8, decimal_places=5)
    longitude = models.DecimalField(max_digits=8, decimal_places=5)
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = lt("仓库", "warehouse")
        verbose_name_plural = lt("仓库", "warehouses")
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name_zh


class Stock(Entity):
    warehouse = models.ForeignKey(Warehouse, on_delete=models.CASCADE, related_name="stock")
    part = models.ForeignKey(Part, on_delete=models.CASCADE, related_name="stock")
    on_hand = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = lt("库存", "stock")
        verbose_name_plural = lt("库存", "stock")
        constraints = [
            models.UniqueConstraint(fields=["part", "warehouse"], name="parts_stock_unique"),
            models.CheckConstraint(condition=models.Q(reserved__lte=models.F("on_hand")), name="parts_stock_reserved_within_on_hand"),
        ]

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


class PartsOrder(Entity):
    class Status(models.TextChoices):
        RESERVED = "reserved", lt("已锁库待付款", "Reserved, awaiting payment")
        PAID = "paid", lt("已付款", "Paid")
        CANCELLED = "cancelled", lt("已取消", "Cancelled")
        EXPIRED = "expired", lt("已过期", "Expired")

    store = models.ForeignKey("identity.Organisation", on_delete=models.PROTECT, related_name="+")
    placed_by = models.CharField(max_length=200)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RESERVED)
    total_fen = models.BigIntegerField()
    expires_at = models.DateTimeField()
    vin = models.CharField(max_length=17, blank=True)
    fitment_override = models.BooleanField(default=False)

    class Meta:
        verbose_name = lt("配件订单", "parts order")
        verbose_name_plural = lt("配件订单", "parts orders")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["store", "status"]), models.Index(fields=["status", "expires_at"])]
        constraints = [models.CheckConstraint(condition=models.Q(total_fen__gt=0), name="parts_order_total_positive")]


class PartsOrderLine(Entity):
    order = models.ForeignKey(PartsOrder, on_delete=models.CASCADE, related_name="lines")
    part = models.ForeignKey(Part, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField()
    unit_price_fen = models.BigIntegerField()

    class Meta:
        verbose_name = lt("配件订单行", "parts order line")
        verbose_name_plural = lt("配件订单行", "parts order lines")
        constraints = [models.CheckConstraint(condition=models.Q(quantity__gte=1), name="parts_line_quantity_positive")]
