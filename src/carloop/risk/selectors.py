"""Risk queries: blacklist checks, online features, decisions and the monitoring figures."""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from carloop.core import pii
from carloop.core.authz import ADMIN, FINANCE_OPS, OPS, RISK_ANALYST, Subject
from carloop.core.errors import NotFound
from carloop.core.timeutil import business_date
from carloop.risk import graph, monitoring
from carloop.risk.features import Fact
from carloop.risk.models import BlacklistEntry, CreditDecision, FeatureFact, FeatureRow, ModelVersion, PolicyRuleSet, ReviewCase

INTERNAL_ROLES = (OPS, RISK_ANALYST, FINANCE_OPS, ADMIN)
ANALYST_ROLES = (RISK_ANALYST, ADMIN)
BLACKLIST_KINDS = ("id_number", "phone", "device", "bank_card", "uscc")


def _active(now: datetime | None = None) -> Q:
    now = now or timezone.now()
    return Q(active=True) & (Q(expires_at__isnull=True) | Q(expires_at__gt=now))


def is_blacklisted_index(kind: str, value_index: str) -> bool:
    if not value_index:
        return False
    return BlacklistEntry.objects.filter(_active(), kind=kind, value_index=value_index).exists()


def blacklisted_indexes(pairs: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of the (kind, blind index) pairs are on an active blacklist entry, in one query."""
    pairs = [(k, i) for k, i in pairs if i]
    if not pairs:
        return set()
    match = Q()
    for kind, index in pairs:
        match |= Q(kind=kind, value_index=index)
    return set(BlacklistEntry.objects.filter(_active()).filter(match).values_list("kind", "value_index"))


def is_blacklisted(kind: str, value: str) -> bool:
    """Whether an ID number, phone, device id, bank card or USCC is on an active blacklist entry."""
    if kind not in BLACKLIST_KINDS or not value:
        return False
    return is_blacklisted_index(kind, pii.blind_index(kind, value))


def may_monitor(subject: Subject) -> bool:
    """Internal operators (ops, risk analysts, finance ops, admin) read decisions, the blacklist, rule sets, models
    and the monitoring, and ask for decisions."""
    return subject.kind == "operator" and subject.has_role(*INTERNAL_ROLES)


def may_review(subject: Subject) -> bool:
    """Ops, risk analysts and admin read the manual review queue."""
    return subject.kind == "operator" and subject.has_role(OPS, RISK_ANALYST, ADMIN)


def may_analyse(subject: Subject) -> bool:
    """Risk analysts (and admin) decide referrals, keep the blacklist, rule sets and models, and read a customer's
    features and the fraud rings."""
    return subject.kind == "operator" and subject.has_role(*ANALYST_ROLES)


def blacklist_readable_by(subject: Subject) -> QuerySet[BlacklistEntry]:
    return BlacklistEntry.objects.all() if may_monitor(subject) else BlacklistEntry.objects.none()


def decisions_readable_by(subject: Subject) -> QuerySet[CreditDecision]:
    return CreditDecision.objects.all() if may_monitor(subject) else CreditDecision.objects.none()


def reviews_readable_by(subject: Subject) -> QuerySet[ReviewCase]:
    return ReviewCase.objects.select_related("decision") if may_review(subject) else ReviewCase.objects.none()


def rulesets_readable_by(subject: Subject) -> QuerySet[PolicyRuleSet]:
    return PolicyRuleSet.objects.all() if may_monitor(subject) else PolicyRuleSet.objects.none()


def models_readable_by(subject: Subject) -> QuerySet[ModelVersion]:
    return ModelVersion.objects.all() if may_monitor(subject) else ModelVersion.objects.none()


# The lists behind the operators' endpoints: 403 for a caller who may not read them at all (one object outside a
# readable_by selector is a 404 instead).


def decision_log(subject: Subject) -> QuerySet[CreditDecision]:
    subject.require(may_monitor(subject))
    return decisions_readable_by(subject)


def blacklist_entries(subject: Subject) -> QuerySet[BlacklistEntry]:
    subject.require(may_monitor(subject))
    return blacklist_readable_by(subject)


def ruleset_versions(subject: Subject) -> QuerySet[PolicyRuleSet]:
    subject.require(may_monitor(subject))
    return rulesets_readable_by(subject)


def model_registry(subject: Subject) -> QuerySet[ModelVersion]:
    subject.require(may_monitor(subject))
    return models_readable_by(subject)


def review_queue(subject: Subject) -> QuerySet[ReviewCase]:
    subject.require(may_review(subject))
    return reviews_readable_by(subject)


BLACKLIST_STATES = ("active", "inactive", "all")  # inactive: removed or expired


def blacklist_search(subject: Subject, *, kind: str = "", state: str = "active", text: str = "",
                     identifier: str = "") -> QuerySet[BlacklistEntry]:
    """The blacklist screen's rows, newest first: by kind and state; ``text`` matches the reason, ``identifier``
    a full value exactly (its blind index, whatever its kind)."""
    rows = blacklist_entries(subject)
    if kind in BLACKLIST_KINDS:
        rows = rows.filter(kind=kind)
    if state == "active":
        rows = rows.filter(_active())
    elif state == "inactive":
        rows = rows.exclude(_active())
    if text.strip():
        rows = rows.filter(reason__icontains=text.strip())
    if identifier.strip():
        match = Q()
        for each in BLACKLIST_KINDS:
            match |= Q(kind=each, value_index=pii.blind_index(each, identifier))
        rows = rows.filter(match)
    return rows.order_by("-created_at")


def blacklist_check(subject: Subject, kind: str, value: str) -> bool:
    """:func:`is_blacklisted` for internal operators."""
    subject.require(may_monitor(subject))
    return is_blacklisted(kind, value)


def features_of(subject: Subject, customer_user_id: uuid.UUID | str) -> dict[str, Any]:
    """A customer's online features, for analysts; 404 when none were computed."""
    subject.require(may_analyse(subject))
    features = online_features(customer_user_id)
    if features is None:
        raise NotFound()
    return features


def fraud_rings(subject: Subject, min_customers: int = 3) -> list[graph.Ring]:
    """Connected components joining at least ``min_customers`` customers (two or more), for analysts."""
    subject.require(may_analyse(subject))
    return graph.rings(max(min_customers, 2))


def fraud_ring_graph(subject: Subject, component: uuid.UUID, max_nodes: int = 150) -> graph.RingGraph:
    """One ring's nodes and edges for drawing, for analysts."""
    subject.require(may_analyse(subject))
    return graph.ring_graph(component, max_nodes)


def monitoring_for(subject: Subject, days: int = 30) -> dict[str, Any]:
    """The monitoring figures over the last ``days`` (1–365), for internal operators."""
    subject.require(may_monitor(subject))
    return dashboard(min(max(days, 1), 365))


def online_features(customer_user_id: uuid.UUID | str) -> dict[str, Any] | None:
    """The customer's current features: one lookup on the unique (subject_kind, subject_id) index."""
    row = FeatureRow.objects.filter(subject_kind="customer", subject_id=customer_user_id).only("features").first()
    return dict(row.features) if row else None


def facts_of(customer_user_id: uuid.UUID | str, before: datetime | None = None) -> list[Fact]:
    rows = FeatureFact.objects.filter(subject_kind="customer", subject_id=customer_user_id)
    if before is not None:
        rows = rows.filter(occurred_at__lt=before)
    return [Fact(r.kind, r.occurred_at, r.amount_fen, r.data) for r in rows.order_by("occurred_at")]


def published_ruleset() -> PolicyRuleSet | None:
    return PolicyRuleSet.objects.filter(status=PolicyRuleSet.Status.PUBLISHED).order_by("-version").first()


def model_with_role(role: str) -> ModelVersion | None:
    return ModelVersion.objects.filter(role=role).order_by("-promoted_at", "-created_at").first()


def models_in_roles() -> dict[str, ModelVersion]:
    """The current champion and challenger (one query)."""
    out: dict[str, ModelVersion] = {}
    roles = (ModelVersion.Role.CHAMPION, ModelVersion.Role.CHALLENGER)
    for mv in ModelVersion.objects.filter(role__in=roles).order_by("-promoted_at", "-created_at"):
        out.setdefault(mv.role, mv)
    return out


def login_facts(customer_user_id: uuid.UUID | str, since: datetime, before: datetime) -> list[Fact]:
    rows = FeatureFact.objects.filter(
        subject_kind="customer", subject_id=customer_user_id, occurred_at__gte=since, occurred_at__lt=before, kind="login"
    )
    return [Fact(r.kind, r.occurred_at, r.amount_fen, r.data) for r in rows.order_by("occurred_at")]


def open_reviews_overdue(now: datetime | None = None) -> int:
    return ReviewCase.objects.filter(status=ReviewCase.Status.OPEN, due_at__lt=now or timezone.now()).count()


# --- monitoring ----------------------------------------------------------------------------------------------


def _baseline() -> tuple[str, dict[str, Any]]:
    from carloop.risk import platform_model

    champion = model_with_role(ModelVersion.Role.CHAMPION)
    if champion is not None and champion.baseline:
        return champion.version, champion.baseline
    return platform_model.BUILTIN_VERSION, platform_model.builtin().meta.get("baseline", {})


def dashboard(days: int = 30, today: date | None = None) -> dict[str, Any]:
    """Figures for the risk dashboard: daily volumes and approval rate, score distribution, PSI, vintages."""
    today = today or business_date()
    start = today - timedelta(days=days - 1)
    recent = CreditDecision.objects.filter(as_of__gte=start, as_of__lte=today)
    per_day: dict[str, dict[str, int]] = defaultdict(lambda: {"approve": 0, "decline": 0, "refer": 0})
    for row in recent.values("as_of", "outcome").annotate(n=Count("id")):
        per_day[row["as_of"].isoformat()][row["outcome"]] = row["n"]
    daily: list[dict[str, Any]] = []
    for i in range(days):
        d = (start + timedelta(days=i)).isoformat()
        counts = per_day.get(d, {"approve": 0, "decline": 0, "refer": 0})
        total = sum(counts.values())
        daily.append({"date": d, **counts, "total": total, "approval_rate": round(counts["approve"] / total, 4) if total else None})
    version, baseline = _baseline()
    edges = baseline.get("score_edges", monitoring.SCORE_BANDS)
    scores = list(recent.exclude(score__isnull=True).values_list("score", flat=True))
    actual = monitoring.band_counts(scores, edges)
    expected = baseline.get("score_counts") or [0] * len(actual)
    score_psi = monitoring.psi(expected, actual) if scores else None
    feature_psi = []
    contexts = list(recent.values_list("context", flat=True)[:5000])
    for name, spec in sorted(baseline.get("features", {}).items()):
        if spec.get("kind") != "numeric" or not contexts:
            continue
        values = [(c.get("features") or {}).get(name) for c in contexts]
        value = monitoring.psi(spec["counts"], monitoring.band_counts(values, spec["edges"]))
        feature_psi.append({"feature": name, "psi": round(value, 4), "level": monitoring.level(value)})
    feature_psi.sort(key=lambda r: -r["psi"])
    labels = ["<" + str(edges[0])] + [f"{a}-{b}" for a, b in itertools.pairwise(edges)] + [f"≥{edges[-1]}", "n/a"]
    vintages = []
    booked = CreditDecision.objects.filter(outcome="approve").exclude(bad_outcome__isnull=True)
    by_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for as_of, bad in booked.values_list("as_of", "bad_outcome"):
        key = as_of.strftime("%Y-%m")
        by_month[key][0] += 1
        by_month[key][1] += int(bool(bad))
    for month in sorted(by_month):
        loans, bads = by_month[month]
        vintages.append({"vintage": month, "loans": loans, "bad": bads, "bad_rate": round(bads / loans, 4) if loans else None})
    total = sum(int(d["total"] or 0) for d in daily)
    approved = sum(int(d["approve"] or 0) for d in daily)
    return {
        "days": days,
        "model_version": version,
        "decisions": total,
        "approval_rate": round(approved / total, 4) if total else None,
        "daily": daily,
        "score_bands": labels,
        "score_expected": expected,
        "score_actual": actual,
        "score_psi": None if score_psi is None else round(score_psi, 4),
        "score_psi_level": None if score_psi is None else monitoring.level(score_psi),
        "feature_psi": feature_psi,
        "psi_alert": monitoring.PSI_ALERT,
        "alerts": [f for f in feature_psi if f["level"] == "alert"]
        + ([{"feature": "score", "psi": round(score_psi, 4), "level": "alert"}] if score_psi and score_psi > monitoring.PSI_ALERT else []),
        "vintages": vintages,
        "open_reviews": ReviewCase.objects.filter(status=ReviewCase.Status.OPEN).count(),
        "overdue_reviews": open_reviews_overdue(),
    }
