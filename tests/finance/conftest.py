"""Finance fixtures: a funding partner with a 70/30 plan, products, capital in the pools, a verified customer."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from carloop.core.authz import Subject
from carloop.finance import ledger_accounts, services
from carloop.identity import selectors as identity

DISBURSED_ON = date(2026, 1, 15)


@pytest.fixture(autouse=True)
def _fresh_account_cache() -> Iterator[None]:
    ledger_accounts.clear_cache()
    yield
    ledger_accounts.clear_cache()


class World:
    def __init__(self, actors: Any) -> None:
        self.actors = actors
        self.partner = actors.org("lender_analyst")
        from carloop.core.seeding import SeedContext, fake_uscc
        from carloop.identity import services as identity_services

        ctx = SeedContext(scale="demo", stdout=None, quiet=True, seed=7)  # type: ignore[arg-type]
        self.dealer = identity_services.create_organisation(kind="dealer", name="北京京车汽车销售有限公司", uscc_code=fake_uscc(ctx))
        plan = services.create_funding_plan("joint-70", "合作方 70% / 平台 30%", [(self.partner.pk, 7000, Decimal("0.045"))])
        self.purchase = services.create_product(
            "car-purchase", kind="purchase_installment", name_zh="购车分期", name_en="Car purchase instalment",
            method="equal_installment", min_amount_fen=1_000_000, max_amount_fen=100_000_000, min_term=12, max_term=60,
            terms=[12, 24, 36], rate_table={"A": "0.0499", "B": "0.0699", "C": "0.0999"}, min_down_payment=Decimal("0.2"),
            grace_days=3, penalty_rate=Decimal("0.18"), prepayment_fee_rate=Decimal("0.01"), funding_plan=plan,
        )
        self.secured = services.create_product(
            "car-secured", kind="car_secured", name_zh="车抵贷", name_en="Car-secured loan", method="equal_principal",
            min_amount_fen=500_000, max_amount_fen=50_000_000, min_term=6, max_term=36, terms=[12, 24],
            rate_table={"B": "0.1099"}, max_ltv=Decimal("0.8"), grace_days=0, penalty_rate=Decimal("0.2"),
        )
        fund_capital(self.partner.pk, 1_000_000_000, "initial")
        fund_capital(None, 1_000_000_000, "initial")

    def customer(self, kind: str = "customer") -> Subject:
        return identity.subject_for_user(self.actors.user(kind))

    def purchase_input(self, amount_fen: int = 10_000_000, term: int = 36, **kw: Any) -> services.ApplicationInput:
        return services.ApplicationInput(product="car-purchase", amount_fen=amount_fen, term=term, consent=True,
                                         order_ref="ORD-2026-0001", merchant_org_id=self.dealer.pk,
                                         car_price_fen=15_000_000, **kw)

    def order_with_offer(self, subject: Subject) -> tuple[Any, Any]:
        """A platform car order (¥150,000, deposit paid) and an application for 80 % of it, decided."""
        from carloop.commerce import services as commerce
        from tests.commerce.factories import make_trim, pay_deposit

        order = commerce.create_order(subject, trim_id=make_trim(msrp_yuan=150_000).pk, colour_code="white")
        pay_deposit(order)
        order.refresh_from_db()
        app = services.apply(subject, services.ApplicationInput(
            product="car-purchase", amount_fen=order.total_fen * 8 // 10, term=36, consent=True, order_ref=order.ref,
            merchant_org_id=self.dealer.pk, car_price_fen=order.total_fen), on=DISBURSED_ON)
        return order, app

    def loan(self, amount_fen: int = 10_000_000, term: int = 36, kind: str = "customer") -> Any:
        subject = self.customer(kind)
        app = services.apply(subject, self.purchase_input(amount_fen, term), on=DISBURSED_ON)
        return services.accept_offer(subject, app.pk, agree=True, ip="10.0.0.1", on=DISBURSED_ON)


@pytest.fixture
def world(actors: Any, settings: Any) -> World:
    settings.CARLOOP_DECISION_PROVIDER = "rules"
    return World(actors)


def fund_capital(partner_id: Any, amount_fen: int, key: str) -> None:
    """A funder's capital call, paid by bank transfer: finance operations confirm it at the cashier."""
    from carloop.finance.models import CAPITAL_KIND
    from carloop.payments import services as payments

    call = services.call_capital(partner_id, amount_fen, key)
    payments.confirm_deposit(kind=CAPITAL_KIND, ref=call.ref, bank_txn_id=f"CAPITAL-{call.pk.hex}",
                             value_date=date.today(), actor="finops")
