"""Demo people and organisations: one login per role, car owners with real-name KYC, partner organisations."""

from __future__ import annotations

from django.contrib.auth.hashers import make_password

from carloop.core import pii
from carloop.core.seeding import DEMO_PASSWORD, SeedContext, fake_id_number, fake_mobile, fake_uscc
from carloop.identity import services
from carloop.identity.kyc import SimulatorProvider
from carloop.identity.models import CustomerProfile, Organisation, User

CITIES = ["北京市", "上海市", "广州市", "深圳市", "成都市", "杭州市", "武汉市", "西安市", "南京市", "重庆市",
          "天津市", "苏州市", "长沙市", "郑州市", "青岛市", "沈阳市", "合肥市", "昆明市", "厦门市", "宁波市"]

ORGANISATIONS = [
    ("platform", "carloop 平台运营", "北京市"),
    ("funding_partner", "招商银行股份有限公司", "深圳市"),
    ("funding_partner", "中信消费金融有限公司", "北京市"),
    ("funding_partner", "平安银行股份有限公司", "深圳市"),
    ("manufacturer", "上汽通用五菱汽车股份有限公司", "柳州市"),
    ("manufacturer", "比亚迪汽车工业有限公司", "深圳市"),
    ("manufacturer", "浙江吉利控股集团有限公司", "杭州市"),
    ("manufacturer", "重庆长安汽车股份有限公司", "重庆市"),
    ("dealer", "carloop 自营汽车销售（北京）有限公司", "北京市"),
    ("supplier", "博世汽车部件（苏州）有限公司", "苏州市"),
    ("supplier", "米其林（中国）投资有限公司", "上海市"),
    ("supplier", "曼胡默尔滤清器（上海）有限公司", "上海市"),
    ("enterprise", "华信科技集团有限公司", "杭州市"),
    ("enterprise", "远航物流股份有限公司", "成都市"),
]

STAFF = [
    ("运营 ops", "ops", ("ops",)),
    ("风控分析师 risk analyst", "risk", ("risk_analyst",)),
    ("金融运营 finance ops", "finops", ("finance_ops",)),
    ("金融运营复核 finance ops (second pair of eyes)", "finops2", ("finance_ops",)),
    ("平台管理员 admin", "admin", ("admin",)),
]

MEMBERS = [
    ("门店店长 store manager", "store", "store", "store_manager"),
    ("技师 technician", "tech", "store", "technician"),
    ("供应商 supplier staff", "supplier", "supplier", "supplier_staff"),
    ("资金方分析师 lender analyst", "lender", "funding_partner", "lender_analyst"),
    ("企业管理员 enterprise admin", "enterprise", "enterprise", "enterprise_admin"),
    ("主机厂分析师 manufacturer analyst", "oem", "manufacturer", "manufacturer_analyst"),
    ("经销商员工 dealer staff", "dealer", "dealer", "dealer_staff"),
]

DEMO_CUSTOMER_PHONE = "13800138000"


def _organisation(ctx: SeedContext, kind: str, name: str, city: str) -> Organisation:
    existing = Organisation.objects.filter(name=name).first()
    return existing or services.create_organisation(kind=kind, name=name, uscc_code=fake_uscc(ctx), city=city)


def seed(ctx: SeedContext) -> None:
    for kind, name, city in ORGANISATIONS:
        _organisation(ctx, kind, name, city)
    for i in ctx.progress(range(ctx.count("stores")), "stores"):
        city = CITIES[i % len(CITIES)]
        _organisation(ctx, "store", f"京车会·{city.removesuffix('市')}{i // len(CITIES) + 1:02d}号店", city)

    for role, username, roles in STAFF:
        services.create_staff_user(username=username, password=DEMO_PASSWORD, display_name=role.split()[0], platform_roles=roles)
        ctx.add_login(role, username)
    for role, username, org_kind, member_role in MEMBERS:
        user = services.create_staff_user(username=username, password=DEMO_PASSWORD, display_name=role.split()[0])
        org = Organisation.objects.filter(kind=org_kind).order_by("name").first()
        assert org is not None
        services.add_member(organisation_id=org.pk, user=user, role=member_role)
        ctx.add_login(f"{role} ({org.name})", username)

    _seed_customers(ctx)


def _verify_simulated(user: User, real_name: str, id_number: str, city: str) -> None:
    """Seeded people are enrolled in the simulated KYC register, so the simulator provider verifies them."""
    SimulatorProvider.enrol(real_name, id_number)
    services.verify_kyc(user, real_name=real_name, id_number=id_number, city=city)


def _seed_customers(ctx: SeedContext) -> None:
    password_hash = make_password(DEMO_PASSWORD)
    demo = User.objects.filter(phone_index=pii.blind_index("phone", DEMO_CUSTOMER_PHONE)).first()
    if demo is None:
        demo = services.register_customer(phone=DEMO_CUSTOMER_PHONE, password=DEMO_PASSWORD, display_name="王小明", username="owner")
        _verify_simulated(demo, "王小明", fake_id_number(ctx, 28, 40), "北京市")
    _reverify_checksum_only(ctx)
    ctx.add_login("车主 car owner (手机号 13800138000)", "owner")
    existing = User.objects.filter(customer_profile__isnull=False).count()
    target = ctx.count("customers")
    for i in ctx.progress(range(existing, target), "customers", total=max(target - existing, 0)):
        phone = fake_mobile(ctx)
        index = pii.blind_index("phone", phone)
        if User.objects.filter(phone_index=index).exists():
            continue
        name = ctx.faker.name()
        user = User.objects.create(username=f"c{i:06d}", display_name=name, phone=phone, phone_index=index, password=password_hash)
        profile = CustomerProfile.objects.create(user=user, city=ctx.rng.choice(CITIES))
        if ctx.rng.random() < 0.85:  # float-ok: a probability
            _verify_simulated(user, name, fake_id_number(ctx), profile.city)


def _reverify_checksum_only(ctx: SeedContext) -> None:
    """Demo databases seeded before the KYC provider existed hold seeded owners whose identity was only
    checksum-valid (migration 0002 made them self-declared): enrol them and let the simulator verify them."""
    stale = CustomerProfile.objects.filter(kyc_status=CustomerProfile.Kyc.SELF_DECLARED, kyc_checks__isnull=True,
                                           user__username__regex=r"^(owner|c\d{6})$").select_related("user")
    for profile in ctx.progress(list(stale), "re-verified owners"):
        _verify_simulated(profile.user, profile.real_name, profile.id_number or "", profile.city)
