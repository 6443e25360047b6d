"""Admin: accounts are browsable (balances read-only: they change only through transfers); transfers are read-only."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from carloop.core.money import format_cny
from carloop.ledger.contracts import AccountFlags, TransferFlags
from carloop.ledger.models import Account, Transfer
from carloop.ledger.services import is_debit_normal


@admin.register(Account)
class AccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["key", "name", "owner", "code", "flag_names", "balance"]
    list_filter = ["code", "ledger"]
    search_fields = ["key", "name", "owner"]
    readonly_fields = ["key", "ledger", "code", "flags", "owner", "debits_posted", "credits_posted", "debits_pending",
                       "credits_pending", "created_at", "updated_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # accounts open through ledger.services.open_account (or POST /api/v1/ledger/accounts)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="flags")
    def flag_names(self, obj: Account) -> str:
        return ", ".join(f.name or "" for f in AccountFlags if f and obj.flags & f) or "-"

    @admin.display(description="balance (normal side)")
    def balance(self, obj: Account) -> str:
        net = obj.credits_posted - obj.debits_posted
        return format_cny(-net if is_debit_normal(obj.key, obj.flags) else net)


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "created_at", "kind", "debit", "credit", "amount", "code", "memo", "actor"]
    list_filter = ["code"]
    search_fields = ["memo", "actor", "=id"]
    list_select_related = ["debit", "credit"]
    date_hierarchy = "created_at"
    ordering = ["-seq"]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Transfer._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # corrections are new transfers, never edits

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description="kind")
    def kind(self, obj: Transfer) -> str:
        flags = TransferFlags(obj.flags)
        names = [f.name or "" for f in (TransferFlags.PENDING, TransferFlags.POST_PENDING, TransferFlags.VOID_PENDING,
                                         TransferFlags.LINKED) if flags & f]
        return ", ".join(names).lower() or "single"

    @admin.display(description="amount")
    def amount(self, obj: Transfer) -> str:
        return format_cny(obj.amount_fen)
