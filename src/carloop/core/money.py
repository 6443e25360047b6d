"""Money: integer fen in storage, Decimal with explicit rounding in calculations, yuan strings at the edges."""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated

from pydantic import Field

from carloop.core.errors import FieldError, Invalid

CENT = Decimal("0.01")
FEN_PER_YUAN = 100
# The one shape of an amount at the edges: ASCII digits, at most two decimals, at most ten integer digits
# (9,999,999,999.99 yuan: far above any single amount carloop handles, far below what a fen BigInteger holds).
YUAN_PATTERN = r"^[0-9]{1,10}(\.[0-9]{1,2})?$"
MAX_YUAN = Decimal("9999999999.99")
_YUAN_RE = re.compile(YUAN_PATTERN.replace("$", r"\Z"))

Yuan = Annotated[str, Field(pattern=YUAN_PATTERN, max_length=13, description='Yuan as a decimal string, e.g. "1234.56"',
                            examples=["1234.56"])]
"""An amount field in an API schema: validated by shape here, turned into fen with :func:`parse_yuan`."""


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


def parse_yuan(value: object, *, field: str = "amount", allow_zero: bool = False) -> int:
    """Parse an API amount in yuan ("1234.56") into fen.

    Only a string matching ``YUAN_PATTERN`` is an amount: ASCII digits, at most two decimals, at most
    ``MAX_YUAN``. JSON numbers and booleans, exponents, signs, underscores, separators, whitespace and
    non-ASCII digits are refused. Raises a 422 ``Problem`` with a field pointer, so callers can pass the raw
    value straight in.
    """
    pointer = "/" + field.replace(".", "/")
    if not isinstance(value, str):
        raise Invalid("invalid-amount", "金额必须是十进制字符串", "Amounts must be decimal strings",
                      errors=[FieldError(pointer, "请以字符串传入金额，例如 \"1234.56\"", 'Send amounts as strings, e.g. "1234.56"')])
    problem = None
    if not _YUAN_RE.fullmatch(value):
        problem = ("金额须为最多两位小数的十进制数，例如 \"1234.56\"，且不超过 9999999999.99 元",
                   'Amount must be a decimal number with at most two decimals, e.g. "1234.56", and at most 9999999999.99')
    elif Decimal(value) == 0 and not allow_zero:
        problem = ("金额必须大于零", "Amount must be greater than zero")
    if problem:
        raise Invalid("invalid-amount", "金额无效", "Invalid amount", errors=[FieldError(pointer, *problem)])
    return yuan_to_fen(Decimal(value))
