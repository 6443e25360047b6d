"""Repayment schedules and APR: pure, exact to the fen, no Django.

The rule (issue 4, disclosed to customers so anyone can check a schedule):

* monthly rate ``i = annual_rate / 12``;
* each period's interest = round_half_up(opening balance × i, 0.01);
* ``equal_installment`` (等额本息): payment = round_half_up(P·i·(1+i)^n / ((1+i)^n − 1), 0.01),
  principal = payment − interest, the last period pays the remaining balance plus its interest;
* ``equal_principal`` (等额本金): principal = round_half_up(P / n, 0.01), the last period takes the remainder;
* ``monthly_fee`` (等本等费, monthly-fee instalments): principal as equal principal,
  fee = round_half_up(P × f, 0.01) every period, no interest;
* due dates fall monthly on the disbursement day, clamped to the month end.

All arithmetic is exact: amounts are integer fen and rates are exact rationals taken from their ``Decimal``
values, so ``balance × annual / 12`` is rounded half-up from its true value (no intermediate rounding of ``i``).
The APR is the IRR of the real cash flows (net amount disbursed, i.e. principal minus upfront fees, against
every payment including fees), solved in ``Decimal`` by a safeguarded Newton iteration.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Context, Decimal, DivisionByZero, InvalidOperation, Overflow, localcontext
from functools import lru_cache
from itertools import repeat
from operator import sub
from typing import NamedTuple

MAX_TERM = 360
APR_QUANTUM = Decimal("0.000001")  # APRs are disclosed as fractions with six places (6.0000 %)

# One context for every IRR computation: 34 significant digits, traps on anything that is not a number.
_CTX = Context(prec=34, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])
_ZERO = Decimal(0)
_ONE = Decimal(1)
_TWELVE = Decimal(12)
# Newton stops once the proven bound on the remaining error in v = 1/(1+r) is below this (the APR is then
# within ~1e-12 of the truth, far below the disclosed six places).
_V_TOLERANCE = Decimal("1e-13")
# Below this distance from v = 1 the geometric-series closed form loses too many digits: use Horner.
_CLOSED_FORM_MIN_GAP = Decimal("1e-9")
_MAX_ITERATIONS = 200


class Method(enum.StrEnum):
    EQUAL_INSTALLMENT = "equal_installment"
    EQUAL_PRINCIPAL = "equal_principal"
    MONTHLY_FEE = "monthly_fee"


_METHODS: dict[object, Method] = {**{m.value: m for m in Method}, **{m: m for m in Method}}


class ScheduleInputError(ValueError):
    """Input that cannot form a schedule; carries a JSON-pointer field and a bilingual message."""

    def __init__(self, field: str, zh: str, en: str) -> None:
        super().__init__(en)
        self.field = field
        self.zh = zh
        self.en = en


class Row(NamedTuple):
    period: int
    due_date: date
    principal_fen: int
    interest_fen: int
    fee_fen: int
    payment_fen: int
    balance_fen: int  # closing balance after this period's principal


_RATIOS: dict[Decimal, tuple[int, int]] = {}


def _ratio(value: Decimal, field: str) -> tuple[int, int]:
    """(numerator, denominator) of a non-negative rate, memoised: products reuse a handful of rates."""
    known = _RATIOS.get(value) if isinstance(value, Decimal) and value.is_finite() else None
    if known is not None:
        return known
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ScheduleInputError(field, "必须是十进制数", "must be a decimal number")
    if value < 0:
        raise ScheduleInputError(field, "不能为负数", "must not be negative")
    ratio = value.as_integer_ratio()
    if len(_RATIOS) < 10_000:
        _RATIOS[value] = ratio
    return ratio


def _half_up_div(numerator: int, denominator: int) -> int:
    """round_half_up(numerator / denominator) for numerator >= 0 and denominator > 0, exactly."""
    return (2 * numerator + denominator) // (2 * denominator)


def add_months(start: date, months: int) -> date:
    """``start`` moved by ``months`` calendar months, keeping its day clamped to the month end."""
    year, month0 = divmod(start.month - 1 + months, 12)
    year += start.year
    day = min(start.day, calendar.monthrange(year, month0 + 1)[1])
    return date(year, month0 + 1, day)


@lru_cache(maxsize=8192)
def due_dates(start: date, term: int, first_period: int = 1) -> tuple[date, ...]:
    """Due dates of periods ``first_period .. first_period + term - 1`` of a loan disbursed on ``start``."""
    return tuple(add_months(start, k) for k in range(first_period, first_period + term))


@lru_cache(maxsize=4096)
def _annuity_factors(num: int, den12: int, term: int) -> tuple[int, int]:
    growth = (den12 + num) ** term
    return growth, den12 * (growth - den12**term)


@dataclass(slots=True)
class Schedule:
    """A complete schedule; amounts in fen, one list per column (rows are built only on demand)."""

    method: Method
    principal_fen: int
    term: int
    annual_rate: Decimal
    monthly_fee_rate: Decimal
    start: date
    first_period: int
    due_dates: tuple[date, ...]
    principal: list[int]
    interest: list[int]
    fee: list[int]
    payments: list[int]
    upfront_fee_fen: int = 0

    @property
    def total_interest_fen(self) -> int:
        return sum(self.interest)

    @property
    def total_fees_fen(self) -> int:
        """Fees charged with the instalments (the upfront fee is separate: ``upfront_fee_fen``)."""
        return sum(self.fee)

    @property
    def total_payment_fen(self) -> int:
        return sum(self.payments)

    @property
    def net_disbursed_fen(self) -> int:
        return self.principal_fen - self.upfront_fee_fen

    def rows(self) -> list[Row]:
        out = []
        balance = self.principal_fen
        for k, (due, p, i, f) in enumerate(
            zip(self.due_dates, self.principal, self.interest, self.fee, strict=True), start=self.first_period
        ):
            balance -= p
            out.append(Row(k, due, p, i, f, p + i + f, balance))
        return out

    def _irr_guess(self) -> Decimal:
        num, den = _ratio(self.annual_rate, "/annual_rate")
        guess = _CTX.divide(num, 12 * den)
        charges = self.upfront_fee_fen + sum(self.fee)
        if charges:
            guess += _CTX.divide(2 * charges, (self.principal_fen - self.upfront_fee_fen) * (self.term + 1))
        return guess

    def periodic_irr(self) -> Decimal:
        """Monthly IRR of net disbursed vs every payment (see :func:`periodic_irr`)."""
        return periodic_irr(self.payments, self.principal_fen - self.upfront_fee_fen, self._irr_guess())

    def apr_pair(self) -> tuple[Decimal, Decimal]:
        """(``apr`` = periodic IRR × 12, ``apr_effective`` = (1 + IRR)^12 − 1), both to six places."""
        guess = self._irr_guess()
        with localcontext(_CTX):
            r = _solve_irr(self.payments, self.principal_fen - self.upfront_fee_fen, guess)
            return (r * _TWELVE).quantize(APR_QUANTUM), ((_ONE + r) ** 12 - _ONE).quantize(APR_QUANTUM)


def build_schedule(
    principal_fen: int,
    annual_rate: Decimal,
    term: int,
    method: Method | str,
    start: date,
    *,
    monthly_fee_rate: Decimal = _ZERO,
    upfront_fee_fen: int = 0,
    first_period: int = 1,
    fee_base_fen: int | None = None,
) -> Schedule:
    """Build the schedule of a loan of ``principal_fen`` disbursed on ``start``.

    ``first_period`` > 1 re-amortizes an outstanding balance over the remaining periods of an existing loan
    (after a partial prepayment): due dates keep following the original disbursement day. ``fee_base_fen``
    is the amount the monthly fee is charged on (default: ``principal_fen``).
    """
    kind = _METHODS.get(method)
    if kind is None:
        raise ScheduleInputError(
            "/method", "还款方式无效", "method must be equal_installment, equal_principal or monthly_fee"
        )
    if not isinstance(principal_fen, int) or principal_fen <= 0:
        raise ScheduleInputError("/principal", "本金必须大于零", "principal must be greater than zero")
    if not isinstance(term, int) or not 1 <= term <= MAX_TERM:
        raise ScheduleInputError("/term", f"期数必须在 1 到 {MAX_TERM} 之间", f"term must be 1..{MAX_TERM} months")
    if not 0 <= upfront_fee_fen < principal_fen:
        raise ScheduleInputError("/upfront_fee", "前置费用必须小于本金", "upfront fee must be below the principal")
    rate_num, rate_den = _ratio(annual_rate, "/annual_rate")
    fee_num, fee_den = _ratio(monthly_fee_rate, "/monthly_fee_rate")
    if kind is Method.MONTHLY_FEE:
        if rate_num:
            raise ScheduleInputError(
                "/annual_rate",
                "按月收费分期不收利息，年利率须为 0",
                "the monthly_fee method charges no interest: annual rate must be 0",
            )
        if not fee_num:
            raise ScheduleInputError(
                "/monthly_fee_rate", "按月收费分期须提供月费率", "the monthly_fee method needs a monthly fee rate"
            )
    elif fee_num:
        raise ScheduleInputError(
            "/monthly_fee_rate", "只有按月收费分期收取月费", "a monthly fee rate applies to the monthly_fee method only"
        )

    den12 = 12 * rate_den
    den12x2 = 2 * den12
    num2 = 2 * rate_num
    interest: list[int] = []
    balance = principal_fen
    last = term - 1
    if kind is Method.EQUAL_INSTALLMENT:
        if rate_num:
            growth, denominator = _annuity_factors(rate_num, den12, term)
            payment = _half_up_div(principal_fen * rate_num * growth, denominator)
        else:
            payment = _half_up_div(principal_fen, term)
        append = interest.append
        for _ in range(last):
            charge = (balance * num2 + den12) // den12x2
            balance -= payment - charge
            append(charge)
        if balance < 0 or (interest and payment < interest[0]):
            # Degenerate loans (a few fen over many months) where the rounded payment cannot follow the rule:
            # pay principal while any is left, never negative.
            return _clamped_installments(principal_fen, payment, term, rate_num, rate_den, start, first_period,
                                         annual_rate, upfront_fee_fen)
        final_interest = (balance * num2 + den12) // den12x2
        interest.append(final_interest)
        principal = list(map(sub, repeat(payment, last), interest))
        principal.append(balance)
        payments = [payment] * last
        payments.append(balance + final_interest)
        fee = [0] * term
    else:
        part = _half_up_div(principal_fen, term)
        full = min(last, principal_fen // part) if part else last
        principal = [part] * full
        if full < last:  # degenerate: fewer fen than periods
            principal.append(principal_fen - part * full)
            principal.extend([0] * (last - full - 1))
        principal.append(principal_fen - sum(principal))
        if rate_num:
            balances = range(principal_fen, principal_fen - term * part, -part) if full == last and part else _balances(principal_fen, principal)
            interest = [(b * num2 + den12) // den12x2 for b in balances]
        else:
            interest = [0] * term
        per_period = _half_up_div((fee_base_fen or principal_fen) * fee_num, fee_den) if fee_num else 0
        fee = [per_period] * term
        payments = [p + i + per_period for p, i in zip(principal, interest, strict=True)]
    return Schedule(kind, principal_fen, term, annual_rate, monthly_fee_rate, start, first_period,
                    due_dates(start, term, first_period), principal, interest, fee, payments, upfront_fee_fen)


def _balances(principal_fen: int, principal: list[int]) -> list[int]:
    """Opening balance of every period."""
    out = []
    balance = principal_fen
    for part in principal:
        out.append(balance)
        balance -= part
    return out


def _clamped_installments(
    principal_fen: int, payment: int, term: int, rate_num: int, rate_den: int, start: date, first_period: int,
    annual_rate: Decimal, upfront_fee_fen: int,
) -> Schedule:
    den12 = 12 * rate_den
    principal: list[int] = []
    interest: list[int] = []
    balance = principal_fen
    for _ in range(term - 1):
        charge = _half_up_div(balance * rate_num, den12)
        part = max(0, min(balance, payment - charge))
        balance -= part
        principal.append(part)
        interest.append(charge)
    principal.append(balance)
    interest.append(_half_up_div(balance * rate_num, den12))
    payments = [p + i for p, i in zip(principal, interest, strict=True)]
    return Schedule(Method.EQUAL_INSTALLMENT, principal_fen, term, annual_rate, _ZERO, start, first_period,
                    due_dates(start, term, first_period), principal, interest, [0] * term, payments,
                    upfront_fee_fen)


def _present_value_horner(flows: Sequence[int], v: Decimal) -> tuple[Decimal, Decimal]:
    """g(v) = Σ c_k v^k and g'(v) by Horner's rule (inside ``localcontext(_CTX)``)."""
    h = _ZERO
    dh = _ZERO
    for amount in reversed(flows):
        dh = dh * v + h
        h = h * v + amount
    # h = Σ c_k v^(k-1) and dh = h'(v), so g = v·h and g' = h + v·h'
    return h * v, h + dh * v


def _present_value_level(level: int, last: int, n: int, v: Decimal) -> tuple[Decimal, Decimal]:
    """g(v) and g'(v) for ``level`` paid in periods 1..n-1 and ``last`` in period n, in closed form."""
    inv = _ONE / (_ONE - v)
    v_n1 = v ** (n - 1)
    v_n = v_n1 * v
    series = (v - v_n) * inv  # Σ_{k=1}^{n-1} v^k
    d_series = (_ONE - n * v_n1 + series) * inv  # Σ_{k=1}^{n-1} k v^(k-1)
    return level * series + last * v_n, level * d_series + last * n * v_n1


def periodic_irr(flows: Sequence[int], net: int, guess: Decimal = _ZERO) -> Decimal:
    """The periodic rate r with Σ flows[k-1] / (1+r)^k = net (flows at periods 1..n, all >= 0, net > 0).

    Solved for v = 1/(1+r) by Newton's method safeguarded by bisection on (0, 1). Level payments (all but
    the last equal, as in equal-instalment and monthly-fee schedules) use the geometric-series closed form,
    anything else Horner's rule. Newton stops when the remaining error is provably tiny: for non-negative
    flows g''(v) <= (n-1)/v · g'(v), so after a step of size Δ <= v/(20n) the error in v is below about
    0.6·n·Δ²/v. Exactly 0 when the flows repay exactly the net amount.
    """
    if not flows or net <= 0:
        raise ValueError("an IRR needs a positive net amount and at least one payment")
    if min(flows) < 0:
        raise ValueError("flows must not be negative")
    with localcontext(_CTX):
        return _solve_irr(flows, net, guess)


def _solve_irr(flows: Sequence[int], net: int, guess: Decimal) -> Decimal:
    """Inside ``localcontext(_CTX)``; ``flows`` non-empty and non-negative, ``net`` > 0 (schedules guarantee it)."""
    n = len(flows)
    total = sum(flows)
    if total == net:
        return _ZERO
    if total < net:
        raise ValueError("the payments do not repay the net amount: negative IRR")
    level = flows[0]
    last = flows[-1]
    same = flows.count(level)
    is_level = same == n or (same == n - 1 and last != level)
    target = Decimal(net)
    lo, hi = _ZERO, _ONE  # g(lo) < net < g(hi) since g(0) = 0 and g(1) = total
    v = _ONE / (_ONE + guess) if guess > 0 else Decimal("0.99")
    n_dec = Decimal(n)
    for _ in range(_MAX_ITERATIONS):
        if is_level and _ONE - v > _CLOSED_FORM_MIN_GAP:
            g, dg = _present_value_level(level, last, n, v)
        else:
            g, dg = _present_value_horner(flows, v)
        excess = g - target
        if excess > 0:
            hi = v
        elif excess < 0:
            lo = v
        else:
            break
        step = excess / dg
        candidate = v - step
        if not lo < candidate < hi:
            candidate = (lo + hi) / 2
            step = v - candidate
        v = candidate
        if n_dec * step * step < _V_TOLERANCE * v and abs(step) * 20 * n_dec < v:
            break
    else:  # pragma: no cover - Newton with bisection converges long before this
        raise ArithmeticError("IRR did not converge")
    return _ONE / v - _ONE
