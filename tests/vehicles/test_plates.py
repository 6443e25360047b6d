import pytest

from carloop.core.errors import Problem
from carloop.vehicles.plates import (
    KIND_NEV_LARGE,
    KIND_NEV_SMALL,
    KIND_ORDINARY,
    parse_plate,
    validate_plate,
)


@pytest.mark.parametrize(("raw", "plate", "kind", "energy"), [
    ("京A12345", "京A12345", KIND_ORDINARY, None),
    ("粤B·8J9K2", "粤B8J9K2", KIND_ORDINARY, None),
    ("沪a 12345", "沪A12345", KIND_ORDINARY, None),
    ("苏E1234学", "苏E1234学", KIND_ORDINARY, None),
    ("粤BD12345", "粤BD12345", KIND_NEV_SMALL, "bev"),
    ("粤BF12345", "粤BF12345", KIND_NEV_SMALL, "other_nev"),
    ("京ADA1234", "京ADA1234", KIND_NEV_SMALL, "bev"),
    ("浙AA12345", "浙AA12345", KIND_NEV_SMALL, "bev"),
    ("川AK12345", "川AK12345", KIND_NEV_SMALL, "other_nev"),
    ("沪A12345D", "沪A12345D", KIND_NEV_LARGE, "bev"),
    ("沪A12345F", "沪A12345F", KIND_NEV_LARGE, "other_nev"),
])
def test_valid_plates(raw, plate, kind, energy):
    parsed = parse_plate(raw)
    assert parsed is not None
    assert (parsed.plate, parsed.kind, parsed.energy) == (plate, kind, energy)
    assert parsed.is_new_energy == (kind != KIND_ORDINARY)


@pytest.mark.parametrize("raw", [
    "", "京A1234", "京A123456", "X京12345", "港A12345", "京112345", "京I12345", "京A1O345",
    "粤BM12345", "粤BD1234A", "粤BDI2345", "沪A1234DF", "沪A1234AD", "沪A12345M", "京A12345学1",
])
def test_invalid_plates(raw):
    assert parse_plate(raw) is None


def test_validate_plate_raises_422_with_pointer():
    with pytest.raises(Problem) as info:
        validate_plate("粤BM12345", pointer="/vehicle/plate")
    assert info.value.status == 422
    assert info.value.slug == "invalid-plate"
    assert info.value.errors[0].pointer == "/vehicle/plate"
