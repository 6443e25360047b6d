"""Operator back office: bundles (operators define their own), battery plans, swap stations, policy, slots,
orders (read-only: state changes go through the services so money and audit stay consistent), campaigns."""

from __future__ import annotations

from django.contrib import admin

from carloop.commerce.models import (
    BatteryPlan,
    Bundle,
    BundleItem,
    Campaign,
    CarOrder,
    CommercePolicy,
    SwapStation,
    TestDriveSlot,
)


class BundleItemInline(admin.TabularInline):  # type: ignore[type-arg]
    model = BundleItem
    extra = 1


@admin.register(Bundle)
class BundleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name_zh", "kind", "trim", "price_fen", "is_active"]
    list_filter = ["kind", "is_active"]
    inlines = [BundleItemInline]


@admin.register(BatteryPlan)
class BatteryPlanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name_zh", "min_kwh", "max_kwh", "monthly_km_limit", "monthly_fen"]


@admin.register(SwapStation)
class SwapStationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["code", "name", "city", "capacity"]
    list_filter = ["city"]


@admin.register(CommercePolicy)
class CommercePolicyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["key", "cooling_off_hours", "binding_deposit_fen", "intention_deposit_fen", "trade_in_quote_days"]


@admin.register(TestDriveSlot)
class TestDriveSlotAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["starts_at", "store", "series", "capacity", "booked"]
    readonly_fields = ["booked"]


@admin.register(CarOrder)
class CarOrderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "state", "trim", "total_fen", "deposit_kind", "created_at"]
    list_filter = ["state", "deposit_kind"]

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(Campaign)
class CampaignAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["title_zh", "manufacturer", "status", "closes_at"]
