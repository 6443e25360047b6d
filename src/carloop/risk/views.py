"""Risk pages for operators: the monitoring dashboard, the manual review queue, a decision and the ring report."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from carloop.core import labels
from carloop.core.authz import Subject
from carloop.core.errors import FieldError, Invalid, Problem
from carloop.core.i18n import t
from carloop.core.money import parse_yuan
from carloop.core.pages import denied
from carloop.core.timeutil import business_date, start_of_business_day
from carloop.identity import selectors as identity_q
from carloop.identity.selectors import subject_of
from carloop.risk import graph, ruleform, selectors, services
from carloop.risk.contracts import BLACKLIST_SOURCES
from carloop.risk.models import ReviewCase


def _operator(request: HttpRequest, may: Callable[[Subject], bool] = selectors.may_monitor) -> Subject | HttpResponse:
    """The caller, if the risk selectors' predicate ``may`` lets them use the page; else the login or a 403 page."""
    subject = subject_of(request)
    if not subject.is_authenticated:
        return redirect(f"/login/?next={request.path}")
    if not may(subject):
        return denied(request)
    return subject


def dashboard(request: HttpRequest) -> HttpResponse:
    subject = _operator(request)
    if isinstance(subject, HttpResponse):
        return subject
    data = selectors.monitoring_for(subject, 30)
    charts = {
        "dates": [d["date"][5:] for d in data["daily"]],
        "approve": [d["approve"] for d in data["daily"]],
        "decline": [d["decline"] for d in data["daily"]],
        "refer": [d["refer"] for d in data["daily"]],
        "approval_rate": [None if d["approval_rate"] is None else round(100 * d["approval_rate"], 1) for d in data["daily"]],
        "bands": data["score_bands"],
        "expected": _shares(data["score_expected"]),
        "actual": _shares(data["score_actual"]),
        "vintages": [v["vintage"] for v in data["vintages"]],
        "bad_rates": [round(100 * v["bad_rate"], 2) if v["bad_rate"] is not None else None for v in data["vintages"]],
    }
    return render(request, "risk/dashboard.html", {"data": data, "charts": charts})


def _shares(counts: list[int]) -> list[float]:  # float-ok: chart percentages
    total = sum(counts) or 1
    return [round(100 * c / total, 2) for c in counts]


REVIEW_SORTS = {"sla": ("due_at",), "newest": ("-created_at",), "amount": ("-decision__amount_fen", "due_at"),
                "amount_asc": ("decision__amount_fen", "due_at")}  # fmt: skip
REVIEWS_PER_PAGE = 20


def _review_item(review: ReviewCase, now: datetime, applicants: dict[str, str]) -> dict[str, Any]:
    d = review.decision
    described = {r["code"]: r for r in d.reasons}
    return {
        "review": review, "decision": d, "applicant": applicants.get(str(d.customer_user_id), "—"),
        "hits": [described.get(code) or {"code": code, "zh": "", "en": ""} for code in d.rule_hits],
        "minutes_left": int((review.due_at - now).total_seconds() // 60) if review.status == "open" else None,
    }  # fmt: skip


def reviews(request: HttpRequest) -> HttpResponse:
    """The manual review queue: filter by status, product, rule hit and SLA; sort; one page of rows at a time."""
    subject = _operator(request, selectors.may_review)
    if isinstance(subject, HttpResponse):
        return subject
    status = request.GET.get("status", "open")
    status = status if status in ReviewCase.Status.values else "open"
    sort = request.GET.get("sort", "sla")
    sort = sort if sort in REVIEW_SORTS else "sla"
    rows = selectors.reviews_readable_by(subject).filter(status=status)
    products = sorted(set(rows.values_list("decision__product_kind", flat=True)))
    rules = sorted({code for hits in rows.values_list("decision__rule_hits", flat=True)[:2000] for code in hits})
    product, rule, overdue = request.GET.get("product", ""), request.GET.get("rule", ""), request.GET.get("sla") == "overdue"
    if product:
        rows = rows.filter(decision__product_kind=product)
    if rule:
        rows = rows.filter(decision__rule_hits__icontains=json.dumps(rule))
    now = timezone.now()
    if overdue and status == "open":
        rows = rows.filter(due_at__lt=now)
    page = Paginator(rows.order_by(*REVIEW_SORTS[sort]), REVIEWS_PER_PAGE).get_page(request.GET.get("page"))
    applicants = identity_q.customers_masked(r.decision.customer_user_id for r in page)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "risk/reviews.html", {
        "items": [_review_item(r, now, applicants) for r in page], "page": page, "query": query.urlencode(),
        "status": status, "sort": sort, "product": product, "rule": rule, "overdue": overdue,
        "statuses": ReviewCase.Status.choices, "products": products, "rules": rules,
    })  # fmt: skip


def review(request: HttpRequest, review_id: uuid.UUID) -> HttpResponse:
    """One referred application with everything needed to decide it, and the decision form."""
    subject = _operator(request, selectors.may_review)
    if isinstance(subject, HttpResponse):
        return subject
    found = selectors.reviews_readable_by(subject).filter(pk=review_id).first()
    if found is None:
        raise Http404
    return render(request, "risk/review.html", _review_context(subject, found))


def _review_context(subject: Subject, found: ReviewCase) -> dict[str, Any]:
    d = found.decision
    item = _review_item(found, timezone.now(), identity_q.customers_masked([d.customer_user_id]))
    return {**item, "features": sorted((d.context.get("features") or {}).items()),
            "signals": sorted((d.context.get("signals") or {}).items()), "tiers": services.TIER_NAMES,
            "can_decide": found.status == "open" and selectors.may_analyse(subject)}  # fmt: skip


@require_POST
def decide_review(request: HttpRequest, review_id: uuid.UUID) -> HttpResponse:
    """Approve or decline in two steps: the first post shows what will be recorded, the confirmed one records it."""
    subject = _operator(request, selectors.may_analyse)
    if isinstance(subject, HttpResponse):
        return subject
    found = selectors.reviews_readable_by(subject).filter(pk=review_id).first()
    if found is None:
        raise Http404
    outcome = request.POST.get("outcome", "")
    form = {"outcome": outcome, "approved_amount": request.POST.get("approved_amount", "").strip(),
            "price_tier": request.POST.get("price_tier", ""), "note": request.POST.get("note", "").strip()}  # fmt: skip
    try:
        amount = parse_yuan(form["approved_amount"], field="approved_amount") if form["approved_amount"] else None
        if request.POST.get("confirmed") != "yes":
            terms = services.checked_review_terms(found, outcome, amount, form["price_tier"] or None)
            context = {**_review_context(subject, found), "confirm": form, "confirm_amount_fen": terms[0], "confirm_tier": terms[1]}
            return render(request, "risk/review.html", context)
        services.decide_review_for(subject, found.pk, outcome=outcome, approved_amount_fen=amount,
                                   price_tier=form["price_tier"] or None, note=form["note"])  # fmt: skip
    except Problem as problem:
        messages.error(request, t(problem.zh, problem.en))
        return redirect("risk:review", review_id=found.pk)
    messages.success(request, t("审核结论已记录", "Review decision recorded"))
    return redirect("risk:reviews")


def decision(request: HttpRequest, decision_id: uuid.UUID) -> HttpResponse:
    subject = _operator(request)
    if isinstance(subject, HttpResponse):
        return subject
    d = selectors.decisions_readable_by(subject).filter(pk=decision_id).first()
    if d is None:
        raise Http404
    context: dict[str, Any] = {"d": d, "features": sorted((d.context.get("features") or {}).items()),
                               "signals": sorted((d.context.get("signals") or {}).items())}  # fmt: skip
    return render(request, "risk/decision.html", context)


def rings(request: HttpRequest) -> HttpResponse:
    subject = _operator(request, selectors.may_analyse)
    if isinstance(subject, HttpResponse):
        return subject
    rings = selectors.fraud_rings(subject, 3)
    drawn = {ring.component: selectors.fraud_ring_graph(subject, ring.component) for ring in rings[:RINGS_DRAWN]}
    names = identity_q.customers_masked(str(n["customer"]) for g in drawn.values() for n in g.nodes if n["kind"] == "customer")
    graphs = {}
    for component, g in drawn.items():
        nodes = [{"data": {"id": n["id"], "kind": n["kind"], "blacklisted": n["blacklisted"],
                           "label": names.get(str(n.get("customer")), "—") if n["kind"] == "customer" else n["label"] or "—"}}
                 for n in g.nodes]  # fmt: skip
        edges = [{"data": {"id": f"{a}-{b}", "source": a, "target": b}} for a, b in g.edges]
        graphs[str(component)] = {"elements": nodes + edges, "truncated": g.truncated}
    kinds = {kind: labels.label("risk.graph_kind", kind) for kind in ("customer", *graph.ENTITY_KINDS)}
    return render(request, "risk/rings.html", {"rings": rings, "graphs": graphs, "kinds": kinds})


BLACKLIST_PER_PAGE = 25


def blacklist(request: HttpRequest) -> HttpResponse:
    """The blacklist: filter by kind, state and reason; look an identifier up (posted, so that a full phone or ID
    number never appears in a URL or an access log); analysts add and remove entries."""
    subject = _operator(request)
    if isinstance(subject, HttpResponse):
        return subject
    can_edit = selectors.may_analyse(subject)
    form = {"kind": "phone", "value": "", "reason": "", "source": "manual", "expires_on": ""}
    identifier = request.POST.get("identifier", "") if request.method == "POST" else ""
    if request.method == "POST" and not identifier:
        form = {key: request.POST.get(key, default).strip() for key, default in form.items()}
        try:
            expires = _end_of_day(form["expires_on"])
            entry = services.add_to_blacklist_for(subject, kind=form["kind"], value=form["value"], reason=form["reason"],
                                                  source=form["source"] if form["source"] in BLACKLIST_SOURCES else "manual",
                                                  expires_at=expires)
            messages.success(request, t(f"已加入黑名单：{entry.value_masked}", f"Blacklisted: {entry.value_masked}"))
            return redirect("risk:blacklist")
        except Problem as problem:
            if problem.status == 403:
                return denied(request)
            details = "; ".join(t(e.zh, e.en) for e in problem.errors)
            messages.error(request, t(problem.zh, problem.en) + (f" — {details}" if details else ""))
    kind, state, text = request.GET.get("kind", ""), request.GET.get("state", "active"), request.GET.get("q", "")
    state = state if state in selectors.BLACKLIST_STATES else "active"
    rows = selectors.blacklist_search(subject, kind=kind, state=state, text=text, identifier=identifier)
    page = Paginator(rows, BLACKLIST_PER_PAGE).get_page(request.GET.get("page"))
    now = timezone.now()
    names = identity_q.actor_names(e.created_by for e in page)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "risk/blacklist.html", {
        "entries": [{"entry": e, "by": names.get(e.created_by, ""),
                     "live": e.active and (e.expires_at is None or e.expires_at > now)} for e in page],
        "page": page, "query": query.urlencode(), "kind": kind, "state": state, "text": text, "can_edit": can_edit,
        "looked_up": bool(identifier),
        "kinds": selectors.BLACKLIST_KINDS, "states": selectors.BLACKLIST_STATES, "sources": BLACKLIST_SOURCES, "form": form,
    })  # fmt: skip


def _end_of_day(text: str) -> datetime | None:
    """An expiry date typed on the form: the entry lapses at the end of that day (Asia/Shanghai)."""
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Invalid("invalid-expiry", "到期日期无效", "Invalid expiry date",
                      [FieldError("/expires_on", "请使用 YYYY-MM-DD", "Use YYYY-MM-DD")]) from None
    if day < business_date():
        raise Invalid("invalid-expiry", "到期日期不能早于今天", "The expiry date cannot be in the past",
                      [FieldError("/expires_on", "不能早于今天", "Not before today")])
    return start_of_business_day(day + timedelta(days=1))


@require_POST
def blacklist_remove(request: HttpRequest, entry_id: uuid.UUID) -> HttpResponse:
    subject = _operator(request, selectors.may_analyse)
    if isinstance(subject, HttpResponse):
        return subject
    try:
        entry = services.remove_from_blacklist_for(subject, entry_id)
    except Problem as problem:
        if problem.status == 404:
            raise Http404 from None
        raise
    messages.success(request, t(f"已移出黑名单：{entry.value_masked}", f"Removed from the blacklist: {entry.value_masked}"))
    return redirect("risk:blacklist")


RINGS_DRAWN = 10  # the largest rings are drawn; the rest are listed


def rules(request: HttpRequest) -> HttpResponse:
    """Rule set versions; analysts edit the latest version rule by rule (or as JSON), save it as a new draft, run
    it over past decisions, then publish it. Add and remove re-render the posted rows without saving."""
    subject = _operator(request)
    if isinstance(subject, HttpResponse):
        return subject
    can_edit = selectors.may_analyse(subject)
    if request.method == "POST" and not can_edit:
        return denied(request)
    services.ensure_default_ruleset()
    latest = selectors.rulesets_readable_by(subject).order_by("-version").first()
    rows = ruleform.rows_of(latest.rules if latest else [])
    draft_text = json.dumps(latest.rules if latest else [], ensure_ascii=False, indent=1)
    note = request.POST.get("note", "")
    if request.method == "POST" and "rules" in request.POST:
        draft_text = request.POST["rules"]
        try:
            return _saved(request, subject, json.loads(draft_text), note)
        except json.JSONDecodeError as exc:
            messages.error(request, t(f"JSON 格式错误：{exc}", f"Invalid JSON: {exc}"))
        except Problem as problem:
            details = "; ".join(f"{e.pointer}: {t(e.zh, e.en)}" for e in problem.errors)
            messages.error(request, t(problem.zh, problem.en) + (f" — {details}" if details else ""))
    elif request.method == "POST":
        rows = ruleform.rows_from_post(request.POST)
        if "add-rule" in request.POST and request.POST.get("add") in ruleform.TYPES:
            rows.append(ruleform.blank(request.POST["add"]))
        elif request.POST.get("remove", "").isdigit():
            del rows[int(request.POST["remove"]) : int(request.POST["remove"]) + 1]
        else:
            built = ruleform.rules_of(rows)
            try:
                if not ruleform.has_errors(rows):
                    return _saved(request, subject, built, note)
            except Problem as problem:
                ruleform.mark(rows, problem.errors)
            messages.error(request, t("规则有误，请修改标出的字段。", "Some rules are invalid: correct the marked fields."))
    what_if = request.session.pop("risk_what_if", None)
    what_if_rows = [(*key.split("->"), n) for key, n in (what_if or {}).get("transitions", {}).items()]
    return render(request, "risk/rules.html", {"rulesets": selectors.rulesets_readable_by(subject)[:20], "draft_text": draft_text,
                                               "can_edit": can_edit, "what_if": what_if, "what_if_rows": what_if_rows, "rows": ruleform.for_page(rows), "note": note,
                                               "latest": latest, "options": ruleform.options()})  # fmt: skip


def _saved(request: HttpRequest, subject: Subject, rules: Any, note: str) -> HttpResponse:
    rs = services.create_ruleset_for(subject, rules=rules, note=note)
    messages.success(request, t(f"已保存草稿 v{rs.version}", f"Draft v{rs.version} saved"))
    return redirect("risk:rules")


@require_POST
def ruleset_action(request: HttpRequest, ruleset_id: uuid.UUID, action: str) -> HttpResponse:
    subject = _operator(request, selectors.may_analyse)
    if isinstance(subject, HttpResponse):
        return subject
    rs = selectors.rulesets_readable_by(subject).filter(pk=ruleset_id).first()
    if rs is None or action not in ("what-if", "publish"):
        raise Http404
    try:
        if action == "what-if":
            request.session["risk_what_if"] = services.what_if_for(subject, rs.pk)
        else:
            services.publish_ruleset_for(subject, rs.pk)
            messages.success(request, t(f"规则集 v{rs.version} 已发布", f"Rule set v{rs.version} published"))
    except Problem as problem:
        messages.error(request, t(problem.zh, problem.en))
    return redirect("risk:rules")
