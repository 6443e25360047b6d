"""Risk API (internal operator roles only): decisions, blacklist, policy rule sets, models, reviews, graph, monitoring."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from carloop.core.errors import NotFound
from carloop.core.idempotency import idempotent
from carloop.core.money import Yuan, parse_yuan, yuan_str
from carloop.core.pagination import Page
from carloop.core.timeutil import BusinessDate, BusinessDateTime, business_date
from carloop.identity.selectors import subject_of
from carloop.risk import selectors, services
from carloop.risk.contracts import DecisionRequest, DecisionResult
from carloop.risk.models import BlacklistEntry, CreditDecision, ModelVersion, PolicyRuleSet, ReviewCase

router = Router(tags=["risk"])


def _yuan(fen: int | None) -> str | None:
    return None if fen is None else yuan_str(fen)


class ReasonOut(Schema):
    code: str
    zh: str
    en: str


class DecisionIn(Schema):
    application_ref: str = Field(..., min_length=1, max_length=200)
    product_kind: str = Field(..., min_length=1, max_length=40)
    customer_user_id: uuid.UUID
    amount: Yuan
    term_months: int = Field(..., ge=1, le=120)
    as_of: BusinessDate | None = None
    product_limits: dict[str, Any] = Field(
        default_factory=dict, description="min_amount / max_amount (yuan strings), max_ltv, max_term_months"
    )
    collateral_value: Yuan | None = None
    monthly_income: Yuan | None = None
    device_id: str | None = Field(None, max_length=100)
    ip: str | None = Field(None, max_length=64)
    city: str | None = Field(None, max_length=50)
    extra: dict[str, Any] = Field(default_factory=dict, description="bank_card, address, emergency_contacts")


class DecisionOut(Schema):
    decision_id: str
    outcome: str
    approved_amount: str | None
    price_tier: str | None
    score: int | None
    reasons: list[ReasonOut]
    rule_hits: list[str]
    model_version: str | None
    latency_ms: float  # float-ok: a duration


class DecisionDetailOut(DecisionOut):
    application_ref: str
    customer_user_id: uuid.UUID
    product_kind: str
    amount: str
    term_months: int
    ruleset_version: int | None
    challenger_version: str
    challenger_score: int | None
    created_at: datetime
    context: dict[str, Any]
    review_status: str | None


def _out(r: DecisionResult) -> DecisionOut:
    return DecisionOut(
        decision_id=r.decision_id, outcome=r.outcome, approved_amount=_yuan(r.approved_amount_fen), price_tier=r.price_tier,
        score=r.score, reasons=[ReasonOut(code=x.code, zh=x.zh, en=x.en) for x in r.reasons], rule_hits=r.rule_hits,
        model_version=r.model_version, latency_ms=r.latency_ms,
    )  # fmt: skip


def _detail(d: CreditDecision) -> DecisionDetailOut:
    base = _out(services.result_of(d)).dict()
    review = getattr(d, "review", None)
    context = dict(d.context)
    context.pop("policy", None)  # policy inputs hold blind indexes only, but they are not needed by callers
    return DecisionDetailOut(
        **base, application_ref=d.application_ref, customer_user_id=d.customer_user_id, product_kind=d.product_kind,
        amount=yuan_str(d.amount_fen), term_months=d.term_months, ruleset_version=d.ruleset_version,
        challenger_version=d.challenger_version, challenger_score=d.challenger_score, created_at=d.created_at,
        context=context, review_status=review.status if review else None,
    )  # fmt: skip


def _limits(raw: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key in ("min_amount", "max_amount"):
            out[f"{key}_fen"] = parse_yuan(value, field=f"product_limits.{key}")
        else:
            out[key] = value
    return out


@router.post("/decisions", response={201: DecisionOut}, summary="Decide a credit application (internal roles)")
@idempotent
def create_decision(request: HttpRequest, body: DecisionIn) -> Status[Any]:
    req = DecisionRequest(
        application_ref=body.application_ref, product_kind=body.product_kind, customer_user_id=str(body.customer_user_id),
        amount_fen=parse_yuan(body.amount, field="amount"), term_months=body.term_months,
        as_of=body.as_of or business_date(), product_limits=_limits(body.product_limits),
        collateral_value_fen=parse_yuan(body.collateral_value, field="collateral_value") if body.collateral_value is not None else None,
        monthly_income_fen=parse_yuan(body.monthly_income, field="monthly_income") if body.monthly_income is not None else None,
        device_id=body.device_id, ip=body.ip, city=body.city, extra=body.extra,
    )  # fmt: skip
    return Status(201, _out(services.decide_for(subject_of(request), req)))


@router.get("/decisions", response=list[DecisionDetailOut], summary="Recent decisions (internal roles)")
def list_decisions(request: HttpRequest, page: Query[Page], outcome: str = "") -> list[DecisionDetailOut]:
    rows = selectors.decision_log(subject_of(request)).select_related("review")
    if outcome:
        rows = rows.filter(outcome=outcome)
    return [_detail(d) for d in page.slice(rows)]


@router.get("/decisions/{decision_id}", response=DecisionDetailOut, summary="One decision with its inputs (internal roles)")
def get_decision(request: HttpRequest, decision_id: uuid.UUID) -> DecisionDetailOut:
    subject = subject_of(request)
    subject.require_authenticated()
    d = selectors.decisions_readable_by(subject).filter(pk=decision_id).first()
    if d is None:
        raise NotFound()
    return _detail(d)


@router.post("/decisions/{decision_id}/replay", response=dict[str, Any], summary="Re-run a decision from its stored inputs (risk analysts)")
def replay_decision(request: HttpRequest, decision_id: uuid.UUID) -> dict[str, Any]:
    return services.replay_for(subject_of(request), decision_id)


# --- blacklist ---------------------------------------------------------------------------------------------


class BlacklistIn(Schema):
    kind: str
    value: str = Field(..., max_length=100)
    reason: str = Field(..., max_length=500)
    source: str = Field("manual", max_length=40)
    expires_at: BusinessDateTime | None = None


class BlacklistOut(Schema):
    id: uuid.UUID
    kind: str
    value_masked: str
    reason: str
    source: str
    expires_at: datetime | None
    active: bool
    created_at: datetime


class BlacklistCheckIn(Schema):
    kind: str
    value: str = Field(..., max_length=100)


class BlacklistCheckOut(Schema):
    kind: str
    blacklisted: bool


def _bl(e: BlacklistEntry) -> BlacklistOut:
    return BlacklistOut(id=e.pk, kind=e.kind, value_masked=e.value_masked, reason=e.reason, source=e.source,
                        expires_at=e.expires_at, active=e.active, created_at=e.created_at)  # fmt: skip


@router.get("/blacklist", response=list[BlacklistOut], summary="Blacklist entries, masked (internal roles)")
def list_blacklist(request: HttpRequest, page: Query[Page], kind: str = "") -> list[BlacklistOut]:
    rows = selectors.blacklist_entries(subject_of(request))
    if kind:
        rows = rows.filter(kind=kind)
    return [_bl(e) for e in page.slice(rows)]


@router.post("/blacklist", response={201: BlacklistOut}, summary="Add a blacklist entry (risk analysts)")
def add_blacklist(request: HttpRequest, body: BlacklistIn) -> Status[Any]:
    entry = services.add_to_blacklist_for(subject_of(request), kind=body.kind, value=body.value, reason=body.reason,
                                          source=body.source, expires_at=body.expires_at)  # fmt: skip
    return Status(201, _bl(entry))


@router.post("/blacklist/check", response=BlacklistCheckOut, summary="Is an identifier blacklisted? (internal roles)")
def check_blacklist(request: HttpRequest, body: BlacklistCheckIn) -> BlacklistCheckOut:
    return BlacklistCheckOut(kind=body.kind, blacklisted=selectors.blacklist_check(subject_of(request), body.kind, body.value))


@router.delete("/blacklist/{entry_id}", response=BlacklistOut, summary="Deactivate a blacklist entry (risk analysts)")
def remove_blacklist(request: HttpRequest, entry_id: uuid.UUID) -> BlacklistOut:
    return _bl(services.remove_from_blacklist_for(subject_of(request), entry_id))


# --- policy rule sets -------------------------------------------------------------------------------------------


class RuleSetIn(Schema):
    rules: list[dict[str, Any]]
    note: str = Field("", max_length=500)


class RuleSetOut(Schema):
    id: uuid.UUID
    version: int
    status: str
    rules: list[dict[str, Any]]
    note: str
    created_by: str
    published_at: datetime | None


def _rs(r: PolicyRuleSet) -> RuleSetOut:
    return RuleSetOut(id=r.pk, version=r.version, status=r.status, rules=r.rules, note=r.note, created_by=r.created_by,
                      published_at=r.published_at)  # fmt: skip


@router.get("/rulesets", response=list[RuleSetOut], summary="Policy rule set versions (internal roles)")
def list_rulesets(request: HttpRequest) -> list[RuleSetOut]:
    rows = selectors.ruleset_versions(subject_of(request))  # 403 before the default is created; read below
    services.ensure_default_ruleset()
    return [_rs(r) for r in rows[:50]]


@router.post("/rulesets", response={201: RuleSetOut}, summary="Draft a new rule set version (risk analysts)")
def create_ruleset(request: HttpRequest, body: RuleSetIn) -> Status[Any]:
    return Status(201, _rs(services.create_ruleset_for(subject_of(request), rules=body.rules, note=body.note)))


@router.post("/rulesets/{ruleset_id}/what-if", response=dict[str, Any], summary="Run a rule set over past decisions (risk analysts)")
def what_if(request: HttpRequest, ruleset_id: uuid.UUID) -> dict[str, Any]:
    return services.what_if_for(subject_of(request), ruleset_id)


@router.post("/rulesets/{ruleset_id}/publish", response=RuleSetOut, summary="Publish a draft rule set (risk analysts)")
def publish_ruleset(request: HttpRequest, ruleset_id: uuid.UUID) -> RuleSetOut:
    return _rs(services.publish_ruleset_for(subject_of(request), ruleset_id))


# --- model registry ---------------------------------------------------------------------------------------------


class ModelOut(Schema):
    id: uuid.UUID
    version: str
    kind: str
    role: str
    data_sha256: str
    metrics: dict[str, Any]
    features: list[str]
    promoted_by: str
    promoted_at: datetime | None


class PromoteIn(Schema):
    role: str


def _mv(m: ModelVersion) -> ModelOut:
    return ModelOut(id=m.pk, version=m.version, kind=m.kind, role=m.role, data_sha256=m.data_sha256, metrics=m.metrics,
                    features=m.features, promoted_by=m.promoted_by, promoted_at=m.promoted_at)  # fmt: skip


@router.get("/models", response=list[ModelOut], summary="Registered model versions (internal roles)")
def list_models(request: HttpRequest) -> list[ModelOut]:
    return [_mv(m) for m in selectors.model_registry(subject_of(request))[:100]]


@router.post("/models/{model_id}/promote", response=ModelOut, summary="Make a model champion or challenger (risk analysts)")
def promote_model(request: HttpRequest, model_id: uuid.UUID, body: PromoteIn) -> ModelOut:
    return _mv(services.promote_model_for(subject_of(request), model_id, body.role))


# --- manual review -----------------------------------------------------------------------------------------------


class ReviewOut(Schema):
    id: uuid.UUID
    decision_id: uuid.UUID
    application_ref: str
    amount: str
    score: int | None
    rule_hits: list[str]
    status: str
    due_at: datetime
    overdue: bool
    decided_by: str
    decided_at: datetime | None
    approved_amount: str | None
    note: str


class ReviewDecisionIn(Schema):
    outcome: str
    approved_amount: Yuan | None = None
    price_tier: str | None = Field(None, pattern="^[A-E]$")
    note: str = Field("", max_length=1000)


def _rv(r: ReviewCase) -> ReviewOut:
    from django.utils import timezone

    d = r.decision
    return ReviewOut(
        id=r.pk, decision_id=d.pk, application_ref=d.application_ref, amount=yuan_str(d.amount_fen), score=d.score,
        rule_hits=d.rule_hits, status=r.status, due_at=r.due_at,
        overdue=r.status == ReviewCase.Status.OPEN and r.due_at < timezone.now(), decided_by=r.decided_by,
        decided_at=r.decided_at, approved_amount=_yuan(r.approved_amount_fen), note=r.note,
    )  # fmt: skip


@router.get("/reviews", response=list[ReviewOut], summary="Manual review queue, oldest due first (risk analysts, ops)")
def list_reviews(request: HttpRequest, page: Query[Page], status: str = "open") -> list[ReviewOut]:
    rows = selectors.review_queue(subject_of(request))
    if status:
        rows = rows.filter(status=status)
    return [_rv(r) for r in page.slice(rows)]


@router.post("/reviews/{review_id}/decide", response=ReviewOut, summary="Record an analyst decision on a referral (risk analysts)")
def decide_review(request: HttpRequest, review_id: uuid.UUID, body: ReviewDecisionIn) -> ReviewOut:
    amount = parse_yuan(body.approved_amount, field="approved_amount") if body.approved_amount is not None else None
    return _rv(services.decide_review_for(subject_of(request), review_id, outcome=body.outcome, approved_amount_fen=amount,
                                          price_tier=body.price_tier, note=body.note))  # fmt: skip


# --- features, graph, monitoring --------------------------------------------------------------------------------


@router.get("/features/{customer_user_id}", response=dict[str, Any], summary="A customer's online features (risk analysts)")
def customer_features(request: HttpRequest, customer_user_id: uuid.UUID) -> dict[str, Any]:
    return selectors.features_of(subject_of(request), customer_user_id)


@router.get("/rings", response=list[dict[str, Any]], summary="Connected components joining several customers (risk analysts)")
def rings(request: HttpRequest, min_customers: int = 3) -> list[dict[str, Any]]:
    return [
        {"component": str(r.component), "customers": r.customers, "blacklisted": r.blacklisted, "shared_identifiers": r.shared_identifiers}
        for r in selectors.fraud_rings(subject_of(request), min_customers)
    ]


@router.get("/monitoring", response=dict[str, Any], summary="Score distribution, approval rate, PSI, vintages (internal roles)")
def monitoring(request: HttpRequest, days: int = 30) -> dict[str, Any]:
    return selectors.monitoring_for(subject_of(request), days)
