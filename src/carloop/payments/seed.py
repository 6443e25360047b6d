"""The cashier's demo: settlement contracts for the dealer (T+1) and the first store (T+7), the dealer settled
through today, so its staff (login ``dealer``) read a statement of the loan disbursements finance's seed paid it,
and that statement paid out: a payout batch prepared by ``finops`` and approved by ``finops2`` (four-eyes), paid
on the payout simulator's word. Finance operations see it on the settlement and payout pages."""

from __future__ import annotations

from datetime import timedelta

from carloop.core.seeding import SeedContext
from carloop.core.timeutil import business_date
from carloop.identity import selectors as identity
from carloop.payments import payouts, selectors, settlement
from carloop.payments.simulator import PAYOUT_SIMULATOR

CONTRACTS = (("dealer", 80, 1, 100_000), ("store", 600, 7, 50_000))  # kind, bps, cycle days, minimum payout fen


def seed(ctx: SeedContext) -> None:
    finops, approver = identity.subject_for_login("finops"), identity.subject_for_login("finops2")
    assert finops is not None and approver is not None
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
