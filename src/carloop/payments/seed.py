"""The cashier's demo: settlement contracts for the dealer (T+1) and the first store (T+7), the dealer settled
through today, so its staff (login ``dealer``) read a statement of the loan disbursements finance's seed paid it,
and that statement paid out: a payout batch prepared by ``finops`` and approved by ``finops2`` (four-eyes), paid
on the payout simulator's word. Finance operations see it on the settlement and payout pages. Once every app has
seeded (commerce's seed pays through the cashier), today is reconciled against the simulator's statement with one
deliberate mismatch: the provider's row of the first payment says one yuan more than we booked (the
reconciliation page shows it)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from carloop.core.money import parse_yuan, yuan_str
from carloop.core.seeding import SeedContext
from carloop.core.timeutil import business_date
from carloop.identity import selectors as identity
from carloop.payments import payouts, reconcile, selectors, settlement
from carloop.payments.simulator import PAYOUT_SIMULATOR, SIMULATOR

CONTRACTS = (("dealer", 80, 1, 100_000), ("store", 600, 7, 50_000))  # kind, bps, cycle days, minimum payout fen


def seed(ctx: SeedContext) -> None:
    finops, approver = identity.subject_for_login("finops"), identity.subject_for_login("finops2")
    assert finops is not None and approver is not None
    ctx.after_all("payments", _reconciliation)
    for kind, bps, cycle, minimum in CONTRACTS:
        for merchant in identity.organisations_of_kind(kind)[:1]:
            if not selectors.contracts_readable_by(finops).filter(merchant_id=merchant.id).exists():
                settlement.set_contract(finops, merchant_id=merchant.id, commission_bps=bps, cycle_days=cycle,
                                        minimum_payout_fen=minimum)
    dealer = identity.organisations_of_kind("dealer")[:1]
    if not dealer:
        return
    # settled through today (the seed's transfers are today's)
    made = settlement.settle_merchant(merchant_id=dealer[0].id, run_date=business_date() + timedelta(days=1),
                                      actor="system:seed")
    ctx.say(f"payments: dealer statement {made.net_fen if made else 0} fen net")
    if selectors.batches_readable_by(finops).exists() or made is None or made.state != "unpaid":
        return
    batch = payouts.prepare(finops, merchant_ids=[dealer[0].id])
    payouts.approve(approver, batch_id=batch.pk)
    for payout in batch.payouts.all():  # the provider answers now rather than after the seed's transaction
        PAYOUT_SIMULATOR.finish(payout.payout_no)
    batch.refresh_from_db()
    ctx.say(f"payments: payout batch {batch.state}, {batch.total_fen} fen")


def _reconciliation(ctx: SeedContext) -> None:
    finops = identity.subject_for_login("finops")
    day = business_date()
    if finops is None or selectors.reconciliation_runs(finops).filter(day=day).exists():
        return
    rows = list(csv.reader(io.StringIO(SIMULATOR.statement(day))))
    state, amount = reconcile.STATEMENT_COLUMNS.index("trade_state"), reconcile.STATEMENT_COLUMNS.index("amount")
    paid = [row for row in rows[1:] if row[state] == "SUCCESS"]
    if not paid:
        return
    paid[0][amount] = yuan_str(parse_yuan(paid[0][amount], field="amount") + 100)
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    run = reconcile.reconcile(provider=SIMULATOR.name, day=day, statement=out.getvalue(), actor="system:seed")
    ctx.say(f"payments: reconciled {day}: {run.matched} matched, {run.mismatched} mismatched")
