import pytest

from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.parts import selectors, services
from carloop.parts.models import Warehouse
from carloop.parts.network import ensure_warehouses
from carloop.parts.numbers import normalise
from tests.parts.factories import OPERATIONS, make_part
from tests.vehicles.factories import make_trim

pytestmark = pytest.mark.django_db


def test_numbers_normalise_spaces_dashes_and_case():
    assert normalise(" 04152-yzza1 ") == normalise("04152 YZZA1") == normalise("04152.yzza/1") == "04152YZZA1"


def test_search_by_name_oe_brand_number_cross_reference_and_attribute():
    oil = make_part(name_zh="全合成机油 5W-30", category="standard", number="EDGE-5W30-4L", oe=("08880-83717",),
                    attributes={"viscosity": "5W-30"})
    filt = make_part(name_zh="机油滤清器", number="F 026 407 157", oe=("04152-YZZA1",))
    services.add_cross_reference(OPERATIONS, part_id=filt.pk, brand="曼牌", number="W 68/3")
    assert selectors.search_parts("04152 yzza1") == [filt]
    assert selectors.search_parts("f026407157") == [filt]
    assert selectors.search_parts("w68-3") == [filt]
    assert selectors.search_parts("0888083717") == [oil]
    assert selectors.search_parts("机油", category="standard") == [oil]
    assert set(selectors.search_parts("机油")) == {oil, filt}
    assert selectors.search_parts(attribute=("viscosity", "5W-30")) == [oil]
    assert selectors.search_parts("nothing-like-this") == []


def test_part_validation_and_duplicates():
    make_part(number="AB-1")
    with pytest.raises(Problem) as info:
        make_part(number="ab 1")
    assert info.value.status == 409
    for kwargs, slug in (({"category": "toys"}, "unknown-category"), ({"price_fen": 0}, "price-not-positive"),
                         ({"pack_size": 0}, "pack-size-not-positive")):
        with pytest.raises(Problem) as info:
            make_part(**kwargs)
        assert info.value.slug == slug and info.value.status == 422


def test_only_operations_or_the_supplier_manage_the_catalog(actors):
    from tests.commerce.factories import as_subject

    store = as_subject(actors.user("store_manager"))
    with pytest.raises(Problem) as info:
        services.add_part(store, brand="X", brand_part_no="1", name="x", name_zh="x", category="wear", price_fen=1)
    assert info.value.status == 403
    supplier = actors.org("supplier_staff")
    staff = as_subject(actors.user("supplier_staff"))
    part = services.add_part(staff, brand="X", brand_part_no="1", name="x", name_zh="x", category="wear", price_fen=1,
                             supplier_id=supplier.pk)
    assert part.supplier_id == supplier.pk
    with pytest.raises(Problem) as info:
        services.add_part(Subject(kind="anonymous"), brand="X", brand_part_no="2", name="x", name_zh="x",
                          category="wear", price_fen=1)
    assert info.value.status == 401


def test_vin_finds_fitting_parts_by_category_within_the_model_years():
    trim, other_trim = make_trim(stock=1), make_trim(stock=0)
    from carloop.vehicles.models import Vehicle

    vin = Vehicle.objects.get(trim=trim).vin
    pads = make_part(category="wear", name_zh="前刹车片")
    oil = make_part(category="standard", name_zh="机油")
    old = make_part(category="wear", name_zh="老款刹车片")
    elsewhere = make_part(category="wear", name_zh="别的车")
    services.add_fitment(OPERATIONS, part_id=pads.pk, trim_id=trim.pk, position="front axle", year_from=2024)
    services.add_fitment(OPERATIONS, part_id=oil.pk, trim_id=trim.pk)
    services.add_fitment(OPERATIONS, part_id=old.pk, trim_id=trim.pk, year_from=2018, year_to=2020)
    services.add_fitment(OPERATIONS, part_id=elsewhere.pk, trim_id=other_trim.pk)
    found = selectors.parts_for_vin(vin.lower())
    assert found.trim_id == trim.pk and found.model_year == 2025
    assert found.parts == {"standard": [oil], "wear": [pads]}
    assert selectors.parts_for_vin(vin, category="wear").parts == {"wear": [pads]}
    with pytest.raises(Problem) as info:
        selectors.parts_for_vin("LNBSCCAK0HD000001")  # a well-formed VIN nobody registered
    assert info.value.status in {404, 422}
    with pytest.raises(Problem) as info:
        selectors.parts_for_vin("short")
    assert info.value.status == 422


def test_fitment_checks_trim_and_years():
    part = make_part()
    import uuid

    with pytest.raises(Problem) as info:
        services.add_fitment(OPERATIONS, part_id=part.pk, trim_id=uuid.uuid4())
    assert info.value.slug == "unknown-trim"
    with pytest.raises(Problem) as info:
        services.add_fitment(OPERATIONS, part_id=part.pk, trim_id=make_trim(stock=0).pk, year_from=2022, year_to=2020)
    assert info.value.slug == "year-range-reversed"


def test_twenty_core_city_warehouses():
    ensure_warehouses()
    ensure_warehouses()
    assert Warehouse.objects.count() == 20
    assert Warehouse.objects.filter(city="上海市").exists()
