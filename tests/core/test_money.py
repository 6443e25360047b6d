import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from carloop.core.errors import Problem
from carloop.core.money import format_cny, parse_yuan, round_half_up, yuan_str, yuan_to_fen


@pytest.mark.parametrize(("text", "fen"), [("1234.56", 123456), ("0.01", 1), ("100", 10000), ("7.5", 750), ("007", 700),
                                         ("9999999999.99", 999_999_999_999)])
def test_parse_yuan_accepts_exact_amounts(text: str, fen: int) -> None:
    assert parse_yuan(text) == fen


BAD_AMOUNTS = ["", "abc", "1.234", "-1", "0", "NaN", "Infinity", "1e20", "0.001", "1e3", "1E+2", "1_000", " 7.5 ", "+5",
               "1,000", ".5", "5.", "１２３", "١٢٣", "1e30", "9" * 40, "10000000000.00", "99999999999", "0x10", "1.5\n"]


@pytest.mark.parametrize("text", BAD_AMOUNTS)
def test_parse_yuan_rejects_bad_amounts_with_a_pointer(text: str) -> None:
    with pytest.raises(Problem) as info:
        parse_yuan(text, field="body.amount")
    assert info.value.status == 422
    assert info.value.errors[0].pointer == "/body/amount"


@pytest.mark.parametrize("value", [0.1, True, False, 100, 10**40, Decimal("1.00"), None, ["1"]])
def test_parse_yuan_takes_only_strings(value: object) -> None:
    with pytest.raises(Problem) as info:
        parse_yuan(value)
    assert info.value.status == 422


def test_zero_only_when_allowed() -> None:
    assert parse_yuan("0", allow_zero=True) == 0
    assert parse_yuan("0.00", allow_zero=True) == 0


@pytest.mark.parametrize("text", [*BAD_AMOUNTS, "0", "12.30"])
def test_yuan_schema_type_agrees_with_parse_yuan(text: str) -> None:
    import pydantic

    from carloop.core.money import YUAN_PATTERN, Yuan

    adapter = pydantic.TypeAdapter(Yuan)
    try:
        adapter.validate_python(text)
        schema_ok = True
    except pydantic.ValidationError:
        schema_ok = False
    assert schema_ok == bool(re.fullmatch(YUAN_PATTERN, text)) == (text in ("0", "12.30"))


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


@given(st.integers(min_value=1, max_value=999_999_999_999))
def test_fen_round_trip(fen: int) -> None:
    assert parse_yuan(yuan_str(fen)) == fen
