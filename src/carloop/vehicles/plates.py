"""Chinese motor-vehicle plates (GA 36): 7-character ordinary plates and 8-character new-energy plates.

Ordinary: province abbreviation + issuing-authority letter + 5 serial characters (letters or digits, never
I or O); the last one may be 学 (learner), 挂 (trailer) or 警 (police) instead.
New energy, small vehicles: province + authority letter + energy letter + 1 letter or digit + 4 digits.
New energy, large vehicles: province + authority letter + 5 digits + energy letter.
The energy letter is D, A, B, C or E for battery-electric and F, G, H, J or K for other new energy vehicles
(plug-in hybrids, range extenders, fuel cells); D and F were the original pair, the others were added in 2022.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from carloop.core.errors import FieldError, Invalid

PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
BEV_LETTERS = "DABCE"
OTHER_NEV_LETTERS = "FGHJK"
SERIAL_CHAR = "[A-HJ-NP-Z0-9]"
AUTHORITY = "[A-HJ-NP-Z]"
SEPARATORS = re.compile(r"[\s·•.\-]")

ORDINARY = re.compile(rf"^[{PROVINCES}]{AUTHORITY}{SERIAL_CHAR}{{4}}(?:{SERIAL_CHAR}|[学挂警])$")
NEV_SMALL = re.compile(rf"^[{PROVINCES}]{AUTHORITY}[{BEV_LETTERS}{OTHER_NEV_LETTERS}]{SERIAL_CHAR}[0-9]{{4}}$")
NEV_LARGE = re.compile(rf"^[{PROVINCES}]{AUTHORITY}[0-9]{{5}}[{BEV_LETTERS}{OTHER_NEV_LETTERS}]$")

KIND_ORDINARY = "ordinary"
KIND_NEV_SMALL = "nev_small"
KIND_NEV_LARGE = "nev_large"


@dataclass(frozen=True)
class Plate:
    plate: str
    kind: str
    province: str
    authority: str
    energy: str | None

    @property
    def is_new_energy(self) -> bool:
        return self.kind != KIND_ORDINARY


def normalize_plate(raw: str) -> str:
    return SEPARATORS.sub("", (raw or "").strip()).upper()


def _energy(letter: str) -> str:
    return "bev" if letter in BEV_LETTERS else "other_nev"


def parse_plate(raw: str) -> Plate | None:
    """The parsed plate, or None when it is not a valid Chinese civilian plate."""
    plate = normalize_plate(raw)
    if ORDINARY.match(plate):
        return Plate(plate, KIND_ORDINARY, plate[0], plate[1], None)
    if NEV_SMALL.match(plate):
        return Plate(plate, KIND_NEV_SMALL, plate[0], plate[1], _energy(plate[2]))
    if NEV_LARGE.match(plate):
        return Plate(plate, KIND_NEV_LARGE, plate[0], plate[1], _energy(plate[7]))
    return None


def validate_plate(raw: str, pointer: str = "/plate") -> Plate:
    """Parse or raise a 422 problem pointing at the plate field."""
    parsed = parse_plate(raw)
    if parsed is None:
        raise Invalid("invalid-plate", "车牌号无效", "Invalid licence plate", errors=[FieldError(
            pointer,
            "车牌应为省份简称+发牌机关字母+5位序号（新能源车为6位，第3位为D/A/B/C/E或F/G/H/J/K）",
            "A plate is a province abbreviation, an authority letter and 5 serial characters "
            "(6 for new-energy vehicles, with D/A/B/C/E or F/G/H/J/K marking the energy type)",
        )])
    return parsed
