from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.core.errors import Problem
from carloop.core.money import format_cny, parse_yuan, round_half_up, yuan_str, yuan_to_fen


@pytest.mark.parametrize(("text", "fen"), [("1234.56", 123456), ("0.01", 1), ("100", 10000), (" 7.5 ", 750), ("1E+2", 10000)])
def test_parse_yuan_accepts_exact_amounts(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


@pytest.mark.parametrize("text", ["", "abc", "1.234", "-1", "0", "NaN", "Infinity", "1e20", "0.001"])
def test_parse_yuan_rejects_bad_amounts_with_a_pointer(text: str) -> None:
    with pytest.raises(Problem) as info:
        parse_yuan(text, field="body.amount")
    assert info.value.status == 422
    assert info.value.errors[0].pointer == "/body/amount"


def test_parse_yuan_refuses_floats() -> None:
    with pytest.raises(Problem):
        parse_yuan(0.1)  # type: ignore[arg-type]


def test_zero_and_negative_only_when_allowed() -> None:
    assert parse_yuan("0", allow_zero=True) == 0
    assert parse_yuan("-3.20", allow_negative=True) == -320


def test_rounding_is_half_up_not_bankers() -> None:
    assert round_half_up(Decimal("2.345")) == Decimal("2.35")
    assert round_half_up(Decimal("2.325")) == Decimal("2.33")
    assert round_half_up(Decimal("-2.345")) == Decimal("-2.35")


def test_formatting() -> None:
    assert format_cny(123456) == "¥1,234.56"
    assert format_cny(-5) == "-¥0.05"
    assert yuan_str(100) == "1.00"


def test_yuan_to_fen_refuses_sub_fen_values() -> None:
    with pytest.raises(ValueError):
        yuan_to_fen(Decimal("0.005"))


@given(st.integers(min_value=1, max_value=10**14))
def test_fen_round_trip(fen: int) -> None:
    assert parse_yuan(yuan_str(fen)) == fen
