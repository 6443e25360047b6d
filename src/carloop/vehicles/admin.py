"""Operator back office for the catalog; vehicle lists show VIN and plate but never owner PII."""

from __future__ import annotations

from django.contrib import admin

from carloop.vehicles.models import Brand, ConditionReport, OdometerReading, PaintColour, Series, Trim, TrimOption, Vehicle


class PaintColourInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PaintColour
    extra = 0


class TrimOptionInline(admin.TabularInline):  # type: ignore[type-arg]
    model = TrimOption
    extra = 0


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "name_zh", "tier", "manufacturer"]
    search_fields = ["name", "name_zh"]


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "name_zh", "brand", "body_type"]
    list_filter = ["brand"]
    inlines = [PaintColourInline, TrimOptionInline]


@admin.register(Trim)
class TrimAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "series", "model_year", "powertrain", "msrp_fen", "battery_swap_capable", "is_active"]
    list_filter = ["powertrain", "battery_swap_capable", "is_active", "series__brand"]
    search_fields = ["code", "name", "name_zh"]


class OdometerInline(admin.TabularInline):  # type: ignore[type-arg]
    model = OdometerReading
    extra = 0
    readonly_fields = ["km", "read_on", "source", "meter_replaced"]


@admin.register(Vehicle)
class VehicleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["vin", "plate", "trim", "status", "registration_date"]
    list_filter = ["status"]
    search_fields = ["vin", "plate"]
    exclude = ["owner"]
    inlines = [OdometerInline]


@admin.register(ConditionReport)
class ConditionReportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["vehicle", "grade", "inspected_on", "odometer_km", "inspector_org"]
    list_filter = ["grade"]
