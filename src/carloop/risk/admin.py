"""Read-mostly admin for risk tables; identifiers appear only as masked labels (blind indexes are never shown)."""

from __future__ import annotations

from django.contrib import admin

from carloop.risk.models import BlacklistEntry, CreditDecision, ModelVersion, PolicyRuleSet, ReviewCase


@admin.register(BlacklistEntry)
class BlacklistEntryAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["kind", "value_masked", "source", "reason", "active", "expires_at", "created_at"]
    list_filter = ["kind", "source", "active"]
    exclude = ["value_index"]
    readonly_fields = ["kind", "value_masked", "created_by"]


@admin.register(CreditDecision)
class DecisionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["application_ref", "outcome", "score", "price_tier", "model_version", "latency_ms", "created_at"]
    list_filter = ["outcome", "product_kind", "model_version"]
    search_fields = ["application_ref"]
    exclude = ["id_index", "phone_index", "request", "context"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ReviewCase)
class ReviewCaseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["decision", "status", "due_at", "decided_by", "decided_at"]
    list_filter = ["status"]
    raw_id_fields = ["decision"]


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["version", "kind", "role", "promoted_by", "promoted_at"]
    list_filter = ["role", "kind"]


@admin.register(PolicyRuleSet)
class PolicyRuleSetAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["version", "status", "note", "published_by", "published_at"]
    list_filter = ["status"]
