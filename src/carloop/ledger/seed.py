"""Demo data for the ledger: the platform's well-known accounts, its opening capital, a month of payment
gateway settlements, and unidentified receipts parked in suspense (most later matched or returned).

Idempotent: every transfer has a deterministic id, so a second run replays instead of duplicating.
"""

from __future__ import annotations

from datetime import timedelta

from carloop.core.seeding import SeedContext
from carloop.core.timeutil import business_date
from carloop.ledger import services as ledger
from carloop.ledger.contracts import TransferSpec

BANKS = ["中国工商银行", "中国建设银行", "招商银行", "中国银行", "交通银行", "中国农业银行"]


def seed(ctx: SeedContext) -> None:
    accounts = {name: ledger.system_account(name).id for name in ledger.SYSTEM_ACCOUNTS}
    ledger.transfer(id="seed:ledger:capital", debit=accounts["platform_cash"], credit=accounts["external"],
                    amount_fen=300_000_000_00, code=ledger.CODE_CAPITAL, memo="股东注资（实收资本）", actor="system")
    today = business_date()
    days = 30 if ctx.scale == "demo" else 90
    for back in ctx.progress(range(days, 0, -1), "ledger: settlements", total=days):
        day = today - timedelta(days=back)
        amount = ctx.rng.randint(80_000_00, 450_000_00)
        ledger.transfer_batch([
            TransferSpec(id=f"seed:ledger:collect:{day}", debit=accounts["payment_clearing"], credit=accounts["external"],
                         amount_fen=amount, code=ledger.CODE_SETTLEMENT, memo=f"{day} 支付通道收款（微信支付/支付宝/银联）",
                         actor="system"),
            TransferSpec(id=f"seed:ledger:settle:{day}", debit=accounts["platform_cash"],
                         credit=accounts["payment_clearing"], amount_fen=amount - amount // 500, code=ledger.CODE_SETTLEMENT,
                         memo=f"{day} T+1 结算入账（{ctx.rng.choice(BANKS)}）", actor="system"),
        ])
    receipts = 12 if ctx.scale == "demo" else 60
    for n in range(receipts):
        payer = ctx.faker.name()
        amount = ctx.rng.choice([5_000_00, 10_000_00, 20_000_00, 2_000_00]) + ctx.rng.randint(0, 99_99)
        ledger.transfer(id=f"seed:ledger:suspense-in:{n}", debit=accounts["platform_cash"], credit=accounts["suspense"],
                        amount_fen=amount, code=ledger.CODE_SUSPENSE_IN,
                        memo=f"待查明来款：{payer}（{ctx.rng.choice(BANKS)}）附言不全", actor="system")
        if n % 3 != 2:  # two in three are matched and returned to the payer; the rest stay open for ops
            ledger.transfer(id=f"seed:ledger:suspense-out:{n}", debit=accounts["suspense"], credit=accounts["platform_cash"],
                            amount_fen=amount, code=ledger.CODE_SUSPENSE_OUT, memo=f"核实后原路退回：{payer}", actor="system")
    ctx.say(f"ledger: {len(accounts)} system accounts, {days} days of settlements, {receipts} suspense receipts")
