"""Customers and decision requests for risk tests."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from carloop.core.seeding import SeedContext, fake_id_number
from carloop.identity import services as identity
from carloop.identity.kyc import SimulatorProvider
from carloop.risk.contracts import DecisionRequest

_seq = itertools.count(1)


def customer(*, kyc: bool = True, phone: str | None = None, min_age: int = 28, max_age: int = 40) -> Any:
    n = next(_seq)
    phone = phone or f"137{n:08d}"
    user = identity.register_customer(phone=phone, password="Tr0ub4dour&3x", display_name=f"客户{n}")
    if kyc:
        ctx = SeedContext(scale="demo", stdout=None, quiet=True, seed=1000 + n)  # type: ignore[arg-type]
        id_number = fake_id_number(ctx, min_age, max_age)
        SimulatorProvider.enrol("王小明", id_number)  # the simulated KYC provider knows this person
        identity.verify_kyc(user, real_name="王小明", id_number=id_number, city="上海市")
    user.test_phone = phone
    return user


def request(user: Any, **kw: Any) -> DecisionRequest:
    values: dict[str, Any] = {
        "application_ref": f"finance:application:{next(_seq)}",
        "product_kind": "purchase_installment",
        "customer_user_id": str(user.pk),
        "amount_fen": 3_000_000,
        "term_months": 36,
        "as_of": date(2026, 11, 22),
        "product_limits": {"min_amount_fen": 1_000_000, "max_amount_fen": 50_000_000, "max_term_months": 60, "max_ltv": "0.80"},
        "monthly_income_fen": 2_000_000,
        "collateral_value_fen": 10_000_000,
    }
    values.update(kw)
    return DecisionRequest(**values)
