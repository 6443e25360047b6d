"""Merchant settlement: what the platform owes each merchant (a dealer today; stores and suppliers later), per
settlement contract.

A merchant's money sits in ledger accounts it owns (``org:<id>``) whose key ends in ``:settlement``: the cashier's
``payments:merchant:<id>:settlement`` (a payable whose destination it is accrues there when paid, and gives back
when refunded) and those of the apps below, e.g. finance's ``finance:merchant:<id>:settlement`` (loan
disbursements to the dealer, returned when a loan is unwound). A settlement run for a merchant and day takes
every posted transfer into or out of those accounts up to the contract's cycle (T+N: money of business day D is
settled on D+N) that no earlier statement took (a transfer is settled once: ``SettlementLine.transfer_id`` is
unique), and books, in one transaction with the statement:

* the sweep of each other app's settlement account's period net into the cashier's merchant account (6201);
* the commission: each line's amount × ``commission_bps`` / 10,000, rounded half up to the fen per line (a
  reversal gives its line's commission back), merchant account → platform commission income (6202).

What is left in the merchant account is the sum of the unpaid statements' net: payouts (``payouts.py``) pay it.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from django.db import transaction
from django.http import HttpResponse
from django.utils import timezone

from carloop.core import audit, events
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Invalid, NotFound
from carloop.core.i18n import t
from carloop.core.money import round_half_up, yuan_str
from carloop.core.timeutil import business_date, start_of_business_day
from carloop.identity import selectors as identity
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import StatementLine
from carloop.payments.models import (
    SettlementContract,
    SettlementCycle,
    SettlementLine,
    SettlementLineKind,
    SettlementStatement,
    StatementState,
)

MERCHANT_ACCOUNT_CODE = 6200  # a merchant's settlement account at the cashier (what the platform owes it)
COMMISSION_ACCOUNT_CODE = 6300  # platform commission income
CODE_SWEEP = 6201  # another app's merchant settlement account → the cashier's merchant account
CODE_COMMISSION = 6202  # merchant account → commission income (negative period: back)
OWN_CODES = range(6200, 6300)  # settlement's and payouts' own transfers are never statement lines
MERCHANT_KINDS = ("dealer", "store", "supplier")
BPS = Decimal(10_000)
PAGE = 500


def merchant_account(merchant_id: uuid.UUID | str) -> uuid.UUID:
    """The cashier's settlement account of a merchant (opened on first use)."""
    return ledger.open_account(key=f"payments:merchant:{merchant_id}:settlement", name="商户待结算款",
                               code=MERCHANT_ACCOUNT_CODE, owner=f"org:{merchant_id}").id


def commission_account() -> uuid.UUID:
    return ledger.open_account(key="payments:commission_income", name="平台佣金收入", code=COMMISSION_ACCOUNT_CODE).id


def settlement_accounts(merchant_id: uuid.UUID | str) -> list[uuid.UUID]:
    """Every ledger account holding money owed to the merchant, the cashier's first."""
    own = merchant_account(merchant_id)
    others = [a.id for a in ledger_q.accounts_of(f"org:{merchant_id}") if a.key.endswith(":settlement") and a.id != own]
    return [own, *others]


def commission_fen(amount_fen: int, bps: int) -> int:
    """One line's commission: amount × bps / 10,000, rounded half up to the fen."""
    return int(round_half_up(Decimal(amount_fen) * Decimal(bps) / BPS, Decimal(1)))


# ------------------------------------------------------------------------------------------------ contracts


def set_contract(subject: Subject, *, merchant_id: uuid.UUID, commission_bps: int, cycle_days: int,
                 minimum_payout_fen: int) -> SettlementContract:
    """Finance operations set (or change) a merchant's settlement contract; statements already made keep the
    terms they were made with."""
    subject.require_role("finance_ops")
    org = identity.get_organisation(merchant_id)
    if org is None:
        raise NotFound()
    if org.kind not in MERCHANT_KINDS:
        raise Invalid("not-a-merchant", "该机构不是商户（经销商、门店或供应商）", "This organisation is not a merchant "
                      "(dealer, store or supplier)", [FieldError("/merchant_id", "不是商户", "Not a merchant")])
    errors = []
    if not 0 <= commission_bps <= 10_000:
        errors.append(FieldError("/commission_bps", "佣金费率须在 0 到 10000 个基点之间", "Between 0 and 10,000 basis points"))
    if cycle_days not in SettlementCycle.values:
        errors.append(FieldError("/cycle_days", "结算周期须为 T+1 或 T+7", "The cycle is T+1 or T+7"))
    if minimum_payout_fen < 0:
        errors.append(FieldError("/minimum_payout", "最低付款额不能为负", "Cannot be negative"))
    if errors:
        raise Invalid("contract-invalid", "结算合同条款无效", "Invalid settlement terms", errors)
    with transaction.atomic():
        contract, created = SettlementContract.objects.update_or_create(merchant_id=merchant_id, defaults={
            "commission_bps": commission_bps, "cycle_days": cycle_days, "minimum_payout_fen": minimum_payout_fen,
            "created_by": subject.ref})
        audit.record(subject.ref, "payments.settlement.contract_set", "payments.settlement_contract", contract.pk,
                     {"merchant": str(merchant_id), "commission_bps": commission_bps, "cycle_days": cycle_days,
                      "minimum_payout_fen": minimum_payout_fen, "created": created})
    return contract


# ----------------------------------------------------------------------------------------------------- runs


@dataclass(frozen=True)
class _Line:
    account: uuid.UUID
    ledger: StatementLine


def _unsettled(accounts: list[uuid.UUID], cut: date, floor: date | None) -> list[_Line]:
    """Posted transfers on ``accounts`` before business day ``cut`` (and from ``floor`` on, when given) that no
    statement has taken, oldest first."""
    before, since = start_of_business_day(cut), start_of_business_day(floor) if floor else None
    found: list[_Line] = []
    for account in accounts:
        cursor: str | None = None
        while True:
            page = ledger_q.statement(account, cursor=cursor, limit=PAGE)
            for line in page.lines:
                if (line.created_at < before and line.kind in ("single", "post_pending")
                        and line.code not in OWN_CODES):
                    found.append(_Line(account, line))
            cursor = page.next_cursor
            if cursor is None or (since is not None and page.lines[-1].created_at < since):
                break
    taken = set(SettlementLine.objects.filter(transfer_id__in=[f.ledger.transfer_id for f in found])
                .values_list("transfer_id", flat=True))
    return sorted((f for f in found if f.ledger.transfer_id not in taken), key=lambda f: f.ledger.created_at)


def _floor(previous: SettlementStatement | None) -> date | None:
    """How far back a merchant's ledger lines are read for what no statement took yet: from the day before its
    latest statement's period end (a late transfer of that day is still found)."""
    return previous.period_end - timedelta(days=1) if previous else None


def unsettled_fen(merchant_id: uuid.UUID, accounts: list[uuid.UUID]) -> int:
    """The signed sum of the posted transfers on a merchant's settlement ``accounts`` that no statement took
    yet (what the next settlement run will take, commission not yet deducted)."""
    previous = SettlementStatement.objects.filter(merchant_id=merchant_id).order_by("-period_end").first()
    found = _unsettled(accounts, business_date() + timedelta(days=1), _floor(previous))
    return sum(f.ledger.amount_fen if f.ledger.side == "credit" else -f.ledger.amount_fen for f in found)


def settle_merchant(*, merchant_id: uuid.UUID, run_date: date, actor: str) -> SettlementStatement | None:
    """The settlement run of one merchant on ``run_date``: a statement of what reached its settlement accounts up
    to ``run_date`` − the cycle and was not settled before (None when nothing did). Idempotent per merchant and
    period end; runs of one merchant are serialised on its contract row."""
    with transaction.atomic():
        contract = SettlementContract.objects.select_for_update().filter(merchant_id=merchant_id).first()
        if contract is None:
            raise Conflict("no-settlement-contract", "该商户没有结算合同", "This merchant has no settlement contract")
        period_end = run_date - timedelta(days=contract.cycle_days)
        existing = SettlementStatement.objects.filter(merchant_id=merchant_id, period_end=period_end).first()
        if existing is not None:
            return existing
        previous = SettlementStatement.objects.filter(merchant_id=merchant_id).order_by("-period_end").first()
        if previous is not None and previous.period_end > period_end:
            return None  # a later period is settled already
        own, *others = accounts = settlement_accounts(merchant_id)
        found = _unsettled(accounts, period_end + timedelta(days=1), _floor(previous))
        if not found:
            return None
        lines, nets = [], dict.fromkeys(accounts, 0)
        gross = refunds = fees = 0
        for item in found:
            income = item.ledger.side == "credit"
            fee = commission_fen(item.ledger.amount_fen, contract.commission_bps)
            signed = item.ledger.amount_fen if income else -item.ledger.amount_fen
            nets[item.account] += signed
            gross, refunds = gross + max(signed, 0), refunds + max(-signed, 0)
            fees += fee if income else -fee
            lines.append(SettlementLine(transfer_id=item.ledger.transfer_id, occurred_at=item.ledger.created_at,
                                        kind=SettlementLineKind.INCOME if income else SettlementLineKind.REVERSAL,
                                        code=item.ledger.code, memo=item.ledger.memo[:200],
                                        amount_fen=item.ledger.amount_fen, fee_fen=fee))
        net = gross - refunds - fees
        first_day = business_date(found[0].ledger.created_at)
        statement = SettlementStatement.objects.create(
            merchant_id=merchant_id, period_start=min(first_day, period_end) if previous is None
            else previous.period_end + timedelta(days=1), period_end=period_end,
            commission_bps=contract.commission_bps, cycle_days=contract.cycle_days, gross_fen=gross,
            refunds_fen=refunds, fees_fen=fees, net_fen=net,
            state=StatementState.UNPAID if net else StatementState.NOTHING_DUE, created_by=actor)
        for line in lines:
            line.statement = statement
        SettlementLine.objects.bulk_create(lines)
        for account in others:
            _move(f"payments:settlement:{statement.pk}:sweep:{account}", account, own, nets[account], CODE_SWEEP,
                  f"settlement sweep {merchant_id}", actor)
        _move(f"payments:settlement:{statement.pk}:commission", own, commission_account(), fees, CODE_COMMISSION,
              f"commission {merchant_id} {period_end}", actor)
        audit.record(actor, "payments.settlement.statement", "payments.settlement_statement", statement.pk,
                     {"merchant": str(merchant_id), "period_end": period_end.isoformat(), "gross_fen": gross,
                      "refunds_fen": refunds, "fees_fen": fees, "net_fen": net, "lines": len(lines)})
        events.publish("payments.settlement.statement_created", f"payments:settlement:{statement.pk}",
                       {"merchant": f"org:{merchant_id}", "net_fen": net, "period_end": period_end.isoformat()},
                       actor=actor)
        return statement


def _move(transfer_id: str, debit: uuid.UUID, credit: uuid.UUID, amount_fen: int, code: int, memo: str,
          actor: str) -> None:
    """A signed movement: a negative amount goes the other way; zero moves nothing."""
    if amount_fen == 0:
        return
    if amount_fen < 0:
        debit, credit, amount_fen = credit, debit, -amount_fen
    ledger.transfer(id=transfer_id, debit=debit, credit=credit, amount_fen=amount_fen, code=code, memo=memo, actor=actor)


def run_settlement(subject: Subject, *, run_date: date, merchant_id: uuid.UUID | None = None) -> list[SettlementStatement]:
    """Finance operations run settlement for one merchant, or every merchant with a contract."""
    subject.require_role("finance_ops")
    if merchant_id is not None and not SettlementContract.objects.filter(merchant_id=merchant_id).exists():
        raise NotFound()
    return settle_all(run_date=run_date, actor=subject.ref, merchant_id=merchant_id)


def settle_all(*, run_date: date, actor: str, merchant_id: uuid.UUID | None = None) -> list[SettlementStatement]:
    """The daily settlement job: every merchant with a contract (each in its own transaction)."""
    merchants = SettlementContract.objects.order_by("merchant_id").values_list("merchant_id", flat=True)
    if merchant_id is not None:
        merchants = merchants.filter(merchant_id=merchant_id)
    made = []
    for merchant in list(merchants):
        statement = settle_merchant(merchant_id=merchant, run_date=run_date, actor=actor)
        if statement is not None:
            made.append(statement)
    return made


# ---------------------------------------------------------------------------------------------------- export


def statement_csv(statement: SettlementStatement) -> HttpResponse:
    """The statement as a CSV download (UTF-8 with BOM for spreadsheets), headers in the caller's language: one row
    per line, then the totals."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([t("时间", "Time"), t("类型", "Type"), t("摘要", "Memo"), t("金额", "Amount"), t("佣金", "Commission"),
                     t("净额", "Net")])
    kinds = dict(SettlementLineKind.choices)
    for line in statement.lines.order_by("occurred_at", "pk"):
        sign = 1 if line.kind == SettlementLineKind.INCOME else -1
        writer.writerow([timezone.localtime(line.occurred_at).strftime("%Y-%m-%d %H:%M:%S"), str(kinds[line.kind]),
                         line.memo, yuan_str(sign * line.amount_fen), yuan_str(sign * line.fee_fen),
                         yuan_str(sign * (line.amount_fen - line.fee_fen))])
    writer.writerow([])
    for label, fen in ((t("收入合计", "Gross"), statement.gross_fen), (t("退款/冲回合计", "Refunds"), -statement.refunds_fen),
                       (t("佣金合计", "Commission"), -statement.fees_fen), (t("应付净额", "Net due"), statement.net_fen)):
        writer.writerow([label, "", "", yuan_str(fen)])
    response = HttpResponse(out.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="settlement-{statement.period_end}-{statement.pk}.csv"'
    return response
