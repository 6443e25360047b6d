"""Demo commerce data: bundles, battery plans, swap stations, test-drive slots, orders in every state and a
co-creation campaign with a few hundred answers shaped by three latent customer segments."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from carloop.commerce import payables, services
from carloop.commerce.models import (
    BatteryPlan,
    Bundle,
    BundleItem,
    Campaign,
    CarOrder,
    CommercePolicy,
    SwapStation,
    TestDriveSlot,
)
from carloop.core import authz
from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.core.seeding import SeedContext
from carloop.identity import selectors as identity_q
from carloop.identity.contracts import OrganisationInfo
from carloop.payments.simulator import pay_in_full
from carloop.risk import services as risk
from carloop.vehicles import selectors as vehicles_q

YUAN = 100

# kind, code, name, name_zh, price yuan, items: (kind, name, name_zh, standalone yuan, qty, entitlement, months)
BUNDLES: list[tuple[str, str, str, str, int, list[tuple[str, str, str, int, int, str, int | None]]]] = [
    ("wrap", "wrap", "Car-wrap edition", "车衣定制版", 3_999, [
        ("accessory", "Colour-change wrap with installation", "改色车衣（含施工）", 5_800, 1, "", None),
        ("accessory", "Windscreen film", "前挡隔热膜", 1_200, 1, "", None)]),
    ("accessories", "accessories", "Accessories edition", "车品配装版", 2_499, [
        ("accessory", "All-weather floor mats", "全包围脚垫", 699, 1, "", None),
        ("accessory", "Dash camera with installation", "行车记录仪（含安装）", 899, 1, "", None),
        ("accessory", "Portable charger 7 kW", "7kW 随车充电桩（含安装）", 1_999, 1, "", None)]),
    ("maintenance", "maintenance-plus", "Maintenance-plus edition", "养护加持版", 1_999, [
        ("maintenance", "Minor service", "小保养", 480, 4, "minor-service", 24),
        ("maintenance", "Tyre rotation and alignment", "轮胎换位及四轮定位", 260, 2, "tyre-alignment", 24),
        ("maintenance", "Air-conditioning clean", "空调清洗", 298, 2, "ac-clean", 24)]),
]

PLANS = [
    ("small-unlimited", "Small battery, unlimited", "小电池·不限里程", "30", "50", None, 399),
    ("small-1000", "Small battery, 1,000 km/month", "小电池·每月1000公里", "30", "50", 1_000, 299),
    ("standard-75", "75 kWh standard", "75度标准续航", "50", "80", None, 728),
    ("long-100", "100 kWh long range", "100度长续航", "80", "110", None, 1_128),
]

STATION_CITIES = ["北京市", "上海市", "广州市", "深圳市", "杭州市", "成都市", "武汉市", "南京市", "西安市", "重庆市"]

SEGMENTS: list[dict[str, Any]] = [
    {"weight": 5, "exterior": ["retro", "retro", "boxy"], "colour": ["green", "pink", "white"],
     "features": ["voice", "parking", "v2l"], "range": ["300", "400"], "price": 68_000},
    {"weight": 3, "exterior": ["sporty", "sporty", "retro"], "colour": ["grey", "white"],
     "features": ["adas", "parking", "voice"], "range": ["400", "500"], "price": 92_000},
    {"weight": 2, "exterior": ["boxy", "sporty"], "colour": ["white", "grey"],
     "features": ["swap", "v2l", "adas"], "range": ["400", "500"], "price": 82_000},
]


DEMO_OWNER_USERNAME = "owner"


def seed(ctx: SeedContext) -> None:
    CommercePolicy.objects.get_or_create(key="default")
    _bundles(ctx)
    _plans_and_stations(ctx)
    _slots(ctx)
    _orders(ctx)
    _owner_order()
    _campaign(ctx)
    ctx.say(f"commerce: {Bundle.objects.count()} bundles, {CarOrder.objects.count()} orders, "
            f"{TestDriveSlot.objects.count()} test-drive slots, {Campaign.objects.count()} campaigns")


def _bundles(ctx: SeedContext) -> None:
    for trim in ctx.progress(vehicles_q.catalog(), "bundles"):
        for kind, code, name, name_zh, price, items in BUNDLES:
            bundle, created = Bundle.objects.get_or_create(trim_id=trim.id, code=code, defaults={
                "kind": kind, "name": name, "name_zh": name_zh, "price_fen": price * YUAN})
            if created:
                for item_kind, i_name, i_zh, standalone, qty, entitlement, months in items:
                    BundleItem.objects.create(bundle=bundle, kind=item_kind, name=i_name, name_zh=i_zh,
                                              standalone_price_fen=standalone * YUAN, quantity=qty,
                                              entitlement_code=entitlement, valid_months=months)


def _plans_and_stations(ctx: SeedContext) -> None:
    for code, name, name_zh, low, high, km, monthly in PLANS:
        BatteryPlan.objects.update_or_create(code=code, defaults={
            "name": name, "name_zh": name_zh, "min_kwh": Decimal(low), "max_kwh": Decimal(high),
            "monthly_km_limit": km, "monthly_fen": monthly * YUAN})
    for i, city in enumerate(STATION_CITIES * 2):
        district = ctx.faker.street_name()
        SwapStation.objects.get_or_create(code=f"swap-{i + 1:03d}", defaults={
            "name": f"{city.removesuffix('市')}{district}换电站", "city": city, "address": f"{city}{district}{i + 1}号",
            "capacity": 10 + (i % 3) * 3})


def _slots(ctx: SeedContext) -> None:
    stores = identity_q.organisations_of_kind("store")[:10]
    series_ids = sorted({t.series_id for t in vehicles_q.catalog()})[:8]
    today = timezone.localdate()
    for day in range(1, 8):
        for s_index, store in enumerate(stores):
            for hour in (10, 14, 16):
                series_id = series_ids[(s_index + day + hour) % len(series_ids)]
                starts = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=day), dt.time(hour)))
                TestDriveSlot.objects.get_or_create(store_id=store.id, series_id=series_id, starts_at=starts,
                                                    defaults={"capacity": 3})


def _subject(user_id: Any) -> Subject:
    return identity_q.subject_for_user(get_user_model().objects.get(pk=user_id))


def _login(username: str) -> Subject:
    """The demo login acting in the story (identity's seed made it)."""
    return identity_q.subject_for_user(get_user_model().objects.filter(username=username).first())


def _customers() -> list[Any]:
    users = get_user_model().objects.filter(is_staff=False).order_by("username").values_list("pk", flat=True)
    return [u for u in users if (f := identity_q.customer_facts(u)) is not None and f.kyc_verified]


def _orders(ctx: SeedContext) -> None:
    """Orders in every state; a car is handed over at a store in its buyer's city, and the demo store manager's
    store has today's handovers to confirm and earlier ones done."""
    if CarOrder.objects.exists():
        return
    trims = vehicles_q.catalog()
    stores = identity_q.organisations_of_kind("store")
    managed = [s for s in stores if s.id in _login("store").org_ids(authz.STORE_MANAGER)]
    verified = _customers()
    customers = verified[: max(12, ctx.count("customers") // 10)]
    ops = _login("ops")
    stages = ["created", "deposit", "balance", "allocated", "scheduled", "delivered", "delivered", "refunded"]
    plan: list[tuple[Any, str, OrganisationInfo | None]] = [
        (customer_id, stages[n % len(stages)], None) for n, customer_id in enumerate(customers)]
    if managed:  # the store manager's work: two handovers today, two done (buyers who live in the store's city)
        local = [c for c in verified[len(customers):] if _city(c) == managed[0].city]
        stories = ["scheduled", "scheduled", "delivered", "delivered"]
        plan += [(c, stage, managed[0]) for c, stage in zip(local, stories, strict=False)]  # fewer when few live there
    for n, (customer_id, stage, store) in enumerate(ctx.progress(plan, "car orders")):
        trim = trims[(n * 7) % len(trims)]
        bundle = Bundle.objects.filter(trim_id=trim.id).order_by("code").first() if n % 2 else None
        battery = None
        if trim.battery_swap_capable and n % 3 == 0:
            battery = BatteryPlan.objects.filter(min_kwh__lte=trim.battery_kwh, max_kwh__gte=trim.battery_kwh).first()
        nearby = [s for s in stores if s.city == _city(customer_id)] or stores
        try:
            _advance(ops, services.create_order(
                _subject(customer_id), trim_id=trim.id, colour_code=["white", "black", "grey"][n % 3],
                option_codes=[o.code for o in vehicles_q.options(trim.series_id)][: n % 2],
                bundle_id=bundle.pk if bundle else None, battery_mode="subscription" if battery else "owned",
                battery_plan_id=battery.pk if battery else None, deposit_kind="intention" if n % 5 == 0 else "binding"),
                stage, (store or nearby[n % len(nearby)]).id,
                timezone.localdate() + dt.timedelta(days=0 if store else 1 + n % 5))
        except Problem as problem:
            ctx.say(f"order {n} stopped: {problem.en}")


def _city(customer_id: Any) -> str:
    facts = identity_q.customer_facts(customer_id)
    return facts.city if facts else ""


def _owner_order() -> None:
    """The demo owner has an order with the deposit paid, to pay the balance in full or with a purchase loan."""
    owner = get_user_model().objects.filter(username=DEMO_OWNER_USERNAME).values_list("pk", flat=True).first()
    trims = [t for t in vehicles_q.catalog() if 15_000_000 <= t.msrp_fen <= 30_000_000]
    if owner is None or not trims or CarOrder.objects.filter(customer_id=owner).exists():
        return
    order = services.create_order(_subject(owner), trim_id=trims[0].id, colour_code="white")
    _pay_at_the_cashier(order, payables.DEPOSIT)
    _refunded_loan_order(owner, trims[-1].id)
    # The refunded purchase is history: its credit checks (and any other seeded in the last day) were weeks ago,
    # so the velocity rules do not refer the demo owner's own application.
    risk.move_recent_decisions_back(owner, by=dt.timedelta(days=30), window=risk.VELOCITY_WINDOW)


def _pay_at_the_cashier(order: CarOrder, kind: str) -> None:
    """Paid the way the buyer would: a payment intent, the simulator's page, its signed notification."""
    pay_in_full(kind=kind, ref=order.ref, subject=_subject(order.customer_id))


def _refunded_loan_order(owner: Any, trim_id: Any) -> None:
    """An earlier order of the demo owner, paid by a purchase loan, that the seller could not deliver: refunded,
    and finance unwinds the loan (退车退贷) when it hears of the refund after this seed commits. Left out when
    finance has no purchase product or does not approve."""
    from carloop.finance import services as finance

    dealers = identity_q.organisations_of_kind("dealer")
    subject = _subject(owner)
    try:
        with transaction.atomic():
            order = services.create_order(subject, trim_id=trim_id, colour_code="white")
            _pay_at_the_cashier(order, payables.DEPOSIT)
            order.refresh_from_db()
            app = finance.apply(subject, finance.ApplicationInput(
                product="car-purchase", amount_fen=order.balance_due_fen * 7 // 10 // 100 * 100, term=36, consent=True,
                order_ref=order.ref, merchant_org_id=dealers[0].id if dealers else None, car_price_fen=order.total_fen,
                monthly_income_fen=3_000_000))
            if app.state == app.State.REFERRED:  # an analyst approves it
                finance.apply_risk_review(f"finance:application:{app.pk}", "approve", None, None, "seed")
                app.refresh_from_db()
            if app.state != app.State.APPROVED:
                raise _NotSeededError
            loan = finance.accept_offer(subject, app.pk, agree=True, ip="127.0.0.1", user_agent="seed")
            # The disbursement event reaches commerce after this seed commits: record the loan through the same
            # hook; the owner pays the down payment at the cashier, and the seller's default refunds it there.
            services.record_loan_disbursed(order_ref=order.ref, amount_fen=loan.principal_fen, loan_ref=str(loan.pk),
                                           customer_user_id=str(owner), actor="seed")
            _pay_at_the_cashier(order, payables.BALANCE)
            services.seller_cannot_deliver(_login("ops"), order_id=order.pk, reason="厂家停产 / model discontinued")
    except (Problem, _NotSeededError):
        return


class _NotSeededError(Exception):
    """Roll back a demo story whose preconditions are not met."""


def _advance(ops: Subject, order: CarOrder, stage: str, store_id: Any, handover: dt.date) -> None:
    """Take the order to ``stage``: the buyer pays at the cashier, operations run the rest; a handover still to come
    is on ``handover``, one done was today."""
    steps = ["created", "deposit", "balance", "allocated", "scheduled", "delivered"]
    if stage == "refunded":
        _pay_at_the_cashier(order, payables.DEPOSIT)
        services.seller_cannot_deliver(ops, order_id=order.pk, reason="厂家停产 / model discontinued")
        return
    target = steps.index(stage)
    actions: list[Callable[[], object]] = [
        lambda: _pay_at_the_cashier(order, payables.DEPOSIT),
        lambda: _pay_at_the_cashier(order, payables.BALANCE),
        lambda: services.allocate_vehicle(ops, order_id=order.pk),
        lambda: services.schedule_delivery(ops, order_id=order.pk, store_id=store_id,
                                           delivery_date=handover if stage == "scheduled" else timezone.localdate()),
        lambda: services.deliver(ops, order_id=order.pk),
    ]
    for action in actions[:target]:
        action()


def _campaign(ctx: SeedContext) -> None:
    analyst = _login("oem")
    if not analyst.org_ids(authz.MANUFACTURER_ANALYST) or Campaign.objects.exists():
        return
    campaign = services.create_campaign(
        analyst, title="Next compact BEV: what should it be?", title_zh="下一台小型纯电车，由你定义",
        description_zh="外观、颜色、智能功能、续航和价格：告诉我们你心中的国民好车。",
        closes_at=timezone.now() + dt.timedelta(days=30))
    rng = ctx.rng
    weights = [s["weight"] for s in SEGMENTS]
    for customer_id in ctx.progress(_customers(), "co-creation answers"):
        seg = rng.choices(SEGMENTS, weights)[0]
        features = [f for f in seg["features"] if rng.random() < 0.8]
        features += [f for f in ("adas", "parking", "voice", "swap", "v2l") if f not in features and rng.random() < 0.1]
        price = seg["price"] * rng.randint(85, 115) // 100 // 1000 * 1000

        def share_of(percent: int, base: int = price) -> str:
            return str(base * percent // 100 // 1000 * 1000)

        answers = {
            "exterior": rng.choice(seg["exterior"]), "colour": rng.choice(seg["colour"]), "features": features or ["voice"],
            "range": rng.choice(seg["range"]), "price": str(price),
            "vw_too_cheap": share_of(60), "vw_cheap": share_of(85), "vw_expensive": share_of(115),
            "vw_too_expensive": share_of(140),
        }
        services.answer_campaign(_subject(customer_id), campaign_id=campaign.pk, answers=answers)
