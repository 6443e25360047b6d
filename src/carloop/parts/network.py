"""The regional warehouse network: one warehouse in each of 20 core cities (city-centre coordinates)."""

from __future__ import annotations

from decimal import Decimal

from carloop.parts.models import Warehouse

# code, city (zh), city (en), latitude, longitude
CORE_CITIES: tuple[tuple[str, str, str, str, str], ...] = (
    ("bj", "北京市", "Beijing", "39.90420", "116.40740"),
    ("sh", "上海市", "Shanghai", "31.23040", "121.47370"),
    ("gz", "广州市", "Guangzhou", "23.12910", "113.26440"),
    ("sz", "深圳市", "Shenzhen", "22.54310", "114.05790"),
    ("cd", "成都市", "Chengdu", "30.57280", "104.06680"),
    ("cq", "重庆市", "Chongqing", "29.56300", "106.55160"),
    ("hz", "杭州市", "Hangzhou", "30.27410", "120.15510"),
    ("wh", "武汉市", "Wuhan", "30.59280", "114.30550"),
    ("xa", "西安市", "Xi'an", "34.34160", "108.93980"),
    ("nj", "南京市", "Nanjing", "32.06030", "118.79690"),
    ("tj", "天津市", "Tianjin", "39.34340", "117.36160"),
    ("zz", "郑州市", "Zhengzhou", "34.74660", "113.62540"),
    ("cs", "长沙市", "Changsha", "28.22820", "112.93880"),
    ("sy", "沈阳市", "Shenyang", "41.80570", "123.43150"),
    ("qd", "青岛市", "Qingdao", "36.06710", "120.38260"),
    ("km", "昆明市", "Kunming", "24.88010", "102.83290"),
    ("hrb", "哈尔滨市", "Harbin", "45.80380", "126.53500"),
    ("xm", "厦门市", "Xiamen", "24.47980", "118.08940"),
    ("nn", "南宁市", "Nanning", "22.81700", "108.36650"),
    ("urc", "乌鲁木齐市", "Urumqi", "43.82560", "87.61680"),
)


def ensure_warehouses() -> list[Warehouse]:
    """The 20 regional warehouses (created when missing, left alone otherwise)."""
    found = []
    for code, city_zh, city_en, lat, lon in CORE_CITIES:
        warehouse, _ = Warehouse.objects.get_or_create(
            code=f"wh-{code}", defaults={"name": f"{city_en} regional warehouse", "name_zh": f"{city_zh[:-1]}区域仓",
                                         "city": city_zh, "latitude": Decimal(lat), "longitude": Decimal(lon)})
        found.append(warehouse)
    return found
