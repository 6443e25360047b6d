"""Back-office views of finance tables (read-mostly: state changes go through the services and pages)."""

from django.contrib import admin

from carloop.finance.models import Application, CobRun, FundingPlan, FundingShare, Installment, Loan, LoanProduct, Repayment


class ReadOnly(admin.ModelAdmin):  # type: ignore[type-arg]
    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False


class ShareInline(admin.TabularInline):  # type: ignore[type-arg]
    model = FundingShare
    extra = 0


@admin.register(FundingPlan)
class FundingPlanAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("code", "name")
    inlines = [ShareInline]


@admin.register(LoanProduct)
class LoanProductAdmin(ReadOnly):
    list_display = ("code", "version", "is_current", "kind", "method", "min_amount_fen", "max_amount_fen", "apr_cap")
    list_filter = ("kind", "is_current")


@admin.register(Application)
class ApplicationAdmin(ReadOnly):
    list_display = ("id", "product", "state", "amount_fen", "term", "price_tier", "offer_apr", "created_at")
    list_filter = ("state",)


class InstallmentInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Installment
    extra = 0
    can_delete = False
    readonly_fields = ("period", "due_date", "principal_fen", "interest_fen", "fee_fen", "penalty_fen", "status")
    fields = readonly_fields


@admin.register(Loan)
class LoanAdmin(ReadOnly):
    list_display = ("contract_no", "state", "principal_fen", "outstanding_principal_fen", "apr", "bucket", "start_date")
    list_filter = ("state", "bucket")
    search_fields = ("contract_no", "order_ref")
    inlines = [InstallmentInline]


@admin.register(Repayment)
class RepaymentAdmin(ReadOnly):
    list_display = ("loan", "kind", "amount_fen", "principal_fen", "interest_fen", "penalty_fen", "business_date")


@admin.register(CobRun)
class CobRunAdmin(ReadOnly):
    list_display = ("business_date", "finished_at")
