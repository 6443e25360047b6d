import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vininfo import Vin

from carloop.vehicles.vin import ALLOWED_CHARS, YEAR_CODES, decode_vin

AS_OF = dt.date(2026, 11, 22)
TRANS = {**{str(d): d for d in range(10)}, **dict(zip("ABCDEFGH", range(1, 9), strict=True)),
         **dict(zip("JKLMN", range(1, 6), strict=True)), "P": 7, "R": 9,
         **dict(zip("STUVWXYZ", range(2, 10), strict=True))}
WEIGHTS = [8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2]


def with_check_digit(template: str) -> str:
    """Fill position 9 from the GB 16735 / ISO 3779 weights, independently of the code under test."""
    body = template[:8] + "0" + template[9:]
    remainder = sum(TRANS[c] * w for c, w in zip(body, WEIGHTS, strict=True)) % 11
    return template[:8] + ("X" if remainder == 10 else str(remainder)) + template[9:]


CHINESE_TEMPLATES = [
    ("LK6ADCE1?PB100234", "SAIC-GM-Wuling", 2023),
    ("LZWADAGA?LB012345", "SAIC-GM-Wuling", 2020),
    ("LGXCE4CB?R0012345", "BYD Auto", 2024),
    ("LC0CE4CB?S1000001", "BYD Auto", 2025),
    ("L6T7944Z?RN000123", "Geely Automobile", 2024),
    ("LB37624S?NX123456", "Geely Automobile", 2022),
    ("LS5A3ABE?MA123456", "Changan Automobile", 2021),
    ("LGWEF5A5?PH123456", "Great Wall Motor", 2023),
    ("LJ1EEAUU?N4123456", "JAC Motors (incl. NIO vehicles built by JAC)", 2022),
    ("LW433B10?N1012345", "Li Auto", 2022),
    ("L1NSPGHB?PA123456", "XPeng Motors", 2023),
    ("LRWYGCEK?PC123456", "Tesla Shanghai", 2023),
    ("LVVDB21B?RD012345", "Chery Automobile", 2024),
]


@pytest.mark.parametrize(("template", "manufacturer", "year"), CHINESE_TEMPLATES)
def test_valid_chinese_vins_decode(template, manufacturer, year):
    vin = with_check_digit(template)
    report = decode_vin(vin, AS_OF).as_dict()
    assert report == {"vin": vin, "valid": True, "check_digit_ok": True, "wmi": vin[:3],
                      "manufacturer": manufacturer, "country": "China", "model_year": year, "errors": []}
    assert Vin(vin).verify_checksum(check_year=False)


@pytest.mark.parametrize("template", [t for t, _, _ in CHINESE_TEMPLATES])
def test_wrong_check_digit_is_an_error_for_china_built_vehicles(template):
    vin = with_check_digit(template)
    wrong = "X" if vin[8] != "X" else "0"
    report = decode_vin(vin[:8] + wrong + vin[9:], AS_OF)
    assert not report.valid
    assert report.check_digit_ok is False
    assert [(e.code, e.severity) for e in report.errors] == [("check-digit", "error")]
    assert f"should be {vin[8]}" in report.errors[0].en


@pytest.mark.parametrize("vin", ["LK6ADCE14PB100234", "LRWYGCEK9PC123456", "LC0CE4CB3S1000001", "1M8GDM9AXKP042788"])
def test_hard_coded_known_good_vins(vin):
    assert decode_vin(vin, AS_OF).check_digit_ok is True


def test_non_chinese_wrong_check_digit_is_only_a_warning():
    report = decode_vin("WVWZZZ1JZXW000001", AS_OF)
    assert report.valid is True
    assert report.check_digit_ok is False
    assert report.manufacturer == "Volkswagen"
    assert report.country == "Germany"
    assert [(e.code, e.severity) for e in report.errors] == [("check-digit", "warning")]


@pytest.mark.parametrize(("vin", "code"), [
    ("LK6ADCE14PB10023", "length"),
    ("LK6ADCE14PB1002345", "length"),
    ("", "length"),
    ("LK6ADCE14PB1OO234", "characters"),
    ("LK6ADCE14PBI00234", "characters"),
    ("LK6ADCE14QB100234", "characters"),
    ("LK6ADCE1-PB100234", "characters"),
])
def test_malformed_vins_are_invalid(vin, code):
    report = decode_vin(vin, AS_OF)
    assert report.valid is False
    assert report.check_digit_ok is None
    assert report.model_year is None
    assert code in [e.code for e in report.errors]


def test_input_is_normalised():
    report = decode_vin("  lk6adce14pb100234 ", AS_OF)
    assert report.vin == "LK6ADCE14PB100234"
    assert report.valid


def test_invalid_year_code_is_an_error_for_chinese_vins():
    vin = with_check_digit("LK6ADCE1?UB100234")
    report = decode_vin(vin, AS_OF)
    assert not report.valid
    assert [e.code for e in report.errors] == ["model-year"]


def test_unknown_chinese_wmi_is_valid_with_warning():
    vin = with_check_digit("LZZ1ABCD?RA123456")
    report = decode_vin(vin, AS_OF)
    assert report.valid and report.country == "China"
    assert [e.code for e in report.errors] == ["unknown-wmi"]


@pytest.mark.parametrize(("code", "as_of", "year"), [
    ("A", dt.date(2026, 1, 1), 2010),
    ("S", dt.date(2026, 1, 1), 2025),
    ("T", dt.date(2026, 1, 1), 2026),
    ("V", dt.date(2026, 1, 1), 2027),
    ("W", dt.date(2026, 1, 1), 1998),
    ("W", dt.date(2027, 6, 1), 2028),
    ("9", dt.date(2026, 1, 1), 2009),
    ("Y", dt.date(2026, 1, 1), 2000),
])
def test_model_year_resolves_to_most_recent_plausible(code, as_of, year):
    vin = with_check_digit(f"LK6ADCE1?{code}B100234")
    assert decode_vin(vin, as_of).model_year == year


@given(st.text(alphabet=sorted(ALLOWED_CHARS), min_size=17, max_size=17))
def test_any_vin_with_computed_check_digit_passes_the_check(raw):
    vin = with_check_digit(raw)
    report = decode_vin(vin, AS_OF)
    assert report.check_digit_ok is True
    assert report.valid == (not vin.startswith("L") or vin[9] in YEAR_CODES)
