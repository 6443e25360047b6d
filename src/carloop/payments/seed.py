"""The cashier's demo: settlement contracts for the dealer (T+1) and the first store (T+7), and the dealer settled
through today, so its staff (login ``dealer``) read a statement of the loan disbursements finance's seed paid it,
and finance operations (``finops``) see it on the settlement page."""

from __future__ import annotations

from datetime import timedelta

from django.contrib.auth import get_user_model

from carloop.core.seeding import SeedContext
from carloop.core.timeutil import business_date
from carloop.identity import selectors as identity
from carloop.payments import settlement
from carloop.payments.models import SettlementContract

CONTRACTS = (("dealer", 80, 1, 100_000), ("store", 600, 7, 50_000))  # kind, bps, cycle days, minimum payout fen


def seed(ctx: SeedContext) -> None:
    finops = identity.subject_for_user(get_user_model().objects.filter(username="finops").first())
    for kind, bps, cycle, minimum in CONTRACTS:
        merchants = identity.organisations_of_kind(kind)[:1]
        for merchant in merchants:
            if not SettlementContract.objects.filter(merchant_id=merchant.id).exists():
                settlement.set_contract(finops, merchant_id=merchant.id, commission_bps=bps, cycle_days=cycle,
                                        minimum_payout_fen=minimum)
    dealer = identity.organisations_of_kind("dealer")[:1]
    if dealer:  # settled through today (the seed's transfers are today's)
        made = settlement.settle_merchant(merchant_id=dealer[0].id, run_date=business_date() + timedelta(days=1),
                                          actor="system:seed")
        ctx.say(f"payments: dealer statement {made.net_fen if made else 0} fen net")
