"""What finance operations check every day (对账总览): does the cashier hold exactly what it owes?

* ``payment_clearing`` holds only money of refunds the provider has not confirmed yet: posted, the late payments
  waiting for their refund; pending, the refund holds of paid intents.
* Every merchant's settlement accounts hold what its statements still owe (unpaid or in payout) plus what reached
  them since its last statement (the next run takes it); what is held on them is the payouts in progress.
* The day's flows: money confirmed from outside, refunds paid back, statements made (net and commission), payouts
  paid and failed, provider fees booked by that day's reconciliation.
* The latest reconciliation against the provider's statement, with the rows that did not match.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from django.db.models import QuerySet, Sum

from carloop.core import labels
from carloop.core.authz import Subject
from carloop.core.timeutil import start_of_business_day
from carloop.ledger import selectors as ledger_q
from carloop.payments import selectors, settlement
from carloop.payments.models import (
    Payout,
    PayoutState,
    ReconciliationRun,
    RefundPart,
    RefundState,
    SettlementStatement,
    StatementState,
    Tender,
    TenderState,
)

labels.register("payments.settlement_account", {
    "payments": ("收银台待结算款", "Cashier settlement account"),
    "finance": ("放款待结算款", "Loan disbursements to settle"),
})
labels.register("payments.reconciliation_status", {
    "matched": ("一致", "Matched"), "missing": ("我方有、通道无", "Missing at the provider"),
    "extra": ("通道有、我方无", "Not booked by us"), "mismatched": ("金额不符", "Amounts differ"),
})
labels.register("payments.reconciliation_kind", {"payment": ("支付", "Payment"), "refund": ("退款", "Refund")})


@dataclass(frozen=True)
class ClearingPosition:
    held_fen: int  # posted credits − debits: the money sitting in clearing
    pending_fen: int  # refund holds on their way into clearing
    late_refunds_fen: int  # late payments whose refund the provider has not confirmed
    refunds_pending_fen: int  # refunds of paid intents the provider has not confirmed

    @property
    def difference_fen(self) -> int:
        return (self.held_fen - self.late_refunds_fen) + (self.pending_fen - self.refunds_pending_fen)


@dataclass(frozen=True)
class SettlementAccount:
    app: str
    key: str
    balance_fen: int
    held_fen: int


@dataclass(frozen=True)
class MerchantPosition:
    merchant_id: uuid.UUID
    name: str
    accounts: list[SettlementAccount]
    owed_fen: int  # net of statements unpaid or in payout
    unsettled_fen: int  # reached the accounts since the last statement
    in_payout_fen: int  # payouts approved, awaiting the provider

    @property
    def balance_fen(self) -> int:
        return sum(a.balance_fen for a in self.accounts)

    @property
    def held_fen(self) -> int:
        return sum(a.held_fen for a in self.accounts)

    @property
    def difference_fen(self) -> int:
        return self.balance_fen - self.owed_fen - self.unsettled_fen

    def problems(self) -> list[str]:
        found = []
        if self.difference_fen:
            found.append(f"merchant {self.merchant_id}: accounts {self.balance_fen} but statements owe {self.owed_fen} "
                         f"and {self.unsettled_fen} is unsettled")
        if self.held_fen != self.in_payout_fen:
            found.append(f"merchant {self.merchant_id}: {self.held_fen} held but {self.in_payout_fen} in payouts in progress")
        return found


@dataclass(frozen=True)
class DayFlows:
    day: date
    money_in_fen: int
    refunds_fen: int
    settled_fen: int
    commission_fen: int
    paid_out_fen: int
    payouts_failed_fen: int
    provider_fees_fen: int


@dataclass(frozen=True)
class Overview:
    clearing: ClearingPosition
    merchants: list[MerchantPosition]
    flows: DayFlows
    run: ReconciliationRun | None


def overview(subject: Subject, day: date) -> Overview:
    """The reconciliation page's figures (finance operations only: 403 otherwise)."""
    subject.require(selectors.may_operate(subject))
    merchants = list(selectors.contracts_readable_by(subject).order_by("created_at").values_list("merchant_id", flat=True))
    return Overview(clearing=clearing(), merchants=[merchant(m) for m in merchants], flows=flows(day),
                    run=selectors.reconciliation_runs(subject).first())


def clearing() -> ClearingPosition:
    acct = ledger_q.account_by_key("system:payment_clearing")
    balance = ledger_q.balance(acct.id) if acct else None
    open_parts = RefundPart.objects.filter(state=RefundState.PENDING, tender__kind="external",
                                           tender__provider__in=_clearing_providers())
    return ClearingPosition(
        held_fen=(balance.credits_posted - balance.debits_posted) if balance else 0,
        pending_fen=(balance.credits_pending - balance.debits_pending) if balance else 0,
        late_refunds_fen=_sum(open_parts.filter(refund__late=True)),
        refunds_pending_fen=_sum(open_parts.filter(refund__late=False)))


def _clearing_providers() -> list[str]:
    from carloop.payments import providers

    return [name for name in providers.names()
            if (adapter := providers.get(name)) is not None and adapter.clearing_account == "payment_clearing"]


def merchant(merchant_id: uuid.UUID) -> MerchantPosition:
    accounts = [a for a in ledger_q.accounts_of(f"org:{merchant_id}") if a.key.endswith(":settlement")]
    balances = ledger_q.balances([a.id for a in accounts])
    rows = [SettlementAccount(app=a.key.split(":", 1)[0], key=a.key, balance_fen=balances[a.id].balance_fen,
                              held_fen=balances[a.id].debits_pending) for a in accounts]
    return MerchantPosition(
        merchant_id=merchant_id, name=selectors.merchant_names({merchant_id})[merchant_id], accounts=rows,
        owed_fen=_sum(SettlementStatement.objects.filter(
            merchant_id=merchant_id, state__in=[StatementState.UNPAID, StatementState.IN_PAYOUT]), "net_fen"),
        unsettled_fen=settlement.unsettled_fen(merchant_id, [a.id for a in accounts]) if accounts else 0,
        in_payout_fen=_sum(Payout.objects.filter(merchant_id=merchant_id, state=PayoutState.PROCESSING)))


def merchant_discrepancies(merchant_id: uuid.UUID) -> list[str]:
    """Where a merchant's settlement accounts disagree with its statements and payouts (empty when they agree)."""
    return merchant(merchant_id).problems()


def flows(day: date) -> DayFlows:
    start, end = start_of_business_day(day), start_of_business_day(day + timedelta(days=1))
    statements = SettlementStatement.objects.filter(created_at__gte=start, created_at__lt=end)
    payouts = Payout.objects.filter(completed_at__gte=start, completed_at__lt=end)
    return DayFlows(
        day=day,
        money_in_fen=_sum(Tender.objects.filter(kind="external", received_at__gte=start, received_at__lt=end,
                                                state__in=[TenderState.POSTED, TenderState.RECEIVED_LATE])),
        refunds_fen=_sum(RefundPart.objects.filter(state=RefundState.SUCCEEDED, succeeded_at__gte=start,
                                                   succeeded_at__lt=end)),
        settled_fen=_sum(statements, "net_fen"), commission_fen=_sum(statements, "fees_fen"),
        paid_out_fen=_sum(payouts.filter(state=PayoutState.PAID)),
        payouts_failed_fen=_sum(payouts.filter(state=PayoutState.FAILED)),
        provider_fees_fen=_sum(ReconciliationRun.objects.filter(day=day), "fees_fen"))


def _sum(qs: QuerySet[object], field: str = "amount_fen") -> int:  # type: ignore[type-var]
    return int(qs.aggregate(total=Sum(field))["total"] or 0)
