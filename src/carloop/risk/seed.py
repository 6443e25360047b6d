"""Demo risk data: behaviour facts for the seeded customers, blacklist entries, seeded fraud rings, a history of
decisions spread over six months (with observed outcomes for the vintage chart), a referral queue, and the model
registry with the shipped scorecard as champion and a LightGBM challenger.

Idempotent: nothing is added when the seeded decisions already exist.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from carloop.core.seeding import SeedContext, fake_uscc
from carloop.core.timeutil import business_date, start_of_business_day
from carloop.identity import selectors as identity_q
from carloop.risk import platform_model, services
from carloop.risk.contracts import DecisionRequest
from carloop.risk.models import CreditDecision, FeatureFact, ModelVersion, ReviewCase

SEED_PREFIX = "seed:risk:"
CITIES = ["北京市", "上海市", "广州市", "深圳市", "成都市", "杭州市", "武汉市", "西安市", "南京市", "重庆市"]
FAR_CITIES = ["乌鲁木齐市", "拉萨市", "三亚市", "哈尔滨市"]
PRODUCTS = [
    ("purchase_installment", 5_000_000, 30_000_000, 60),
    ("car_secured", 2_000_000, 50_000_000, 36),
    ("cash_loan", 500_000, 20_000_000, 24),
]
RINGS = [  # (size, shared identifiers, blacklist the first member's ID number)
    (6, ("device", "bank_card"), True),
    (5, ("address", "contact"), False),
    (4, ("device", "contact"), False),
]


def _customers(limit: int) -> list[uuid.UUID]:
    """Seeded car owners with verified KYC (identity publishes no listing selector; read ids only)."""
    ids = get_user_model().objects.filter(is_staff=False).order_by("date_joined").values_list("pk", flat=True)[: limit * 2]
    out = []
    for pk in ids:
        facts = identity_q.customer_facts(pk)
        if facts is not None and facts.kyc_verified and facts.birth_date is not None:
            out.append(pk)
        if len(out) >= limit:
            break
    return out


def _behaviour(ctx: SeedContext, customer: uuid.UUID, risky: bool) -> None:
    now = timezone.now()
    rng = ctx.rng
    city = rng.choice(CITIES)
    device = f"dev-{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}"
    facts = [FeatureFact(subject_id=customer, kind="registered", occurred_at=now - timedelta(days=min(rng.expovariate(1 / 500), 3000) + 1))]
    for _ in range(rng.randint(4, 25)):
        at = now - timedelta(days=rng.uniform(0.5, 200))
        facts.append(FeatureFact(subject_id=customer, kind="login", occurred_at=at, data={"device": device, "city": city}))
    thin = rng.random() < 0.3  # float-ok: a probability
    if not thin:
        for _ in range(min(int(rng.expovariate(1 / 4)) + 1, 20)):
            at = now - timedelta(days=rng.uniform(1, 380))
            facts.append(FeatureFact(subject_id=customer, kind="order", occurred_at=at, amount_fen=rng.randint(100, 1500) * 100))
            if rng.random() < (0.15 if risky else 0.04):  # float-ok
                facts.append(FeatureFact(subject_id=customer, kind="order_return", occurred_at=at + timedelta(days=3)))
        for _ in range(rng.randint(0, 4)):
            facts.append(
                FeatureFact(
                    subject_id=customer,
                    kind="service",
                    occurred_at=now - timedelta(days=rng.uniform(1, 360)),
                    amount_fen=rng.randint(300, 2000) * 100,
                )
            )
        if rng.random() < 0.6:  # float-ok
            loan = uuid.UUID(int=rng.getrandbits(128)).hex
            start = now - timedelta(days=rng.randint(120, 700))
            facts.append(
                FeatureFact(
                    subject_id=customer, kind="disbursal", occurred_at=start, amount_fen=rng.randint(20, 150) * 100_000, data={"loan": loan}
                )
            )
            for m in range(1, min(12, (now - start).days // 30)):
                dpd = rng.choice([0, 0, 0, 5, 12, 35, 65]) if risky else rng.choice([0] * 20 + [3])
                facts.append(FeatureFact(subject_id=customer, kind="repayment", occurred_at=start + timedelta(days=30 * m + dpd),
                                         amount_fen=rng.randint(15, 60) * 10_000, data={"dpd": dpd, "loan": loan}))  # fmt: skip
        if rng.random() < 0.5:  # float-ok
            facts.append(FeatureFact(subject_id=customer, kind="vehicle_value", occurred_at=now - timedelta(days=rng.randint(5, 300)),
                                     amount_fen=rng.randint(4, 30) * 1_000_000))  # fmt: skip
    if rng.random() < 0.4:  # float-ok
        facts.append(
            FeatureFact(
                subject_id=customer,
                kind="card_spend",
                occurred_at=now - timedelta(days=rng.uniform(1, 80)),
                amount_fen=rng.randint(50, 2000) * 100,
            )
        )
    FeatureFact.objects.bulk_create(facts)
    services.refresh_features(customer)


def _backdate(decision_id: str, as_of: date, ctx: SeedContext) -> None:
    """Seeded history: the decision happened on its business date, not at seeding time."""
    at = start_of_business_day(as_of) + timedelta(hours=ctx.rng.randint(8, 21), minutes=ctx.rng.randint(0, 59))
    CreditDecision.objects.filter(pk=decision_id).update(created_at=min(at, timezone.now()))
    ReviewCase.objects.filter(decision_id=uuid.UUID(decision_id)).update(due_at=min(at, timezone.now()) + services.REVIEW_SLA)


def _request(ctx: SeedContext, n: int, customer: uuid.UUID, as_of: date, **kw: object) -> DecisionRequest:
    kind, lo, hi, max_term = ctx.rng.choice(PRODUCTS)
    amount = min(
        max(round(ctx.rng.lognormvariate(11.0, 0.6)) * 100 // 10_000 * 10_000, lo), hi
    )  # float-ok: sampled once, rounded to whole yuan
    term = ctx.rng.choice([t for t in (12, 24, 36, 48, 60) if t <= max_term])
    dti = min(max(ctx.rng.gauss(0.32, 0.12), 0.05), 0.9)  # float-ok: a sampling parameter, not money
    income = int(Decimal(amount) / term / Decimal(str(round(dti, 3)))) // 100 * 100
    values: dict[str, object] = {
        "application_ref": f"{SEED_PREFIX}{n:05d}", "product_kind": kind, "customer_user_id": str(customer),
        "amount_fen": amount, "term_months": term, "as_of": as_of,
        "product_limits": {"min_amount_fen": lo, "max_amount_fen": hi, "max_term_months": max_term, "max_ltv": "0.80"},
        "monthly_income_fen": income if ctx.rng.random() < 0.9 else None,  # float-ok
        "collateral_value_fen": int(amount * Decimal(ctx.rng.choice(["1.3", "1.6", "2.0", "1.15"]))) if kind == "car_secured" else None,
        "device_id": None, "ip": f"10.{ctx.rng.randint(0, 255)}.{ctx.rng.randint(0, 255)}.{ctx.rng.randint(1, 254)}",
    }  # fmt: skip
    values.update(kw)
    return DecisionRequest(**values)  # type: ignore[arg-type]


def _registry(ctx: SeedContext) -> None:
    analyst = get_user_model().objects.filter(username="risk").first()
    actor = f"user:{analyst.pk}" if analyst else "system"
    champion = services.register_model(platform_model.BUILTIN_DIR, actor=actor)
    if champion.role != ModelVersion.Role.CHAMPION:
        services.promote_model(champion, ModelVersion.Role.CHAMPION, actor=actor)
    if ModelVersion.objects.filter(kind="gbm").exists():
        return
    from django.conf import settings

    from carloop.risk.modeling.artifacts import train
    from carloop.risk.modeling.metrics import CostMatrix

    out = settings.VAR_DIR / "risk-models" / "gbm-platform"
    ctx.say("risk: training the LightGBM challenger on the synthetic platform snapshot …")
    train(platform_model.synthetic_dataset(), "gbm", out, k=5, costs=CostMatrix(5, 1), inner_k=3)
    services.promote_model(services.register_model(out, actor=actor), ModelVersion.Role.CHALLENGER, actor=actor)


def seed(ctx: SeedContext) -> None:
    services.ensure_default_ruleset()
    _registry(ctx)
    if CreditDecision.objects.filter(application_ref__startswith=SEED_PREFIX).exists():
        return
    customers = _customers(min(ctx.count("customers"), 400))
    if len(customers) < 40:
        ctx.say("risk: too few verified customers to seed decisions")
        return
    rng = ctx.rng
    risky = set(rng.sample(customers, len(customers) // 6))
    for customer in ctx.progress(customers, "risk behaviour"):
        _behaviour(ctx, customer, customer in risky)
    today = business_date()
    n = 0
    # fraud rings first, so that their members' later applications meet the graph
    ring_members = set()
    pool = [c for c in customers if c not in risky]
    for r, (size, shared, blacklist_first) in enumerate(RINGS):
        members = [pool.pop() for _ in range(size)]
        ring_members |= set(members)
        device = f"ring-{r}-device-{rng.randrange(10**6):06d}"
        card = f"62220{r}{rng.randrange(10**12):012d}"
        address = f"{rng.choice(CITIES)}{ctx.faker.street_address()}"
        contact_phone, _ = identity_q.clear_pii(members[0])
        if blacklist_first:
            _, id_number = identity_q.clear_pii(members[0])
            services.add_to_blacklist(
                kind="id_number", value=id_number, reason="团伙骗贷主犯（演示数据）", source="fraud_ring", actor="system"
            )
        for i, member in enumerate(members):
            extra: dict[str, object] = {}
            if "bank_card" in shared:
                extra["bank_card"] = card
            if "address" in shared:
                extra["address"] = address
            if "contact" in shared and i:
                extra["emergency_contacts"] = [contact_phone]
            n += 1
            services.decide(_request(ctx, n, member, today - timedelta(days=rng.randint(0, 20)), extra=extra,
                                     device_id=device if "device" in shared else None, amount_fen=rng.randint(80, 200) * 100_000))  # fmt: skip
    for kind, count in (("phone", 3), ("device", 4), ("bank_card", 3)):
        for i in range(count):
            value = {"phone": f"1700000{i:04d}", "device": f"emulator-{i:04d}", "bank_card": f"6217000000000{i:06d}"}[kind]
            services.add_to_blacklist(kind=kind, value=value, reason="外部欺诈情报（演示数据）", source="partner", actor="system")
    services.add_to_blacklist(kind="uscc", value=fake_uscc(ctx, "440300"), reason="空壳公司（演示数据）", source="court", actor="system")
    for customer in ctx.progress([c for c in customers if c not in ring_members], "risk decisions"):
        for _ in range(1 if rng.random() < 0.8 else 2):  # float-ok
            n += 1
            days_ago = rng.randint(0, 180)
            kw: dict[str, object] = {"device_id": None}
            if rng.random() < 0.05:  # float-ok: a few geo anomalies: a far-away login, then a large application
                services.record_fact(customer_user_id=customer, kind="login", occurred_at=timezone.now() - timedelta(minutes=rng.randint(5, 300)),
                                     data={"city": rng.choice(FAR_CITIES), "device": "travel"})  # fmt: skip
                kw.update(amount_fen=rng.randint(60, 150) * 100_000, city=None)
                days_ago = 0
            as_of = today - timedelta(days=days_ago)
            _backdate(services.decide(_request(ctx, n, customer, as_of, **kw)).decision_id, as_of, ctx)
    # analysts have worked through the older referrals; the recent ones wait in the queue
    analyst = get_user_model().objects.filter(username="risk").first()
    for review in ReviewCase.objects.filter(status="open", decision__as_of__lt=today - timedelta(days=1)).select_related("decision"):
        approve = rng.random() < 0.55  # float-ok
        services.decide_review(review, outcome="approve" if approve else "decline", approved_amount_fen=None, price_tier="D" if approve else None,
                               note="演示数据：已电话核实" if approve else "演示数据：资料不实", actor=f"user:{analyst.pk}" if analyst else "system")  # fmt: skip
    # observed outcomes for loans booked more than 60 days ago (riskier scores go bad more often)
    for d in CreditDecision.objects.filter(application_ref__startswith=SEED_PREFIX, outcome="approve", as_of__lt=today - timedelta(days=60)):
        p = Decimal(d.prob_bad or 0) * Decimal("1.3")
        services.mark_outcome(d.application_ref, Decimal(str(rng.random())) < p)
    ctx.say(f"risk: {n} decisions, {len(RINGS)} fraud rings, blacklist and registry seeded")
