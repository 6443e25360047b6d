"""Daily reconciliation (对账) against a provider's statement.

The provider's statement (CSV, one row per payment and per refund, fees included; the simulator writes the layout
of WeChat Pay's trade bill, :data:`STATEMENT_COLUMNS`) is matched against the payments and refunds we booked with
that provider on the business date. Each row is ``matched``, ``missing`` (we booked it, the provider does not
list it), ``extra`` (the provider lists it, we did not book it) or ``mismatched`` (amounts differ). The fees of
matched payments are booked (provider fees expense → ``external``, once per order). The run and its rows are
stored for the finance-ops page.
"""

from __future__ import annotations

import csv
import io
import uuid
from dataclasses import dataclass
from datetime import date

from django.db import transaction

from carloop.core import audit
from carloop.core.money import parse_yuan, yuan_str
from carloop.core.timeutil import start_of_business_day
from carloop.ledger import services as ledger
from carloop.payments.models import ReconciliationRun, RefundPart, RefundState, Tender, TenderState

STATEMENT_COLUMNS = ("trade_time", "out_trade_no", "transaction_id", "trade_state", "amount", "out_refund_no",
                     "refund_amount", "fee")
CODE_PROVIDER_FEE = 6030  # provider fees expense → external: what the provider kept of a payment


@dataclass(frozen=True)
class Row:
    status: str  # matched | missing | extra | mismatched
    kind: str  # payment | refund
    key: str
    ours_fen: int | None
    theirs_fen: int | None


def fees_account() -> uuid.UUID:
    return ledger.open_account(key="payments:provider_fees", name="支付通道手续费", code=6101).id


def _ours(provider: str, day: date) -> tuple[dict[str, int], dict[str, int]]:
    start, end = start_of_business_day(day), start_of_business_day(date.fromordinal(day.toordinal() + 1))
    payments = dict(Tender.objects.filter(
        provider=provider, received_at__gte=start, received_at__lt=end,
        state__in=[TenderState.POSTED, TenderState.RECEIVED_LATE]).values_list("provider_order_no", "amount_fen"))
    refunds = dict(RefundPart.objects.filter(
        tender__provider=provider, state=RefundState.SUCCEEDED, succeeded_at__gte=start, succeeded_at__lt=end,
    ).values_list("provider_refund_no", "amount_fen"))
    return {str(k): v for k, v in payments.items()}, {str(k): v for k, v in refunds.items()}


def parse_statement(text: str) -> tuple[dict[str, tuple[int, int]], dict[str, int]]:
    """Payments by order number (amount, fee) and refunds by refund number (amount)."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    missing = [c for c in STATEMENT_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError("statement lacks columns: " + ", ".join(missing))
    payments: dict[str, tuple[int, int]] = {}
    refunds: dict[str, int] = {}
    for row in reader:
        if row["trade_state"] == "REFUND":
            refunds[row["out_refund_no"]] = parse_yuan(row["refund_amount"], field="refund_amount")
        else:
            payments[row["out_trade_no"]] = (parse_yuan(row["amount"], field="amount"),
                                             parse_yuan(row["fee"] or "0", field="fee", allow_zero=True))
    return payments, refunds


def _compare(kind: str, ours: dict[str, int], theirs: dict[str, int]) -> list[Row]:
    rows = []
    for key in sorted(set(ours) | set(theirs)):
        mine, other = ours.get(key), theirs.get(key)
        status = "missing" if other is None else "extra" if mine is None else "matched" if mine == other else "mismatched"
        rows.append(Row(status=status, kind=kind, key=key, ours_fen=mine, theirs_fen=other))
    return rows


def reconcile(*, provider: str, day: date, statement: str, actor: str) -> ReconciliationRun:
    """Match the provider's statement for ``day`` against our books; book the fees of matched payments.
    Idempotent per provider and day (a rerun replaces the stored run; fees are booked once)."""
    their_payments, their_refunds = parse_statement(statement)
    our_payments, our_refunds = _ours(provider, day)
    rows = _compare("payment", our_payments, {k: v[0] for k, v in their_payments.items()})
    rows += _compare("refund", our_refunds, their_refunds)
    fees = 0
    with transaction.atomic():
        expense, external = fees_account(), ledger.system_account("external").id
        for row in rows:
            fee = their_payments.get(row.key, (0, 0))[1] if row.kind == "payment" and row.status == "matched" else 0
            if fee > 0:
                ledger.transfer(id=f"payments:fee:{provider}:{row.key}", debit=expense, credit=external,
                                amount_fen=fee, code=CODE_PROVIDER_FEE, memo=f"{provider} fee {row.key}", actor=actor)
                fees += fee
        counts = {s: sum(1 for r in rows if r.status == s) for s in ("matched", "missing", "extra", "mismatched")}
        run, _ = ReconciliationRun.objects.update_or_create(provider=provider, day=day, defaults={
            **counts, "fees_fen": fees,
            "ours_fen": sum(our_payments.values()) - sum(our_refunds.values()),
            "theirs_fen": sum(v[0] for v in their_payments.values()) - sum(their_refunds.values()),
            "rows": [{"status": r.status, "kind": r.kind, "key": r.key,
                      "ours": None if r.ours_fen is None else yuan_str(r.ours_fen),
                      "theirs": None if r.theirs_fen is None else yuan_str(r.theirs_fen)} for r in rows if r.status != "matched"],
            "created_by": actor})
        audit.record(actor, "payments.reconciled", "payments.reconciliation", run.pk, {"day": day.isoformat(), **counts})
    return run
