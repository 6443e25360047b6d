"""Demo catalog: real Chinese brands with approximate specs and prices, colours, options and dealer stock."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth import get_user_model

from carloop.core.seeding import SeedContext, fake_uscc
from carloop.core.timeutil import business_date
from carloop.identity import selectors as identity_q
from carloop.identity import services as identity
from carloop.vehicles import services
from carloop.vehicles.models import Brand, OdometerReading, PaintColour, Series, Trim, TrimOption, Vehicle
from carloop.vehicles.vin import YEAR_CODES, YEAR_CYCLE_START, compute_check_digit

YUAN = 100

# (year, code, name, name_zh, powertrain, kWh, CLTC km, seats, MSRP yuan, swap, battery part of MSRP yuan)
TrimRow = tuple[int, str, str, str, str, str | None, int | None, int, int, bool, int]
# brand slug, name, name_zh, tier, WMI, manufacturer organisation, series
CATALOG: list[tuple[str, str, str, str, str, str, list[tuple[str, str, str, str, list[TrimRow]]]]] = [
    ("gac-aion", "GAC Aion", "广汽埃安", "mainstream", "LMG", "广汽埃安新能源汽车股份有限公司", [
        ("aion-ut", "AION UT", "埃安UT", "hatchback", [
            (2025, "310-standard", "310 Standard", "310 标准版", "BEV", "37.9", 310, 5, 69_800, False, 0),
            (2025, "420-long-range", "420 Long Range", "420 长续航版", "BEV", "44.1", 420, 5, 79_800, False, 0),
            (2025, "420-smart", "420 Smart", "420 智享版", "BEV", "44.1", 420, 5, 89_800, False, 0),
            (2025, "420-swap", "420 Battery Swap", "420 换电版", "BEV", "44.1", 420, 5, 101_800, True, 36_000),
        ]),
        ("aion-s-max", "AION S MAX", "AION S MAX", "sedan", [
            (2024, "610-plus", "610 Plus", "610 星耀版", "BEV", "69.9", 610, 5, 149_900, False, 0),
        ]),
    ]),
    ("wuling", "Wuling", "五菱", "value", "LK6", "上汽通用五菱汽车股份有限公司", [
        ("wuling-bingo", "Bingo", "缤果", "hatchback", [
            (2025, "333-lite", "333 Lite", "333 轻享版", "BEV", "31.9", 333, 4, 59_800, False, 0),
            (2025, "410-pro", "410 Pro", "410 畅享版", "BEV", "37.9", 410, 4, 69_800, False, 0),
            (2025, "410-swap", "410 Battery Swap", "410 换电版", "BEV", "37.9", 410, 4, 77_800, True, 28_000),
        ]),
        ("hongguang-mini-ev", "Hongguang MINI EV", "宏光MINIEV", "mini", [
            (2024, "215", "215 Macaron", "215 马卡龙", "BEV", "17.3", 215, 4, 42_800, False, 0),
            (2024, "300", "300 Macaron", "300 马卡龙", "BEV", "26.5", 300, 4, 52_800, False, 0),
        ]),
    ]),
    ("byd", "BYD", "比亚迪", "mainstream", "LC0", "比亚迪汽车工业有限公司", [
        ("byd-seagull", "Seagull", "海鸥", "hatchback", [
            (2025, "305-vitality", "305 Vitality", "305 活力版", "BEV", "30.1", 305, 4, 69_800, False, 0),
            (2025, "405-freedom", "405 Freedom", "405 自由版", "BEV", "38.9", 405, 4, 78_800, False, 0),
            (2025, "405-flying", "405 Flying", "405 飞翔版", "BEV", "38.9", 405, 4, 85_800, False, 0),
        ]),
        ("byd-dolphin", "Dolphin", "海豚", "hatchback", [
            (2025, "420-vitality", "420 Vitality", "420 活力版", "BEV", "44.9", 420, 5, 99_800, False, 0),
            (2025, "520-knight", "520 Knight", "520 骑士版", "BEV", "60.5", 520, 5, 116_800, False, 0),
        ]),
        ("byd-qin-plus-dmi", "Qin PLUS DM-i", "秦PLUS DM-i", "sedan", [
            (2025, "55km", "55 km Leading", "55km 领先型", "PHEV", "8.3", 55, 5, 79_800, False, 0),
            (2025, "120km", "120 km Premium", "120km 卓越型", "PHEV", "18.3", 120, 5, 99_800, False, 0),
        ]),
        ("byd-song-plus-dmi", "Song PLUS DM-i", "宋PLUS DM-i", "suv", [
            (2025, "110km", "110 km Flagship", "110km 旗舰型", "PHEV", "18.3", 110, 5, 129_800, False, 0),
            (2025, "150km", "150 km Flagship PLUS", "150km 旗舰PLUS", "PHEV", "26.6", 150, 5, 149_800, False, 0),
        ]),
    ]),
    ("geely", "Geely", "吉利", "mainstream", "L6T", "浙江吉利控股集团有限公司", [
        ("geely-xingyuan", "Xingyuan", "星愿", "hatchback", [
            (2025, "310-lite", "310 Lite", "310 轻享版", "BEV", "30.1", 310, 5, 68_800, False, 0),
            (2025, "410-pro", "410 Pro", "410 智享版", "BEV", "40.2", 410, 5, 78_800, False, 0),
            (2025, "410-max", "410 Max", "410 智尊版", "BEV", "40.2", 410, 5, 88_800, False, 0),
        ]),
        ("geely-galaxy-l7", "Galaxy L7", "银河L7", "suv", [
            (2025, "115km-air", "115 km Air", "115km AIR", "PHEV", "18.7", 115, 5, 138_700, False, 0),
            (2025, "115km-max", "115 km Max", "115km MAX", "PHEV", "18.7", 115, 5, 158_700, False, 0),
        ]),
    ]),
    ("changan", "Changan", "长安", "mainstream", "LS5", "重庆长安汽车股份有限公司", [
        ("changan-lumin", "Lumin", "长安Lumin", "mini", [
            (2024, "205", "205 Orange", "205 橙色款", "BEV", "17.6", 205, 4, 49_900, False, 0),
            (2024, "301", "301 Sweet", "301 香甜款", "BEV", "27.0", 301, 4, 59_900, False, 0),
        ]),
        ("deepal-s7", "Deepal S7", "深蓝S7", "suv", [
            (2025, "erev-215", "EREV 215 Max", "增程 215 Max", "EREV", "31.7", 215, 5, 149_900, False, 0),
            (2025, "bev-620", "BEV 620 Max", "纯电 620 Max", "BEV", "79.97", 620, 5, 169_900, False, 0),
        ]),
    ]),
    ("nio", "NIO", "蔚来", "premium", "LJ1", "上海蔚来汽车有限公司", [
        ("nio-et5", "ET5", "ET5", "sedan", [
            (2025, "75kwh", "75 kWh", "75 kWh 标准续航", "BEV", "75.0", 560, 5, 298_000, True, 70_000),
            (2025, "100kwh", "100 kWh", "100 kWh 长续航", "BEV", "100.0", 710, 5, 356_000, True, 128_000),
        ]),
        ("nio-es6", "ES6", "ES6", "suv", [
            (2025, "75kwh", "75 kWh", "75 kWh 标准续航", "BEV", "75.0", 500, 5, 338_000, True, 70_000),
        ]),
    ]),
    ("li-auto", "Li Auto", "理想", "premium", "LW4", "北京车和家信息技术有限公司", [
        ("li-l6", "L6", "理想L6", "suv", [
            (2025, "pro", "Pro", "Pro", "EREV", "36.8", 212, 5, 249_800, False, 0),
            (2025, "max", "Max", "Max", "EREV", "36.8", 212, 5, 279_800, False, 0),
        ]),
        ("li-l7", "L7", "理想L7", "suv", [
            (2025, "pro", "Pro", "Pro", "EREV", "42.8", 235, 5, 301_800, False, 0),
            (2025, "ultra", "Ultra", "Ultra", "EREV", "52.3", 286, 5, 339_800, False, 0),
        ]),
    ]),
    ("xpeng", "XPeng", "小鹏", "mainstream", "L1N", "广州小鹏汽车科技有限公司", [
        ("xpeng-mona-m03", "MONA M03", "MONA M03", "sedan", [
            (2025, "515", "515 Long Range", "515 长续航版", "BEV", "51.8", 515, 5, 119_800, False, 0),
            (2025, "620", "620 Long Range", "620 长续航版", "BEV", "62.2", 620, 5, 129_800, False, 0),
            (2025, "580-max", "580 Max", "580 Max", "BEV", "62.2", 580, 5, 155_800, False, 0),
        ]),
        ("xpeng-g6", "G6", "小鹏G6", "suv", [
            (2025, "625-pro", "625 Pro", "625 Pro", "BEV", "80.8", 625, 5, 176_800, False, 0),
        ]),
    ]),
    ("chery", "Chery", "奇瑞", "mainstream", "LVV", "奇瑞汽车股份有限公司", [
        ("chery-tiggo-8", "Tiggo 8", "瑞虎8", "suv", [
            (2025, "1.6t-pro", "1.6T Pro", "1.6T 鲲鹏版", "ICE", None, None, 7, 99_900, False, 0),
            (2025, "2.0t-max", "2.0T Max", "2.0T 旗舰版", "ICE", None, None, 7, 119_900, False, 0),
        ]),
    ]),
    ("haval", "Haval", "哈弗", "mainstream", "LGW", "长城汽车股份有限公司", [
        ("haval-h6", "H6", "哈弗H6", "suv", [
            (2025, "1.5t-pro", "1.5T Pro", "1.5T Pro", "ICE", None, None, 5, 98_900, False, 0),
            (2025, "2.0t-max", "2.0T Max", "2.0T Max", "ICE", None, None, 5, 112_900, False, 0),
        ]),
    ]),
]

COLOURS = [
    ("white", "Pearl White", "珍珠白", "#f4f4f2", 0),
    ("black", "Obsidian Black", "曜石黑", "#1c1c1e", 0),
    ("grey", "Cloud Grey", "云雾灰", "#8e9196", 0),
    ("green", "Matcha Green", "抹茶绿", "#a8c69f", 2_000),
    ("blue", "Aurora Blue", "极光蓝", "#3d6fa8", 3_000),
]

OPTIONS = {
    "BEV": [("heat-pump", "Heat pump", "热泵空调", 3_000), ("v2l", "Vehicle-to-load socket", "对外放电", 1_500),
            ("adas", "Assisted driving pack", "智驾辅助包", 6_000)],
    "PHEV": [("adas", "Assisted driving pack", "智驾辅助包", 6_000), ("v2l", "Vehicle-to-load socket", "对外放电", 1_500)],
    "EREV": [("adas", "Assisted driving pack", "智驾辅助包", 8_000), ("fridge", "Car fridge", "车载冰箱", 3_000)],
    "ICE": [("sunroof", "Panoramic sunroof", "全景天窗", 5_000), ("adas", "Assisted driving pack", "智驾辅助包", 6_000)],
}

STOCK_PER_COLOUR = 2
DEALER_ORG_NAME = "carloop 自营汽车销售（北京）有限公司"


def stock_vin(wmi: str, model_year: int, trim_index: int, serial: int) -> str:
    """A syntactically valid VIN for demo stock (deterministic, so seeding is idempotent)."""
    year_code = YEAR_CODES[(model_year - YEAR_CYCLE_START) % len(YEAR_CODES)]
    body = f"{wmi}A{trim_index % 1000:03d}E0{year_code}B{serial % 1_000_000:06d}"
    return body[:8] + compute_check_digit(body) + body[9:]


def _manufacturer(ctx: SeedContext, name: str) -> str:
    existing = [o for o in identity_q.organisations_of_kind("manufacturer") if o.name == name]
    if existing:
        return str(existing[0].id)
    return str(identity.create_organisation(kind="manufacturer", name=name, uscc_code=fake_uscc(ctx)).pk)


def seed(ctx: SeedContext) -> None:
    dealers = [o for o in identity_q.organisations_of_kind("dealer") if o.name == DEALER_ORG_NAME]
    dealer_id = dealers[0].id if dealers else None
    trim_index = 0
    for slug, name, name_zh, tier, wmi, maker, series_rows in CATALOG:
        brand, _ = Brand.objects.update_or_create(slug=slug, defaults={
            "name": name, "name_zh": name_zh, "tier": tier, "manufacturer_id": _manufacturer(ctx, maker)})
        for series_slug, series_name, series_zh, body, trims in series_rows:
            series, _ = Series.objects.update_or_create(slug=series_slug, defaults={
                "brand": brand, "name": series_name, "name_zh": series_zh, "body_type": body})
            for code, c_name, c_zh, hex_, price in COLOURS:
                PaintColour.objects.update_or_create(series=series, code=code, defaults={
                    "name": c_name, "name_zh": c_zh, "hex": hex_, "price_fen": price * YUAN})
            for code, o_name, o_zh, price in OPTIONS[trims[0][4]]:
                TrimOption.objects.update_or_create(series=series, code=code, defaults={
                    "name": o_name, "name_zh": o_zh, "price_fen": price * YUAN})
            for year, code, t_name, t_zh, powertrain, kwh, range_km, seats, msrp, swap, battery in trims:
                trim_index += 1
                trim, _ = Trim.objects.update_or_create(code=f"{series_slug}-{year}-{code}", defaults={
                    "series": series, "model_year": year, "name": t_name, "name_zh": t_zh, "powertrain": powertrain,
                    "battery_kwh": Decimal(kwh) if kwh else None, "cltc_range_km": range_km, "seats": seats,
                    "msrp_fen": msrp * YUAN, "battery_swap_capable": swap, "battery_price_fen": battery * YUAN})
                for colour_index, (colour, *_rest) in enumerate(COLOURS[:3]):
                    for n in range(STOCK_PER_COLOUR):
                        vin = stock_vin(wmi, year, trim_index, colour_index * 100 + n + 1)
                        Vehicle.objects.get_or_create(vin=vin, defaults={
                            "trim": trim, "colour_code": colour, "status": Vehicle.Status.STOCK,
                            "stock_location_id": dealer_id})
    _seed_garages(ctx)
    ctx.say(f"vehicles: {Brand.objects.count()} brands, {Trim.objects.count()} trims, "
            f"{Vehicle.objects.filter(status=Vehicle.Status.STOCK).count()} stock vehicles")


# The plate prefix of each seeded city (identity's CITIES): a car carries its owner's city's plates.
PLATE_PREFIXES = {
    "北京市": "京N", "上海市": "沪B", "广州市": "粤A", "深圳市": "粤B", "成都市": "川A", "杭州市": "浙A", "武汉市": "鄂A",
    "西安市": "陕A", "南京市": "苏A", "重庆市": "渝A", "天津市": "津A", "苏州市": "苏E", "长沙市": "湘A", "郑州市": "豫A",
    "青岛市": "鲁B", "沈阳市": "辽A", "合肥市": "皖A", "昆明市": "云A", "厦门市": "闽D", "宁波市": "浙B",
}
# New-energy plates: D for battery-electric cars, F for the other new-energy ones; combustion cars get ordinary plates.
NEV_PLATE_LETTER = {"BEV": "D", "PHEV": "F", "EREV": "F"}
GARAGE_SHARE = 3  # every third customer has a car in the garage
KM_PER_DAY = (25, 55)  # the seeded owners drive 9,000–20,000 km a year


def first_registration(model_year: int) -> dt.date:
    """The earliest day a car of ``model_year`` is registered: model years go on sale in the second half of the
    year before."""
    return dt.date(model_year - 1, 7, 1)


def _seed_garages(ctx: SeedContext) -> None:
    """Cars customers already own, registered between their model year's launch and a month ago, with the plates
    of the owner's city, odometer history and some condition reports."""
    today = business_date()
    trims = list(Trim.objects.select_related("series__brand").order_by("code"))
    users = list(get_user_model().objects.filter(is_staff=False).order_by("username").values_list("pk", "username"))
    for n, (user_id, username) in enumerate(ctx.progress(users, "garages")):
        if n % GARAGE_SHARE and username != "owner":
            continue
        if Vehicle.objects.filter(owner_id=user_id).exists():
            continue
        facts = identity_q.customer_facts(user_id)
        if facts is None or not facts.kyc_verified:
            continue
        trim = trims[n % len(trims)]
        launch = first_registration(trim.model_year)
        registered = launch + dt.timedelta(days=ctx.rng.randrange(max((today - launch).days - 30, 1)))
        letter = NEV_PLATE_LETTER.get(trim.powertrain, "")
        plate = f"{PLATE_PREFIXES.get(facts.city, '京N')}{letter}{n % 100000:05d}"
        wmi = trim.vehicles.values_list("vin", flat=True).first() or "LK6"
        vehicle = services.register_vehicle(
            owner_user_id=user_id, vin=stock_vin(wmi[:3], trim.model_year, n, 500_000 + n), plate=plate,
            registration_date=registered, trim_id=trim.pk)
        km, last_read, read_on = 0, registered, registered + dt.timedelta(days=ctx.rng.randint(90, 200))
        per_day = ctx.rng.randint(*KM_PER_DAY)
        while read_on < today:
            km, last_read = per_day * (read_on - registered).days, read_on
            OdometerReading.objects.create(vehicle_id=vehicle.id, km=km, source="service", read_on=read_on)
            read_on += dt.timedelta(days=ctx.rng.randint(90, 200))
        if n % 2 == 0 and km:  # inspected at its last service
            services.record_condition_report(vehicle_id=vehicle.id, grade="ABBBCCD"[n % 7], odometer_km=km,
                                             inspected_on=last_read, actor="seed")
