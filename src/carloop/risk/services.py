"""Risk commands: credit decisions, blacklist, feature store ingestion, model registry, policy rule sets, reviews."""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import Count, F, Model, Q, QuerySet
from django.utils import timezone

from carloop.core import audit, events, pii
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Invalid, NotFound
from carloop.identity import selectors as identity_q
from carloop.risk import features as fs
from carloop.risk import graph, platform_model, policy
from carloop.risk import selectors as q
from carloop.risk.contracts import DecisionRequest, DecisionResult, Reason
from carloop.risk.modeling.artifacts import LoadedModel, load
from carloop.risk.modeling.data import DataError
from carloop.risk.models import BlacklistEntry, CreditDecision, FeatureFact, FeatureRow, ModelVersion, PolicyRuleSet, ReviewCase

DECISION_MADE = "risk.decision.made"
REVIEW_DECIDED = "risk.review.decided"
REVIEW_SLA = timedelta(hours=4)
LARGE_AMOUNT_FEN = 5_000_000  # 50,000 yuan: geo-anomaly and new-device rules apply above this
# score -> price tier; below DECLINE_BELOW decline, between it and the last tier refer to a human
TIERS = [(620, "A"), (590, "B"), (560, "C"), (530, "D")]
TIER_NAMES = ("A", "B", "C", "D", "E")  # E: only an analyst approves at tier E
DECLINE_BELOW = 500
TIER_D_SHARE = Decimal("0.80")  # tier D is approved for at most 80% of the amount asked
VELOCITY = [  # (field on CreditDecision, window, refer at, decline at, code, zh, en)
    ("id_index", timedelta(hours=24), 2, 4, "F_VEL_ID", "同一身份证 24 小时内多次申请", "Several applications with one ID number in 24 hours"),
    ("phone_index", timedelta(hours=24), 2, 4, "F_VEL_PHONE", "同一手机号 24 小时内多次申请", "Several applications with one phone in 24 hours"),
    ("device_id", timedelta(hours=24), 3, 5, "F_VEL_DEVICE", "同一设备 24 小时内多次申请", "Several applications from one device in 24 hours"),
    ("ip", timedelta(hours=1), 5, 10, "F_VEL_IP", "同一 IP 1 小时内大量申请", "Many applications from one IP in an hour"),
]  # fmt: skip
VELOCITY_WINDOW = max(check[1] for check in VELOCITY)
GRAPH_DECLINE_HOPS = 2
GRAPH_REFER_HOPS = 4
RING_REFER_SIZE = 5


def move_recent_decisions_back(customer_user_id: uuid.UUID, *, by: timedelta, window: timedelta) -> int:
    """Seeding only: a demo story told after the fact (the demo owner's earlier, refunded purchase) moves the
    customer's decisions of the last ``window`` back ``by``, so that the velocity rules see them as history and the
    demo owner's own application is decided at once. Returns how many moved."""
    recent = CreditDecision.objects.filter(customer_user_id=customer_user_id, created_at__gte=timezone.now() - window)
    with transaction.atomic():
        ReviewCase.objects.filter(decision__in=recent).update(due_at=F("due_at") - by)
        return recent.update(created_at=F("created_at") - by)


# --- blacklist ---------------------------------------------------------------------------------------------


def _mask(kind: str, value: str) -> str:
    if kind == "phone":
        return pii.mask_phone(value)
    if kind == "id_number":
        return pii.mask_id(value)
    if kind == "bank_card":
        return pii.mask_bank_card(value)
    v = pii.normalize(kind, value)
    return f"{v[:4]}****{v[-4:]}" if len(v) > 8 else "****"


def add_to_blacklist(
    *, kind: str, value: str, reason: str, source: str = "manual", expires_at: datetime | None = None, actor: str
) -> BlacklistEntry:
    if kind not in q.BLACKLIST_KINDS:
        raise Invalid("invalid-blacklist-kind", "黑名单类型无效", "Unknown blacklist kind",
                      [FieldError("/kind", "应为 id_number、phone、device、bank_card 或 uscc", "Use id_number, phone, device, bank_card or uscc")])  # fmt: skip
    if not value.strip():
        raise Invalid("invalid-blacklist-value", "请填写要拉黑的值", "The value is required", [FieldError("/value", "必填", "Required")])
    if not reason.strip():
        raise Invalid("invalid-blacklist-reason", "请填写原因", "A reason is required", [FieldError("/reason", "必填", "Required")])
    index = pii.blind_index(kind, value)
    with transaction.atomic():
        entry = BlacklistEntry.objects.create(
            kind=kind, value_index=index, value_masked=_mask(kind, value), reason=reason.strip(), source=source,
            expires_at=expires_at, created_by=actor,
        )  # fmt: skip
        graph.mark_blacklisted(kind, index)
        audit.record(
            actor, "risk.blacklist.added", "risk.blacklist", str(entry.pk), {"kind": kind, "masked": entry.value_masked, "source": source}
        )
        events.publish("risk.blacklist.added", f"risk:blacklist:{entry.pk}", {"kind": kind, "value_index": index}, actor=actor)
    return entry


def remove_from_blacklist(entry: BlacklistEntry, *, actor: str) -> BlacklistEntry:
    with transaction.atomic():
        entry.active = False
        entry.save(update_fields=["active", "updated_at"])
        if not q.is_blacklisted_index(entry.kind, entry.value_index):
            graph.mark_blacklisted(entry.kind, entry.value_index, False)
        audit.record(actor, "risk.blacklist.removed", "risk.blacklist", str(entry.pk), {"kind": entry.kind})
    return entry


# --- feature store -----------------------------------------------------------------------------------------


def record_fact(
    *,
    customer_user_id: uuid.UUID | str,
    kind: str,
    occurred_at: datetime,
    amount_fen: int | None = None,
    data: dict[str, Any] | None = None,
    event_id: uuid.UUID | None = None,
    refresh: bool = True,
) -> bool:
    """Store one behavioural fact (idempotent per event) and refresh the customer's online features."""
    if event_id is not None and FeatureFact.objects.filter(event_id=event_id).exists():
        return False
    FeatureFact.objects.create(
        subject_id=customer_user_id, kind=kind, occurred_at=occurred_at, amount_fen=amount_fen, data=data or {}, event_id=event_id
    )
    if refresh:
        refresh_features(customer_user_id)
    return True


def refresh_features(customer_user_id: uuid.UUID | str, now: datetime | None = None) -> dict[str, Any]:
    now = now or timezone.now()
    values = fs.compute(q.facts_of(customer_user_id), now)
    FeatureRow.objects.bulk_create(  # one upsert
        [FeatureRow(subject_kind="customer", subject_id=customer_user_id, features=values, computed_at=now)],
        update_conflicts=True, unique_fields=["subject_kind", "subject_id"], update_fields=["features", "computed_at", "updated_at"],
    )
    return values


def features_as_of(customer_user_id: uuid.UUID | str, as_of: datetime) -> dict[str, Any]:
    """Point-in-time snapshot for training: only facts that happened before ``as_of``."""
    return fs.compute(q.facts_of(customer_user_id, before=as_of), as_of)


# --- model registry ------------------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _load_artifact(path: str, version: str) -> LoadedModel:
    return load(path)


def loaded(mv: ModelVersion) -> LoadedModel:
    return _load_artifact(mv.artifact_path, mv.version)


def register_model(path: str | Path, *, actor: str) -> ModelVersion:
    """Register a trained model directory (from ``carloop risk train``) as a candidate."""
    try:
        model = load(path)
    except DataError as exc:
        raise Invalid("invalid-model", exc.zh, exc.en, [FieldError("/path", exc.zh, exc.en)]) from exc
    meta = model.meta
    mv, created = ModelVersion.objects.get_or_create(
        version=meta["version"],
        defaults={
            "kind": meta["model"], "artifact_path": str(Path(path).resolve()), "data_sha256": meta.get("data_sha256", ""),
            "metrics": meta.get("metrics", {}), "features": meta.get("features", []), "baseline": meta.get("baseline", {}),
            "registered_by": actor,
        },
    )  # fmt: skip
    if created:
        audit.record(actor, "risk.model.registered", "risk.model", str(mv.pk), {"version": mv.version})
    return mv


def promote_model(mv: ModelVersion, role: str, *, actor: str) -> ModelVersion:
    """Make ``mv`` the champion (the old one retires) or the shadow-scored challenger, or retire it."""
    if role not in (ModelVersion.Role.CHAMPION, ModelVersion.Role.CHALLENGER, ModelVersion.Role.RETIRED):
        raise Invalid("invalid-role", "角色应为 champion、challenger 或 retired", "Role must be champion, challenger or retired",
                      [FieldError("/role", "无效角色", "Invalid role")])  # fmt: skip
    with transaction.atomic():
        if role != ModelVersion.Role.RETIRED:
            demoted = ModelVersion.Role.RETIRED if role == ModelVersion.Role.CHAMPION else ModelVersion.Role.CANDIDATE
            ModelVersion.objects.filter(role=role).exclude(pk=mv.pk).update(role=demoted)
        previous = mv.role
        mv.role = role
        mv.promoted_by, mv.promoted_at = actor, timezone.now()
        mv.save(update_fields=["role", "promoted_by", "promoted_at", "updated_at"])
        audit.record(actor, "risk.model.promoted", "risk.model", str(mv.pk), {"version": mv.version, "from": previous, "to": role})
        events.publish("risk.model.promoted", f"risk:model:{mv.pk}", {"version": mv.version, "role": role}, actor=actor)
    clear_config_cache()
    return mv


CONFIG_TTL_SECONDS = 5  # registry roles and the published rule set are re-read at most this often per process
_config_cache: dict[str, tuple[float, Any]] = {}  # float-ok: monotonic timestamps


def _cached(name: str, load_value: Any) -> Any:
    hit = _config_cache.get(name)
    now = time.monotonic()
    if hit is not None and now - hit[0] < CONFIG_TTL_SECONDS:
        return hit[1]
    value = load_value()
    _config_cache[name] = (now, value)
    return value


def clear_config_cache() -> None:
    _config_cache.clear()


def _models() -> tuple[LoadedModel, LoadedModel | None]:
    roles = _cached("models", q.models_in_roles)
    champion_mv = roles.get(ModelVersion.Role.CHAMPION)
    challenger_mv = roles.get(ModelVersion.Role.CHALLENGER)
    return (loaded(champion_mv) if champion_mv else platform_model.builtin(), loaded(challenger_mv) if challenger_mv else None)


def champion() -> LoadedModel:
    return _models()[0]


def challenger() -> LoadedModel | None:
    return _models()[1]


# --- policy rule sets ----------------------------------------------------------------------------------------


def _validated(rules: Any) -> list[dict[str, Any]]:
    try:
        return policy.validate({"rules": rules})
    except policy.RuleSetError as exc:
        raise Invalid(
            "invalid-rule-set", "规则集无效", "The rule set is invalid", [FieldError(p, zh, en) for p, zh, en in exc.errors]
        ) from exc


def ensure_default_ruleset() -> PolicyRuleSet:
    current = q.published_ruleset()
    if current is not None:
        return current
    with transaction.atomic():
        rs, _ = PolicyRuleSet.objects.get_or_create(
            version=1,
            defaults={"status": PolicyRuleSet.Status.PUBLISHED, "rules": policy.DEFAULT_RULES, "note": "default rules",
                      "created_by": "system", "published_by": "system", "published_at": timezone.now()},
        )  # fmt: skip
    return rs


def create_ruleset(*, rules: Any, note: str = "", actor: str) -> PolicyRuleSet:
    checked = _validated(rules)
    with transaction.atomic():
        last = PolicyRuleSet.objects.select_for_update().order_by("-version").first()
        rs = PolicyRuleSet.objects.create(version=(last.version + 1) if last else 1, rules=checked, note=note, created_by=actor)
        audit.record(actor, "risk.ruleset.drafted", "risk.ruleset", str(rs.pk), {"version": rs.version})
    return rs


def publish_ruleset(rs: PolicyRuleSet, *, actor: str) -> PolicyRuleSet:
    if rs.status != PolicyRuleSet.Status.DRAFT:
        raise Conflict("ruleset-not-draft", "只能发布草稿规则集", "Only a draft rule set can be published")
    with transaction.atomic():
        PolicyRuleSet.objects.filter(status=PolicyRuleSet.Status.PUBLISHED).update(status=PolicyRuleSet.Status.RETIRED)
        rs.status, rs.published_by, rs.published_at = PolicyRuleSet.Status.PUBLISHED, actor, timezone.now()
        rs.save(update_fields=["status", "published_by", "published_at", "updated_at"])
        audit.record(actor, "risk.ruleset.published", "risk.ruleset", str(rs.pk), {"version": rs.version})
        events.publish("risk.ruleset.published", f"risk:ruleset:{rs.pk}", {"version": rs.version}, actor=actor)
    clear_config_cache()
    return rs


def _combine(policy_outcome: str, fraud_outcome: str, score_outcome: str) -> str:
    stages = (policy_outcome, fraud_outcome, score_outcome)
    if "decline" in stages:
        return "decline"
    if "refer" in stages:
        return "refer"
    return "approve"


def what_if(rs: PolicyRuleSet, limit: int = 2000) -> dict[str, Any]:
    """Re-run past decisions' stored policy inputs through ``rs``; report how the outcomes would change."""
    transitions: dict[str, int] = {}
    samples: list[dict[str, Any]] = []
    n = 0
    for d in CreditDecision.objects.order_by("-created_at")[:limit]:
        ctx = d.context or {}
        stages = ctx.get("stages")
        if not stages:
            continue
        n += 1
        hits = policy.evaluate(rs.rules, ctx.get("policy", {}))
        new = _combine(policy.outcome_of(hits), stages["fraud"], stages["score"])
        if new != d.outcome:
            key = f"{d.outcome}->{new}"
            transitions[key] = transitions.get(key, 0) + 1
            if len(samples) < 20:
                samples.append({"decision_id": str(d.pk), "application_ref": d.application_ref, "from": d.outcome, "to": new,
                                "rule_hits": [h.code for h in hits]})  # fmt: skip
    return {
        "ruleset_version": rs.version,
        "decisions": n,
        "changed": sum(transitions.values()),
        "transitions": transitions,
        "samples": samples,
    }


# --- decisions ---------------------------------------------------------------------------------------------


PII_EXTRA = {"bank_card": "bank_card", "address": "address", "emergency_contacts": "phone"}


def _protected(kind: str, value: Any) -> dict[str, str]:
    text = str(value)
    masked = pii.mask_phone(text) if kind == "phone" else _mask(kind, text) if kind == "bank_card" else text[:6] + "…"
    return {"index": pii.blind_index(kind, text), "masked": masked}


def _request_json(req: DecisionRequest) -> dict[str, Any]:
    """The request as stored for audit and replay: identifiers in ``extra`` become blind index + mask."""
    data = asdict(req)
    data["as_of"] = req.as_of.isoformat()
    extra = dict(data.get("extra") or {})
    for key, kind in PII_EXTRA.items():
        if key not in extra or not extra[key]:
            continue
        value = extra[key]
        extra[key] = [_protected(kind, v) for v in value] if isinstance(value, list) else _protected(kind, value)
    data["extra"] = extra
    return data


def _ratio(numerator: Decimal, denominator: int | None) -> str | None:
    if not denominator or denominator <= 0:
        return None
    return str((numerator / Decimal(denominator)).quantize(Decimal("0.0001"), ROUND_HALF_UP))


def result_of(d: CreditDecision) -> DecisionResult:
    return DecisionResult(
        decision_id=str(d.pk), outcome=d.outcome, approved_amount_fen=d.approved_amount_fen, price_tier=d.price_tier or None,  # type: ignore[arg-type]
        score=d.score, reasons=[Reason(r["code"], r["zh"], r["en"]) for r in d.reasons], rule_hits=list(d.rule_hits),
        model_version=d.model_version or None, latency_ms=d.latency_ms,
    )  # fmt: skip


def _validate_request(req: DecisionRequest) -> None:
    errors = []
    if req.amount_fen <= 0:
        errors.append(FieldError("/amount_fen", "金额必须大于 0", "The amount must be positive"))
    if req.term_months <= 0 or req.term_months > 120:
        errors.append(FieldError("/term_months", "期限应在 1–120 个月", "The term must be 1 to 120 months"))
    if not req.application_ref.strip():
        errors.append(FieldError("/application_ref", "必填", "Required"))
    if errors:
        raise Invalid("invalid-decision-request", "决策请求无效", "Invalid decision request", errors)


def _fraud_checks(
    req: DecisionRequest, now: datetime, id_index: str, phone_index: str, links: list[graph.Link], listed: set[tuple[str, str]]
) -> tuple[list[policy.RuleHit], dict[str, Any]]:
    hits: list[policy.RuleHit] = []
    signals: dict[str, Any] = {}
    values = {"id_index": id_index, "phone_index": phone_index, "device_id": req.device_id or "", "ip": req.ip or ""}
    checks = [v for v in VELOCITY if values[v[0]]]
    counts: dict[str, int] = {}
    if checks:
        any_match = Q()
        for field, *_ in checks:
            any_match |= Q(**{field: values[field]})
        longest = max(check[1] for check in checks)
        per_check = {
            code: Count("id", filter=Q(**{field: values[field], "created_at__gte": now - window}))
            for field, window, _, _, code, _, _ in checks
        }
        counts = (
            CreditDecision.objects.filter(any_match, created_at__gte=now - longest)
            .exclude(application_ref=req.application_ref)
            .aggregate(**per_check)
        )
    for _field, _window, refer_at, decline_at, code, zh, en in checks:
        count = int(counts.get(code) or 0) + 1
        signals[code] = count
        if count >= decline_at:
            hits.append(policy.RuleHit(code, "decline", f"{zh}（{count} 次）", f"{en} ({count})"))
        elif count >= refer_at:
            hits.append(policy.RuleHit(code, "refer", f"{zh}（{count} 次）", f"{en} ({count})"))
    logins = q.login_facts(req.customer_user_id, since=now - timedelta(days=90), before=now)
    large = req.amount_fen >= LARGE_AMOUNT_FEN
    recent = [f for f in logins if f.occurred_at >= now - timedelta(hours=24)]
    usual = fs.usual_cities(logins, now - timedelta(hours=24))
    current_city = req.city or (str(recent[-1].data.get("city", "")) if recent else "")
    signals["usual_cities"] = usual
    signals["current_city"] = current_city
    if large and usual and current_city and current_city not in usual:
        hits.append(policy.RuleHit("F_GEO", "refer", f"登录城市（{current_city}）异常后发起大额申请",
                                   f"Large application right after a login from an unusual city ({current_city})"))  # fmt: skip
    if req.device_id:
        known = any(f.data.get("device") == req.device_id and f.occurred_at < now - timedelta(hours=24) for f in logins)
        signals["device_known"] = known
        if large and not known:
            hits.append(policy.RuleHit("F_NEW_DEVICE", "refer", "新设备发起大额申请", "Large application from a new device"))
    linked = graph.link_customer(req.customer_user_id, links, listed)
    ring = linked.customers
    distance = graph.distance_to_blacklisted(linked.node, max_hops=GRAPH_REFER_HOPS, component_has_blacklisted=linked.blacklisted > 0)
    signals.update(graph_distance=distance, ring_customers=ring, component=str(linked.node.component))
    if distance is not None and distance <= GRAPH_DECLINE_HOPS:
        hits.append(policy.RuleHit("F_GRAPH_NEAR", "decline", "与黑名单身份直接关联", "Directly linked to a blacklisted identity"))
    elif distance is not None:
        hits.append(
            policy.RuleHit(
                "F_GRAPH", "refer", f"与黑名单身份 {distance} 度关联", f"Linked to a blacklisted identity within {distance} hops"
            )
        )
    if ring >= RING_REFER_SIZE:
        hits.append(
            policy.RuleHit(
                "F_RING", "refer", f"与 {ring - 1} 名其他客户共用身份信息", f"Shares identifiers with {ring - 1} other customers"
            )
        )
    return hits, signals


def _tier(score: int) -> str | None:
    for cutoff, tier in TIERS:
        if score >= cutoff:
            return tier
    return None


def decide(req: DecisionRequest, *, actor: str = "system") -> DecisionResult:
    """Policy rules → fraud checks → score → limit and price tier → outcome; stored with every input."""
    started = time.perf_counter()
    _validate_request(req)
    request_json = _request_json(req)
    previous = CreditDecision.objects.filter(application_ref=req.application_ref).order_by("-created_at").first()
    if previous is not None and previous.request == request_json:
        return result_of(previous)
    facts = identity_q.customer_facts(req.customer_user_id)
    if facts is None:
        raise Invalid(
            "unknown-customer", "客户不存在", "Unknown customer", [FieldError("/customer_user_id", "客户不存在", "Unknown customer")]
        )
    now = timezone.now()
    ruleset = _cached("ruleset", ensure_default_ruleset)
    features = q.online_features(req.customer_user_id) or fs.compute([], now)
    id_index = facts.id_index or ""
    phone_index = facts.phone_index or ""
    device_index = pii.blind_index("device", req.device_id) if req.device_id else ""
    extra = req.extra or {}
    card_index = pii.blind_index("bank_card", str(extra["bank_card"])) if extra.get("bank_card") else ""
    own = [
        graph.Link("id_number", id_index, facts.id_number_masked), graph.Link("phone", phone_index, facts.phone_masked),
        graph.Link("device", device_index, _mask("device", req.device_id or "")), graph.Link("bank_card", card_index, _mask("bank_card", str(extra.get("bank_card", "")))),
    ]  # fmt: skip
    links = list(own)
    if extra.get("address"):
        links.append(graph.Link("address", pii.blind_index("address", str(extra["address"])), str(extra["address"])[:6] + "…"))
    for contact in extra.get("emergency_contacts", []) or []:
        links.append(graph.Link("phone", pii.blind_index("phone", str(contact)), pii.mask_phone(str(contact))))
    # One blacklist query for the policy (the applicant's own identifiers) and the graph (every linked identifier).
    listed = q.blacklisted_indexes([(link.kind, link.key) for link in links if link.kind in q.BLACKLIST_KINDS])
    blacklisted = any((link.kind, link.key) in listed for link in own)
    payment = Decimal(req.amount_fen) / Decimal(req.term_months)
    dti = _ratio(payment, req.monthly_income_fen)
    ltv = _ratio(Decimal(req.amount_fen), req.collateral_value_fen)
    age = facts.age_on(req.as_of)
    months = req.as_of.month - 1 + req.term_months
    maturity = req.as_of.replace(year=req.as_of.year + months // 12, month=months % 12 + 1, day=1)
    age_at_maturity = facts.age_on(maturity)
    policy_ctx: dict[str, Any] = {
        "age": age, "age_at_maturity": age_at_maturity, "kyc_verified": facts.kyc_verified, "blacklisted": blacklisted, "product_kind": req.product_kind,
        "amount_fen": req.amount_fen, "term_months": req.term_months, "dti": dti, "ltv": ltv,
        **{f"product.{k}": v for k, v in (req.product_limits or {}).items()},
        **{f"f.{k}": v for k, v in features.items()},
    }  # fmt: skip
    policy_hits = policy.evaluate(ruleset.rules, policy_ctx)
    fraud_hits, signals = _fraud_checks(req, now, id_index, phone_index, links, listed)
    row = dict(features)
    row.update(age=age, amount_yuan=req.amount_fen // 100, term_months=req.term_months,
               dti_pct=int(Decimal(dti) * 100) if dti is not None else None)  # fmt: skip
    model = champion()
    scored = model.score_row(row)
    shadow = challenger()
    shadow_score = shadow.score_row(row).score if shadow is not None else None
    score_outcome = "decline" if scored.score < DECLINE_BELOW else "approve" if _tier(scored.score) else "refer"
    policy_outcome, fraud_outcome = policy.outcome_of(policy_hits), policy.outcome_of(fraud_hits)
    outcome = _combine(policy_outcome, fraud_outcome, score_outcome)
    tier = _tier(scored.score) if outcome == "approve" else None
    approved = None
    if outcome == "approve":
        approved = req.amount_fen
        if tier == "D":
            approved = int((Decimal(req.amount_fen) * TIER_D_SHARE).quantize(Decimal(100), ROUND_HALF_UP))
    hits = policy_hits + fraud_hits
    reasons = [Reason(h.code, h.zh, h.en) for h in hits] if outcome != "approve" else []
    reasons += [Reason(r.code, r.zh, r.en) for r in scored.reasons]
    latency = (time.perf_counter() - started) * 1000
    with transaction.atomic(savepoint=False):
        d = CreditDecision.objects.create(
            application_ref=req.application_ref, customer_user_id=req.customer_user_id, product_kind=req.product_kind,
            amount_fen=req.amount_fen, term_months=req.term_months, as_of=req.as_of, request=request_json,
            context={"policy": policy_ctx, "features": row, "signals": signals,
                     "stages": {"policy": policy_outcome, "fraud": fraud_outcome, "score": score_outcome},
                     "prob_bad": round(scored.prob_bad, 6)},
            outcome=outcome, score=scored.score, prob_bad=Decimal(str(round(scored.prob_bad, 6))),
            reasons=[asdict(r) for r in reasons], rule_hits=[h.code for h in hits], model_version=model.version,
            challenger_version=shadow.version if shadow else "", challenger_score=shadow_score,
            ruleset_version=ruleset.version, approved_amount_fen=approved, price_tier=tier or "", latency_ms=round(latency, 3),
            decided_by=actor, device_id=req.device_id or "", ip=req.ip or "", city=req.city or "", id_index=id_index,
            phone_index=phone_index,
        )  # fmt: skip
        if outcome == "refer":
            ReviewCase.objects.create(decision=d, due_at=now + REVIEW_SLA)
        events.publish(DECISION_MADE, f"risk:decision:{d.pk}", {
            "decision_id": str(d.pk), "application_ref": d.application_ref, "outcome": outcome, "score": d.score,
            "price_tier": tier, "approved_amount_fen": approved, "model_version": model.version,
        }, actor=actor)  # fmt: skip
    return result_of(d)


def checked_review_terms(
    review: ReviewCase, outcome: str, approved_amount_fen: int | None, price_tier: str | None
) -> tuple[int | None, str | None]:
    """The (approved amount, price tier) a review decision records: an approval defaults to the amount asked and
    tier E, a decline records neither; raises a 422 ``Problem`` on an unknown outcome or an amount out of range."""
    if outcome not in ("approve", "decline"):
        raise Invalid("invalid-review-outcome", "结论应为 approve 或 decline", "Outcome must be approve or decline",
                      [FieldError("/outcome", "无效结论", "Invalid outcome")])  # fmt: skip
    if outcome == "decline":
        return None, None
    amount = approved_amount_fen or review.decision.amount_fen
    if amount <= 0 or amount > review.decision.amount_fen:
        raise Invalid("invalid-approved-amount", "批准金额须大于 0 且不超过申请金额", "The approved amount must be positive and at most the amount asked",
                      [FieldError("/approved_amount", "金额无效", "Invalid amount")])  # fmt: skip
    if price_tier and price_tier not in TIER_NAMES:
        raise Invalid("invalid-price-tier", "定价档无效", "Unknown price tier", [FieldError("/price_tier", "应为 A–E", "Use A to E")])
    return amount, price_tier or "E"


def decide_review(
    review: ReviewCase, *, outcome: str, approved_amount_fen: int | None, price_tier: str | None, note: str, actor: str
) -> ReviewCase:
    """An analyst's decision on a referred application; finance learns it from ``risk.review.decided``."""
    d = review.decision
    approved_amount_fen, price_tier = checked_review_terms(review, outcome, approved_amount_fen, price_tier)
    with transaction.atomic():
        locked = ReviewCase.objects.select_for_update().get(pk=review.pk)
        if locked.status != ReviewCase.Status.OPEN:
            raise Conflict("review-closed", "该审核已处理", "This review is already decided")
        locked.status = ReviewCase.Status.APPROVED if outcome == "approve" else ReviewCase.Status.DECLINED
        locked.decided_by, locked.decided_at = actor, timezone.now()
        locked.approved_amount_fen, locked.note = approved_amount_fen, note
        locked.save(update_fields=["status", "decided_by", "decided_at", "approved_amount_fen", "note", "updated_at"])
        audit.record(
            actor, "risk.review.decided", "risk.review", str(locked.pk), {"outcome": outcome, "approved_amount_fen": approved_amount_fen}
        )
        events.publish(REVIEW_DECIDED, f"risk:decision:{d.pk}", {
            "decision_id": str(d.pk), "application_ref": d.application_ref, "outcome": outcome,
            "approved_amount_fen": approved_amount_fen, "price_tier": price_tier, "within_sla": locked.decided_at <= locked.due_at,
        }, actor=actor)  # fmt: skip
    return locked


def close_reviews_decided_elsewhere(application_ref: str, outcome: str, actor: str) -> int:
    """Close the open review of an application that the lender decided in its own queue (event
    ``finance.application.decided``) or that was cancelled, so that analysts do not work it. Returns how many
    closed."""
    status = {"approved": ReviewCase.Status.APPROVED, "declined": ReviewCase.Status.DECLINED,
              "cancelled": ReviewCase.Status.WITHDRAWN}.get(outcome)
    if status is None:
        return 0
    closed = 0
    with transaction.atomic():
        for case in ReviewCase.objects.select_for_update().filter(decision__application_ref=application_ref,
                                                                  status=ReviewCase.Status.OPEN):
            case.status, case.decided_by, case.decided_at = status, actor, timezone.now()
            case.note = ("申请已取消 / the application was cancelled" if status == ReviewCase.Status.WITHDRAWN
                         else "已在贷款方审核队列处理 / decided in the lender's review queue")
            case.save(update_fields=["status", "decided_by", "decided_at", "note", "updated_at"])
            audit.record(actor, "risk.review.closed_elsewhere", "risk.review", str(case.pk), {"outcome": outcome})
            closed += 1
    return closed


def replay(d: CreditDecision) -> dict[str, Any]:
    """Re-run a stored decision from its stored inputs: the rule set and model versions it used, its policy
    context and features, and the fraud stage as observed then (velocity and graph depend on the moment)."""
    ctx = d.context or {}
    rs = PolicyRuleSet.objects.filter(version=d.ruleset_version).first() if d.ruleset_version is not None else None
    mv = ModelVersion.objects.filter(version=d.model_version).first()
    if rs is None or "stages" not in ctx:
        raise Conflict("not-replayable", "该决策缺少回放所需的输入", "This decision lacks the inputs needed to replay it")
    if mv is not None:
        model = loaded(mv)
    elif d.model_version == platform_model.BUILTIN_VERSION:
        model = platform_model.builtin()
    else:
        raise Conflict("model-unavailable", "决策所用模型已不可用", "The model used by this decision is no longer available")
    hits = policy.evaluate(rs.rules, ctx.get("policy", {}))
    scored = model.score_row(ctx.get("features", {}))
    score_outcome = "decline" if scored.score < DECLINE_BELOW else "approve" if _tier(scored.score) else "refer"
    outcome = _combine(policy.outcome_of(hits), ctx["stages"]["fraud"], score_outcome)
    return {"decision_id": str(d.pk), "stored": {"outcome": d.outcome, "score": d.score}, "replayed": {"outcome": outcome, "score": scored.score},
            "matches": outcome == d.outcome and scored.score == d.score}  # fmt: skip


def training_snapshot(path: str | Path) -> int:
    """Write a labelled training CSV: for every decision with an observed outcome, the features as they were
    at the decision time (point in time) plus the application features and ``bad`` (1/0)."""
    import csv

    rows = 0
    with Path(path).open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*fs.MODEL_FEATURES, "bad"], extrasaction="ignore")
        writer.writeheader()
        for d in CreditDecision.objects.exclude(bad_outcome__isnull=True).order_by("created_at").iterator():
            row = features_as_of(d.customer_user_id, d.created_at)
            application = (d.context or {}).get("features", {})
            row.update({k: application.get(k) for k in fs.APPLICATION_FEATURES})
            row["bad"] = 1 if d.bad_outcome else 0
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
            rows += 1
    return rows


def mark_outcome(application_ref: str, bad: bool) -> int:
    """Record the observed outcome (bad = 30+ days past due) on the decisions of an application."""
    return CreditDecision.objects.filter(application_ref=application_ref, outcome="approve").update(bad_outcome=bad)


T = TypeVar("T", bound=Model)


# --- commands for a caller (API, pages): each checks the caller, then acts as them ----------------------------------


def _found(rows: QuerySet[T], pk: uuid.UUID | str) -> T:
    obj = rows.filter(pk=pk).first()
    if obj is None:
        raise NotFound()
    return obj


def decide_for(subject: Subject, req: DecisionRequest) -> DecisionResult:
    """An internal operator asks for a decision."""
    subject.require(q.may_monitor(subject))
    return decide(req, actor=subject.ref)


def replay_for(subject: Subject, decision_id: uuid.UUID | str) -> dict[str, Any]:
    subject.require(q.may_analyse(subject))
    return replay(_found(q.decisions_readable_by(subject), decision_id))


def add_to_blacklist_for(subject: Subject, *, kind: str, value: str, reason: str, source: str = "manual",
                         expires_at: datetime | None = None) -> BlacklistEntry:
    subject.require(q.may_analyse(subject))
    return add_to_blacklist(kind=kind, value=value, reason=reason, source=source, expires_at=expires_at, actor=subject.ref)


def remove_from_blacklist_for(subject: Subject, entry_id: uuid.UUID | str) -> BlacklistEntry:
    subject.require(q.may_analyse(subject))
    return remove_from_blacklist(_found(q.blacklist_readable_by(subject), entry_id), actor=subject.ref)


def create_ruleset_for(subject: Subject, *, rules: Any, note: str = "") -> PolicyRuleSet:
    subject.require(q.may_analyse(subject))
    return create_ruleset(rules=rules, note=note, actor=subject.ref)


def what_if_for(subject: Subject, ruleset_id: uuid.UUID | str) -> dict[str, Any]:
    subject.require(q.may_analyse(subject))
    return what_if(_found(q.rulesets_readable_by(subject), ruleset_id))


def publish_ruleset_for(subject: Subject, ruleset_id: uuid.UUID | str) -> PolicyRuleSet:
    subject.require(q.may_analyse(subject))
    return publish_ruleset(_found(q.rulesets_readable_by(subject), ruleset_id), actor=subject.ref)


def promote_model_for(subject: Subject, model_id: uuid.UUID | str, role: str) -> ModelVersion:
    subject.require(q.may_analyse(subject))
    return promote_model(_found(q.models_readable_by(subject), model_id), role, actor=subject.ref)


def decide_review_for(subject: Subject, review_id: uuid.UUID | str, *, outcome: str, approved_amount_fen: int | None,
                      price_tier: str | None, note: str) -> ReviewCase:
    subject.require(q.may_analyse(subject))
    return decide_review(_found(q.reviews_readable_by(subject), review_id), outcome=outcome,
                         approved_amount_fen=approved_amount_fen, price_tier=price_tier, note=note, actor=subject.ref)
