"""Schedules and APR: worked examples, the literal rule (exact rationals) and numpy-financial as oracles."""

from __future__ import annotations

import math
from datetime import date
from decimal import Decimal
from fractions import Fraction

import numpy_financial as npf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from carloop.finance.amortization import (
    Method,
    ScheduleInputError,
    add_months,
    build_schedule,
    due_dates,
    periodic_irr,
)

START = date(2026, 1, 15)


def _half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def literal_schedule(p: int, rate: Decimal, n: int, method: str, fee_rate: Decimal) -> list[tuple[int, int, int]]:
    """The rule of issue 4 read literally, in exact rationals: [(principal, interest, fee)] in fen."""
    i = Fraction(rate) / 12
    rows = []
    balance = p
    if method == "equal_installment":
        if i:
            g = (1 + i) ** n
            payment = _half_up(p * i * g / (g - 1))
        else:
            payment = _half_up(Fraction(p, n))
        for k in range(1, n + 1):
            interest = _half_up(balance * i)
            principal = balance if k == n else payment - interest
            balance -= principal
            rows.append((principal, interest, 0))
    else:
        part = _half_up(Fraction(p, n))
        fee = _half_up(p * Fraction(fee_rate))
        for k in range(1, n + 1):
            interest = _half_up(balance * i)
            principal = balance if k == n else part
            balance -= principal
            rows.append((principal, interest, fee))
    return rows


# ---------------------------------------------------------------------------------------------- worked examples
def test_equal_installment_worked_example() -> None:
    s = build_schedule(10_000_000, Decimal("0.06"), 36, "equal_installment", START)
    rows = s.rows()
    assert rows[0].payment_fen == 304_219  # 3042.19: 100,000 at 6% for 36 months
    assert (rows[0].interest_fen, rows[0].principal_fen, rows[0].balance_fen) == (50_000, 254_219, 9_745_781)
    assert rows[1].interest_fen == 48_729  # 97457.81 × 0.005 = 487.29
    assert rows[-1].payment_fen == 304_236  # last: remaining 3027.22 + interest 15.14
    assert rows[-1].balance_fen == 0
    assert s.total_interest_fen == 951_901
    assert s.total_payment_fen == 10_951_901
    apr, effective = s.apr_pair()
    assert apr == Decimal("0.060000")
    assert effective == Decimal("0.061678")  # 1.005^12 - 1 = 0.0616778


def test_equal_principal_worked_example() -> None:
    s = build_schedule(10_000_000, Decimal("0.06"), 36, "equal_principal", START)
    rows = s.rows()
    assert (rows[0].principal_fen, rows[0].interest_fen, rows[0].payment_fen) == (277_778, 50_000, 327_778)
    assert (rows[1].principal_fen, rows[1].interest_fen) == (277_778, 48_611)  # 97222.22 × 0.005 = 486.11
    assert rows[-1].principal_fen == 10_000_000 - 35 * 277_778 == 277_770
    assert sum(s.principal) == 10_000_000
    assert s.apr_pair()[0] == Decimal("0.060000")


def test_monthly_fee_worked_example() -> None:
    s = build_schedule(10_000_000, Decimal(0), 36, "monthly_fee", START, monthly_fee_rate=Decimal("0.006"))
    rows = s.rows()
    assert {r.fee_fen for r in rows} == {60_000}
    assert {r.interest_fen for r in rows} == {0}
    assert rows[0].payment_fen == 337_778 and rows[-1].payment_fen == 337_770
    assert s.total_fees_fen == 2_160_000
    apr, effective = s.apr_pair()
    # A flat 0.6 % a month over 36 months is far dearer than 7.2 % a year: numpy-financial agrees.
    flows = [-100_000.0] + [p / 100 for p in s.payments]  # float-ok: test oracle only
    assert apr == Decimal("0.131739")
    assert abs(float(apr) - 12 * npf.irr(flows)) < 1e-6  # float-ok: test oracle only
    assert effective == Decimal("0.139992")


def test_upfront_fee_reduces_net_disbursed_and_raises_apr() -> None:
    plain = build_schedule(10_000_000, Decimal("0.06"), 36, "equal_installment", START)
    with_fee = build_schedule(10_000_000, Decimal("0.06"), 36, "equal_installment", START, upfront_fee_fen=200_000)
    assert with_fee.payments == plain.payments
    assert with_fee.net_disbursed_fen == 9_800_000
    flows = [-98_000.0] + [p / 100 for p in with_fee.payments]  # float-ok: test oracle only
    apr = with_fee.apr_pair()[0]
    assert apr > plain.apr_pair()[0]
    assert abs(float(apr) - 12 * npf.irr(flows)) < 1e-6  # float-ok: test oracle only


def test_zero_rate_installments_have_zero_apr() -> None:
    s = build_schedule(1_200_000, Decimal(0), 12, "equal_installment", START)
    assert s.payments == [100_000] * 12
    assert s.apr_pair() == (Decimal("0.000000"), Decimal("0.000000"))


def test_due_dates_follow_disbursement_day_clamped_to_month_end() -> None:
    assert due_dates(date(2026, 1, 31), 4) == (date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30), date(2026, 5, 31))
    assert add_months(date(2027, 11, 30), 3) == date(2028, 2, 29)  # leap year
    assert add_months(date(2026, 12, 15), 1) == date(2027, 1, 15)
    assert due_dates(date(2026, 1, 31), 2, first_period=13) == (date(2027, 2, 28), date(2027, 3, 31))


def test_tiny_loans_still_sum_exactly() -> None:
    for method in ("equal_installment", "equal_principal"):
        for p in (1, 5, 17, 35, 36, 37, 630):
            s = build_schedule(p, Decimal("0.24"), 36, method, START)
            assert sum(s.principal) == p
            assert min(s.principal) >= 0
            assert s.rows()[-1].balance_fen == 0


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"principal_fen": 0}, "/principal"),
        ({"principal_fen": -5}, "/principal"),
        ({"term": 0}, "/term"),
        ({"term": 361}, "/term"),
        ({"annual_rate": Decimal("-0.01")}, "/annual_rate"),
        ({"annual_rate": Decimal("NaN")}, "/annual_rate"),
        ({"method": "balloon"}, "/method"),
        ({"monthly_fee_rate": Decimal("0.006")}, "/monthly_fee_rate"),
        ({"method": "monthly_fee", "annual_rate": Decimal(0)}, "/monthly_fee_rate"),
        ({"method": "monthly_fee", "monthly_fee_rate": Decimal("0.006")}, "/annual_rate"),
        ({"upfront_fee_fen": 10_000_000}, "/upfront_fee"),
    ],
)
def test_bad_input_is_refused_with_a_field(kwargs: dict, field: str) -> None:
    args = {"principal_fen": 10_000_000, "annual_rate": Decimal("0.06"), "term": 36,
            "method": "equal_installment", "start": START} | kwargs
    with pytest.raises(ScheduleInputError) as err:
        build_schedule(**args)
    assert err.value.field == field
    assert err.value.zh and err.value.en


def test_irr_edge_cases() -> None:
    assert periodic_irr([100, 100], 200) == 0
    with pytest.raises(ValueError):
        periodic_irr([100], 0)
    with pytest.raises(ValueError):
        periodic_irr([50, 50], 200)  # pays back less than lent
    # A hopeless guess still converges (bisection safeguard).
    r = periodic_irr([304_219] * 35 + [304_236], 10_000_000, Decimal(5))
    assert abs(r - Decimal("0.005")) < Decimal("1e-6")
    # Level-looking flows whose odd one out is not the last must not take the closed form.
    odd = [1000] * 12
    odd[4] = 5000
    assert abs(float(periodic_irr(odd, 14_000)) - npf.irr([-14_000, *odd])) < 1e-12  # float-ok: test oracle
    # One balloon payment: (1 + r) = 110 / 100.
    assert abs(periodic_irr([110], 100) - Decimal("0.1")) < Decimal("1e-15")


# ----------------------------------------------------------------------------------------------- property tests
principals = st.integers(min_value=100_000, max_value=500_000_000)  # 1,000.00 .. 5,000,000.00 yuan
rates = st.integers(min_value=0, max_value=3600).map(lambda bp: Decimal(bp) / 10_000)  # 0 .. 36 %
fee_rates = st.integers(min_value=1, max_value=150).map(lambda x: Decimal(x) / 10_000)  # 0.01 .. 1.5 % a month
terms = st.integers(min_value=1, max_value=360)
starts = st.dates(min_value=date(2020, 1, 1), max_value=date(2035, 12, 31))


@st.composite
def loans(draw: st.DrawFn) -> tuple[int, Decimal, int, str, Decimal, date]:
    method = draw(st.sampled_from([m.value for m in Method]))
    if method == "monthly_fee":
        return draw(principals), Decimal(0), draw(terms), method, draw(fee_rates), draw(starts)
    return draw(principals), draw(rates), draw(terms), method, Decimal(0), draw(starts)


@settings(max_examples=1200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(loans())
def test_schedule_matches_rule_and_numpy_financial(loan: tuple[int, Decimal, int, str, Decimal, date]) -> None:
    p, rate, n, method, fee_rate, start = loan
    s = build_schedule(p, rate, n, method, start, monthly_fee_rate=fee_rate)
    rows = s.rows()

    # Exact: the literal rule in rationals, Σ principal = P to the fen, nothing negative, balance ends at 0.
    literal = literal_schedule(p, rate, n, method, fee_rate)
    ours = [(r.principal_fen, r.interest_fen, r.fee_fen) for r in rows]
    regular = all(part >= 0 for part, _, _ in literal)
    if regular:
        assert ours == literal
    else:
        # Long, dear, small loans where the rounded payment overshoots the balance before the last period: the
        # literal rule would go negative; the schedule stops taking principal once it is repaid.
        assert ours[0] == literal[0]
    assert sum(s.principal) == p
    assert rows[-1].balance_fen == 0
    assert all(r.principal_fen >= 0 and r.interest_fen >= 0 for r in rows)
    assert s.total_payment_fen == p + s.total_interest_fen + s.total_fees_fen == sum(r.payment_fen for r in rows)
    assert [r.due_date for r in rows] == [add_months(start, k) for k in range(1, n + 1)]

    # numpy-financial (test oracle only): payment, interest and principal per period.  # float-ok
    i = float(rate) / 12  # float-ok: test oracle only
    if method == "equal_installment" and rate and regular:
        assert abs(rows[0].payment_fen - npf.pmt(i, n, -p)) <= 0.5 + 1e-6 * p / 1e6  # float-ok
        # Rounding drift: each period's balance may differ from the exact annuity by at most k·(1+i)^k fen.
        for r in rows[:-1][:: max(1, n // 12)]:
            drift = r.period * (1 + i) ** r.period  # float-ok: test oracle only
            assert abs(r.interest_fen - npf.ipmt(i, r.period, n, -p)) <= drift * i + 1.0  # float-ok
            assert abs(r.principal_fen - npf.ppmt(i, r.period, n, -p)) <= drift * i + 1.5  # float-ok

    # APR: the IRR of the real cash flows.
    r = s.periodic_irr()
    apr, effective = s.apr_pair()
    assert apr == (r * 12).quantize(Decimal("0.000001"))
    assert abs(effective - ((1 + r) ** 12 - 1)) <= Decimal("0.0000005")
    flows = [float(x) for x in s.payments]  # float-ok: test oracle only
    npv = npf.npv(float(r), [-float(p), *flows])  # float-ok: test oracle only
    assert abs(npv) < 1e-6 * p  # float-ok: test oracle only
    if r and s.payments[:-1] == [s.payments[0]] * (n - 1):
        level, last = flows[0], flows[-1]
        guess = i + 2 * n * float(fee_rate) / (n + 1)  # float-ok: test oracle only
        oracle = npf.rate(n, level, -float(p), last - level, guess=guess, tol=1e-11, maxiter=500)  # float-ok
        if abs(float(r) - oracle) >= 1e-9:  # float-ok: npf.rate can stop at its guess; then ours must be the better root
            cash = [-float(p), *flows]  # float-ok: test oracle only
            assert abs(npf.npv(float(r), cash)) <= abs(npf.npv(oracle, cash))  # float-ok: test oracle only
    if n <= 60:
        assert abs(float(r) - npf.irr([-float(p), *flows])) < 1e-9  # float-ok: test oracle only
    if method != "monthly_fee":
        # Without fees the IRR is the contract rate up to the fen rounding of the schedule.
        assert abs(r - rate / 12) < Decimal("0.00001")


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=10**9), min_size=1, max_size=4), st.data())
def test_principal_shares_are_exact_and_capped(outstanding: list[int], data: st.DataObject) -> None:
    from carloop.finance.services import principal_shares

    principal = data.draw(st.integers(min_value=0, max_value=sum(outstanding)))
    shares = principal_shares(principal, outstanding)
    assert sum(shares) == principal
    assert all(0 <= s <= o for s, o in zip(shares, outstanding, strict=True))
