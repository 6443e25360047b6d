"""VIN decoding and validation after GB 16735 / ISO 3779.

vininfo supplies the generic WMI and country tables; ``data/china_wmi.csv`` adds and corrects the Chinese
manufacturer codes vininfo lacks or names imprecisely (sources and certainty are in docs/commerce.md).
Pure Python: no Django import, so the CLI and the tests can use it anywhere.
"""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

from vininfo.dicts import COUNTRIES, WMI

VIN_LENGTH = 17
CHECK_DIGIT_INDEX = 8
YEAR_INDEX = 9
ALLOWED_CHARS = frozenset("ABCDEFGHJKLMNPRSTUVWXYZ0123456789")
TRANSLITERATION = {
    **{str(d): d for d in range(10)},
    "A": 1, "B": 2, "C": 3, "D": 4, "E": 5, "F": 6, "G": 7, "H": 8,
    "J": 1, "K": 2, "L": 3, "M": 4, "N": 5, "P": 7, "R": 9,
    "S": 2, "T": 3, "U": 4, "V": 5, "W": 6, "X": 7, "Y": 8, "Z": 9,
}
WEIGHTS = (8, 7, 6, 5, 4, 3, 2, 10, 0, 9, 8, 7, 6, 5, 4, 3, 2)
YEAR_CODES = "ABCDEFGHJKLMNPRSTVWXY123456789"
YEAR_CYCLE_START = 1980
CHINA_PREFIX = "L"
SHANGHAI = ZoneInfo("Asia/Shanghai")

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class ChineseWmi:
    wmi: str
    manufacturer: str
    manufacturer_zh: str
    brands: tuple[str, ...]
    certainty: str


@dataclass(frozen=True)
class VinIssue:
    code: str
    severity: str
    zh: str
    en: str

    def as_dict(self) -> dict[str, str]:
        return {"code": self.code, "severity": self.severity, "zh": self.zh, "en": self.en}


@dataclass(frozen=True)
class VinReport:
    vin: str
    valid: bool
    check_digit_ok: bool | None
    wmi: str | None
    manufacturer: str | None
    country: str | None
    model_year: int | None
    errors: tuple[VinIssue, ...] = field(default_factory=tuple)

    def as_dict(self) -> dict[str, Any]:
        return {
            "vin": self.vin,
            "valid": self.valid,
            "check_digit_ok": self.check_digit_ok,
            "wmi": self.wmi,
            "manufacturer": self.manufacturer,
            "country": self.country,
            "model_year": self.model_year,
            "errors": [issue.as_dict() for issue in self.errors],
        }


@cache
def chinese_wmis() -> dict[str, ChineseWmi]:
    """The extension table, keyed by WMI."""
    text = resources.files("carloop.vehicles").joinpath("data/china_wmi.csv").read_text(encoding="utf-8")
    rows = csv.DictReader(text.splitlines())
    return {
        row["wmi"]: ChineseWmi(row["wmi"], row["manufacturer"], row["manufacturer_zh"],
                               tuple(row["brands"].split(";")), row["certainty"])
        for row in rows
    }


def compute_check_digit(vin: str) -> str:
    """The position-9 check digit for a 17-character VIN made of allowed characters ('0'-'9' or 'X')."""
    total = sum(TRANSLITERATION[ch] * weight for ch, weight in zip(vin, WEIGHTS, strict=True))
    remainder = total % 11
    return "X" if remainder == 10 else str(remainder)


def model_year_for(code: str, as_of: dt.date) -> int | None:
    """Most recent model year for a year code that is not later than next calendar year (30-year cycle)."""
    index = YEAR_CODES.find(code)
    if index < 0:
        return None
    year = YEAR_CYCLE_START + index
    latest = as_of.year + 1
    while year + len(YEAR_CODES) <= latest:
        year += len(YEAR_CODES)
    return year


def manufacturer_for(wmi: str) -> str | None:
    chinese = chinese_wmis().get(wmi)
    if chinese:
        return chinese.manufacturer
    known = WMI.get(wmi) or WMI.get(wmi[:2])
    return None if known is None else str(getattr(known, "manufacturer", known))


def decode_vin(raw: str, as_of: dt.date | None = None) -> VinReport:
    """Validate and decode a VIN; never raises for bad input, the report says what is wrong."""
    vin = (raw or "").strip().upper()
    as_of = as_of or dt.datetime.now(SHANGHAI).date()
    issues: list[VinIssue] = []
    if len(vin) != VIN_LENGTH:
        issues.append(VinIssue("length", ERROR, f"VIN 必须为 17 位（当前 {len(vin)} 位）",
                               f"A VIN has 17 characters ({len(vin)} given)"))
    bad = sorted({ch for ch in vin if ch not in ALLOWED_CHARS})
    if bad:
        shown = "".join(bad)
        issues.append(VinIssue("characters", ERROR, f"VIN 含非法字符：{shown}（不得使用 I、O、Q）",
                               f"VIN contains characters that are not allowed: {shown} (I, O and Q are never used)"))
    if issues:
        wmi = vin[:3] if len(vin) >= 3 and not set(vin[:3]) - ALLOWED_CHARS else None
        return VinReport(vin, False, None, wmi, None, None, None, tuple(issues))

    wmi = vin[:3]
    chinese = wmi.startswith(CHINA_PREFIX)
    expected = compute_check_digit(vin)
    check_digit_ok = vin[CHECK_DIGIT_INDEX] == expected
    if not check_digit_ok:
        issues.append(VinIssue(
            "check-digit", ERROR if chinese else WARNING,
            f"第 9 位校验码应为 {expected}，实际为 {vin[CHECK_DIGIT_INDEX]}",
            f"Check digit (position 9) should be {expected}, found {vin[CHECK_DIGIT_INDEX]}",
        ))
    model_year = model_year_for(vin[YEAR_INDEX], as_of)
    if model_year is None:
        issues.append(VinIssue(
            "model-year", ERROR if chinese else WARNING,
            f"第 10 位年份代码 {vin[YEAR_INDEX]} 无效", f"Model year code {vin[YEAR_INDEX]} (position 10) is invalid",
        ))
    manufacturer = manufacturer_for(wmi)
    if manufacturer is None:
        issues.append(VinIssue("unknown-wmi", WARNING, f"未知的制造厂代码 {wmi}", f"Unknown manufacturer code {wmi}"))
    valid = not any(issue.severity == ERROR for issue in issues)
    return VinReport(vin, valid, check_digit_ok, wmi, manufacturer, COUNTRIES.get(wmi[:2]), model_year, tuple(issues))
