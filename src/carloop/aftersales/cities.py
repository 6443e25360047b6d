"""The cities the demo network covers: administrative division code, names, province and the coordinates of the
city centre (GCJ-02 as map services give them). The `cpca` package's 3,511 regions would replace this table; it
is not installed (issue 16)."""

from __future__ import annotations

from decimal import Decimal

# (code, name, English name, province, latitude, longitude)
CITIES: tuple[tuple[str, str, str, str, Decimal, Decimal], ...] = tuple(
    (code, name, name_en, province, Decimal(lat), Decimal(lng)) for code, name, name_en, province, lat, lng in (
        ("110100", "北京市", "Beijing", "北京市", "39.904200", "116.407400"),
        ("310100", "上海市", "Shanghai", "上海市", "31.230400", "121.473700"),
        ("440100", "广州市", "Guangzhou", "广东省", "23.129100", "113.264400"),
        ("440300", "深圳市", "Shenzhen", "广东省", "22.543100", "114.057900"),
        ("330100", "杭州市", "Hangzhou", "浙江省", "30.274100", "120.155100"),
        ("320100", "南京市", "Nanjing", "江苏省", "32.060300", "118.796900"),
        ("320500", "苏州市", "Suzhou", "江苏省", "31.298900", "120.585300"),
        ("510100", "成都市", "Chengdu", "四川省", "30.572800", "104.066800"),
        ("500100", "重庆市", "Chongqing", "重庆市", "29.563000", "106.551600"),
        ("420100", "武汉市", "Wuhan", "湖北省", "30.592800", "114.305500"),
        ("610100", "西安市", "Xi'an", "陕西省", "34.341600", "108.939800"),
        ("120100", "天津市", "Tianjin", "天津市", "39.084200", "117.200900"),
        ("430100", "长沙市", "Changsha", "湖南省", "28.228200", "112.938800"),
        ("410100", "郑州市", "Zhengzhou", "河南省", "34.746600", "113.625400"),
        ("370200", "青岛市", "Qingdao", "山东省", "36.067100", "120.382600"),
    ))
