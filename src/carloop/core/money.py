"""Money: integer fen in storage, Decimal with explicit rounding in calculations, yuan strings at the edges."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from carloop.core.errors import FieldError, Invalid

CENT = Decimal("0.01")
FEN_PER_YUAN = 100
MAX_YUAN = Decimal("1000000000000.00")  # a trillion yuan: far above any single amount carloop handles


def round_half_up(value: Decimal, quantum: Decimal = CENT) -> Decimal:
    """Round ``value`` to ``quantum`` (default one fen) with ROUND_HALF_UP, the rule Chinese lenders disclose."""
    return value.quantize(quantum, rounding=ROUND_HALF_UP)


def fen_to_yuan(fen: int) -> Decimal:
    """Exact yuan Decimal for an integer fen amount."""
    return (Decimal(fen) / FEN_PER_YUAN).quantize(CENT)


def yuan_to_fen(yuan: Decimal) -> int:
    """Fen for a yuan Decimal that is already exact to the fen; rounding is the caller's explicit decision."""
    fen = yuan * FEN_PER_YUAN
    if fen != fen.to_integral_value():
        raise ValueError(f"{yuan} is not a whole number of fen; round it explicitly first")
    return int(fen)


def yuan_str(fen: int) -> str:
    """API representation: yuan as a decimal string with two places, e.g. ``"1234.56"``."""
    return str(fen_to_yuan(fen))


def format_cny(fen: int) -> str:
    """Display representation: ``"¥1,234.56"`` (negative as ``"-¥1,234.56"``)."""
    yuan = fen_to_yuan(abs(fen))
    sign = "-" if fen < 0 else ""
    return f"{sign}¥{yuan:,.2f}"


def parse_yuan(
    value: str | int | Decimal,
    *,
    field: str = "amount",
    allow_zero: bool = False,
    allow_negative: bool = False,
) -> int:
    """Parse an API amount in yuan ("1234.56") into fen, refusing anything that is not exact to the fen.

    Raises a 422 ``Problem`` with a field pointer for bad input, so callers can pass the raw value straight in.
    """
    pointer = "/" + field.replace(".", "/")
    if isinstance(value, float):  # float-ok: rejecting floats is the point
        raise Invalid("invalid-amount", "金额必须是十进制字符串", "Amounts must be decimal strings",
                      errors=[FieldError(pointer, "请以字符串传入金额，例如 \"1234.56\"", 'Send amounts as strings, e.g. "1234.56"')])
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        amount = Decimal("NaN")
    problem = None
    if not amount.is_finite():
        problem = ("金额格式无效", "Amount is not a valid decimal number")
    elif amount != round_half_up(amount):
        problem = ("金额最多两位小数（精确到分）", "Amount may have at most two decimal places (fen)")
    elif amount < 0 and not allow_negative:
        problem = ("金额不能为负数", "Amount must not be negative")
    elif amount == 0 and not allow_zero:
        problem = ("金额必须大于零", "Amount must be greater than zero")
    elif abs(amount) > MAX_YUAN:
        problem = ("金额超出允许范围", "Amount is out of range")
    if problem:
        raise Invalid("invalid-amount", "金额无效", "Invalid amount", errors=[FieldError(pointer, *problem)])
    return yuan_to_fen(amount.quantize(CENT))
