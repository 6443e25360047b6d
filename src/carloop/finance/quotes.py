"""Loan quotes: validate calculator input, build the schedule, render it as the published JSON shape.

Shared by ``carloop finance quote``, ``POST /api/v1/finance/quotes`` and the calculator page; offers and contracts
render their schedules with :func:`schedule_json` too, so every surface shows the same numbers. A quote is an offer
to a customer: one whose APR exceeds the cap (the named product's, else the platform cap, 24 %) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

from carloop.core.errors import FieldError, Invalid, Problem
from carloop.core.money import parse_yuan, yuan_str
from carloop.finance.amortization import MAX_TERM, Method, Schedule, ScheduleInputError, build_schedule
from carloop.finance.models import PLATFORM_APR_CAP, LoanProduct

MIN_PRINCIPAL_FEN = 100_00  # 100 yuan
MAX_PRINCIPAL_FEN = 100_000_000_00  # 100 million yuan
MAX_ANNUAL_RATE = Decimal("0.36")  # nothing above the 36 % line is lawful in China, whatever the product
MAX_MONTHLY_FEE_RATE = Decimal("0.03")


@dataclass(frozen=True)
class QuoteRequest:
    principal_fen: int
    annual_rate: Decimal
    term: int
    method: Method
    monthly_fee_rate: Decimal
    start: date
    apr_cap: Decimal = PLATFORM_APR_CAP


def _bad(field: str, zh: str, en: str) -> Problem:
    return Invalid("invalid-quote", "报价参数无效", "Invalid quote input", errors=[FieldError(field, zh, en)])


def parse_rate(value: Any, field: str, maximum: Decimal) -> Decimal:
    """A rate as a decimal fraction ("0.06"); binary floats are refused like money amounts."""  # float-ok
    pointer = "/" + field
    if value is None or isinstance(value, (bool, float)):  # float-ok: refusing binary floats is the point
        raise _bad(pointer, '请以十进制字符串传入费率，例如 "0.06"', 'Send rates as decimal strings, e.g. "0.06"')
    try:
        rate = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise _bad(pointer, "费率格式无效", "Rate is not a decimal number") from None
    if not rate.is_finite() or rate < 0 or rate > maximum:
        raise _bad(pointer, f"费率必须在 0 到 {maximum} 之间", f"Rate must be between 0 and {maximum}")
    if rate.as_tuple().exponent < -8:  # type: ignore[operator]
        raise _bad(pointer, "费率最多八位小数", "Rate may have at most eight decimal places")
    return rate


def parse_quote_request(
    *,
    principal: Any,
    annual_rate: Any,
    term: Any,
    method: Any,
    monthly_fee_rate: Any = None,
    start: Any = None,
    product: Any = None,
    today: date,
) -> QuoteRequest:
    """Validate raw calculator input (strings from the CLI or JSON); raise a 422 Problem with field pointers.

    ``product`` (a current product's code) caps the quote's APR at that product's cap instead of the platform's.
    """
    principal_fen = parse_yuan(principal, field="principal")
    if not MIN_PRINCIPAL_FEN <= principal_fen <= MAX_PRINCIPAL_FEN:
        raise _bad("/principal", "本金须在 100.00 到 100000000.00 元之间", "Principal must be 100.00 to 100000000.00 yuan")
    try:
        method_value = Method(str(method))
    except ValueError:
        raise _bad(
            "/method",
            "还款方式须为 equal_installment、equal_principal 或 monthly_fee",
            "method must be equal_installment, equal_principal or monthly_fee",
        ) from None
    if isinstance(term, bool) or not (isinstance(term, int) or (isinstance(term, str) and term.strip().isdigit())):
        raise _bad("/term", "期数须为整数", "term must be a whole number of months")
    months = int(term)
    if not 1 <= months <= MAX_TERM:
        raise _bad("/term", f"期数须在 1 到 {MAX_TERM} 之间", f"term must be 1 to {MAX_TERM} months")
    if method_value is Method.MONTHLY_FEE and annual_rate in (None, ""):
        annual_rate = "0"
    rate = parse_rate(annual_rate, "annual_rate", MAX_ANNUAL_RATE)
    fee_rate = Decimal(0)
    if monthly_fee_rate not in (None, ""):
        fee_rate = parse_rate(monthly_fee_rate, "monthly_fee_rate", MAX_MONTHLY_FEE_RATE)
    if start in (None, ""):
        first = today
    elif isinstance(start, date):
        first = start
    else:
        try:
            first = date.fromisoformat(str(start))
        except ValueError:
            raise _bad("/start", "起始日期格式须为 YYYY-MM-DD", "start must be a date YYYY-MM-DD") from None
    return QuoteRequest(principal_fen, rate, months, method_value, fee_rate, first, _apr_cap(product))


def _apr_cap(product: Any) -> Decimal:
    if product in (None, ""):
        return PLATFORM_APR_CAP
    cap = LoanProduct.objects.filter(code=str(product), is_current=True).values_list("apr_cap", flat=True).first()
    if cap is None:
        raise _bad("/product", "贷款产品不存在", "Unknown loan product")
    return cap


def build_quote(request: QuoteRequest) -> Schedule:
    """The schedule; a 422 ``apr-above-cap`` when its APR exceeds the request's cap."""
    try:
        schedule = build_schedule(
            request.principal_fen,
            request.annual_rate,
            request.term,
            request.method,
            request.start,
            monthly_fee_rate=request.monthly_fee_rate,
        )
    except ScheduleInputError as err:
        raise _bad(err.field, err.zh, err.en) from None
    apr, _ = schedule.apr_pair()
    if apr > request.apr_cap:
        pointer = "/monthly_fee_rate" if request.monthly_fee_rate else "/annual_rate"
        raise Problem(
            422,
            "apr-above-cap",
            f"该报价年化利率 {apr:.2%} 超过上限 {request.apr_cap:.2%}，不能报价",
            f"The quote's APR {apr:.2%} exceeds the cap of {request.apr_cap:.2%} and cannot be given",
            errors=[FieldError(pointer, f"年化利率不得超过 {request.apr_cap:.2%}", f"The APR must not exceed {request.apr_cap:.2%}")],
            extra={"apr": str(apr), "apr_cap": str(request.apr_cap)},
        )
    return schedule


def schedule_json(schedule: Schedule) -> dict[str, Any]:
    """The published quote shape: amounts as yuan decimal strings, APRs as decimal fractions."""
    apr, apr_effective = schedule.apr_pair()
    return {
        "principal": yuan_str(schedule.principal_fen),
        "term": schedule.term,
        "method": schedule.method.value,
        "schedule": [
            {
                "period": row.period,
                "due_date": row.due_date.isoformat(),
                "principal": yuan_str(row.principal_fen),
                "interest": yuan_str(row.interest_fen),
                "fee": yuan_str(row.fee_fen),
                "payment": yuan_str(row.payment_fen),
                "balance": yuan_str(row.balance_fen),
            }
            for row in schedule.rows()
        ],
        "total_interest": yuan_str(schedule.total_interest_fen),
        "total_fees": yuan_str(schedule.total_fees_fen),
        "total_payment": yuan_str(schedule.total_payment_fen),
        "apr": str(apr),
        "apr_effective": str(apr_effective),
    }
