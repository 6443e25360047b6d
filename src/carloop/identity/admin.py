from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from carloop.core import pii
from carloop.identity.models import ApiToken, CustomerProfile, Membership, Organisation, PlatformRole, User


class PlatformRoleInline(admin.TabularInline):  # type: ignore[type-arg]
    model = PlatformRole
    extra = 0


class MembershipInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Membership
    extra = 0
    autocomplete_fields = ["organisation"]


@admin.register(User)
class CarloopUserAdmin(UserAdmin):  # type: ignore[type-arg]
    list_display = ["username", "display_name", "masked_phone", "is_staff", "is_active", "date_joined"]
    search_fields = ["username", "display_name"]
    inlines = [PlatformRoleInline, MembershipInline]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("display_name", "masked_phone")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    readonly_fields = ["masked_phone", "last_login", "date_joined"]

    @admin.display(description="phone")
    def masked_phone(self, obj: User) -> str:
        return pii.mask_phone(obj.phone or "")


@admin.register(CustomerProfile)
class CustomerProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["user", "real_name", "masked_id", "birth_date", "city", "kyc_status"]
    list_filter = ["kyc_status", "gender"]
    search_fields = ["real_name", "user__username"]
    exclude = ["id_number"]
    readonly_fields = ["masked_id", "birth_date", "gender", "region_code", "kyc_status", "verified_at"]

    @admin.display(description="ID number")
    def masked_id(self, obj: CustomerProfile) -> str:
        return pii.mask_id(obj.id_number or "")


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "kind", "uscc", "city", "status"]
    list_filter = ["kind", "status"]
    search_fields = ["name", "uscc", "city"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["prefix", "name", "user", "created_at", "last_used_at", "revoked_at"]
    exclude = ["token_hash"]
    readonly_fields = ["prefix", "user", "last_used_at"]
