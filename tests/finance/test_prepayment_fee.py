"""The carve-out of a prepayment into principal p and fee round_half_up(p × f): the largest p with p + fee <= amount."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from carloop.finance.services import servicing
from tests.finance import cashier
from tests.finance.conftest import World

RATES = st.sampled_from(
    [
        Decimal(0),
        Decimal("0.01"),
        Decimal("0.005"),
        Decimal("0.02"),
        Decimal("0.03"),
        Decimal("0.0125"),
        Decimal("0.0333"),
        Decimal("0.05"),
        Decimal("0.1"),
    ]
)


def _total(principal: int, rate: Decimal) -> int:
    return principal + int((rate * principal).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@given(amount=st.integers(min_value=0, max_value=2_000), rate=RATES)
def test_small_amounts_match_an_exhaustive_search(amount: int, rate: Decimal) -> None:
    best = max(p for p in range(amount + 1) if _total(p, rate) <= amount)
    assert servicing.prepaid_principal(amount, rate) == best


@given(amount=st.integers(min_value=0, max_value=10**12), rate=RATES)
def test_the_principal_is_the_largest_that_fits(amount: int, rate: Decimal) -> None:
    # p + fee(p) never decreases with p, so "p fits and p + 1 does not" is the largest feasible p
    principal = servicing.prepaid_principal(amount, rate)
    assert 0 <= principal <= amount
    assert _total(principal, rate) <= amount < _total(principal + 1, rate)


def test_a_prepayment_is_charged_the_exact_fee(world: World) -> None:
    loan = world.loan()  # the product charges 1 % of the prepaid principal
    subject = world.customer()
    first = loan.installments.get(period=1)
    cashier.repay(subject, loan.pk, amount_fen=first.owed_fen, on=first.due_date)
    rep = cashier.repay(
        subject, loan.pk, amount_fen=2_020_001, on=first.due_date + timedelta(days=1), option="lower_installment"
    )
    # 2,000,001 fen of principal costs round(20,000.01) = 20,000 fen: together exactly the amount
    assert (rep.principal_fen, rep.prepayment_fee_fen) == (2_000_001, 20_000)
