"""The cashier's pages: an intent's result page (it polls until the payment settles), the simulator provider's
scan-to-pay page (a QR code of its own address, and the button a phone would show), the finance-ops page,
merchant settlement statements (list, detail, CSV), payouts (batches: prepare, approve; a merchant's own) and the
reconciliation overview (clearing and settlement accounts against what is owed, the day's flows, the latest
provider reconciliation)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from urllib.parse import urlencode

import segno
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from carloop.core import payables
from carloop.core.errors import Problem
from carloop.core.i18n import t
from carloop.core.pages import denied
from carloop.core.timeutil import business_date
from carloop.identity.selectors import staff_names, subject_of
from carloop.payments import payouts, positions, selectors, services, settlement
from carloop.payments.bank_transfer import receiving_account
from carloop.payments.models import Payout, PayoutBatchState, PayoutState, SettlementStatement, StatementState
from carloop.payments.simulator import SIMULATOR


def _intent(request: HttpRequest, intent_id: uuid.UUID):  # type: ignore[no-untyped-def]
    try:
        return selectors.get_intent(subject_of(request), intent_id)
    except Problem:
        raise Http404 from None


def _message(request: HttpRequest, problem: Problem) -> None:
    details = "; ".join(t(e.zh, e.en) for e in problem.errors)
    messages.error(request, t(problem.zh, problem.en) + (f"（{details}）" if details else ""))


@login_required
def checkout(request: HttpRequest) -> HttpResponse:
    """Open (or reopen) the intent for a payable and show the split: internal tenders, then one external method."""
    subject = subject_of(request)
    try:
        intent = services.create_intent(kind=request.GET.get("kind", ""), ref=request.GET.get("ref", ""), subject=subject,
                                        actor=subject.ref)
    except Problem as problem:
        if problem.status == 404:
            raise Http404 from None
        if problem.status in (401, 403):
            return denied(request, problem)
        return render(request, "payments/problem.html", {"problem": problem}, status=problem.status)
    if intent.state != "created":
        return redirect("payments:intent", intent_id=intent.pk)
    return render(request, "payments/checkout.html", {
        "intent": intent, "tenders": [payables.tender_source(k) for k in payables.INTERNAL_TENDERS if payables.tender_source(k)],
        "bank_transfer": intent.payer_org_id is not None})


@login_required
@require_http_methods(["POST"])
def pay(request: HttpRequest, intent_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    intent = _intent(request, intent_id)
    raw = [{"kind": kind, "amount": request.POST.get(f"amount_{kind}", "").strip(),
            "instrument": request.POST.get(f"instrument_{kind}", "")}
           for kind in payables.INTERNAL_TENDERS if request.POST.get(f"amount_{kind}", "").strip()]
    try:
        tenders = services.parse_tenders(raw)
        intent = services.confirm(intent_id=intent.pk, subject=subject, tenders=tenders,
                                  method=request.POST.get("method", "simulator"), actor=subject.ref)
    except Problem as problem:
        if problem.status == 404:
            raise Http404 from None
        _message(request, problem)
        return redirect(f"{reverse('payments:checkout')}?{urlencode({'kind': intent.kind, 'ref': intent.ref})}")
    external = selectors.external_tender(intent)
    if external is not None and external.pay_url and intent.is_open:
        return redirect(f"{external.pay_url}?{urlencode({'return': reverse('payments:intent', args=[intent.pk])})}")
    return redirect("payments:intent", intent_id=intent.pk)


@login_required
def intent_page(request: HttpRequest, intent_id: uuid.UUID) -> HttpResponse:
    intent = _intent(request, intent_id)
    return render(request, "payments/intent.html", {"intent": intent, "external": selectors.external_tender(intent),
                                                    "receiving_account": receiving_account()})


@login_required
def intent_status(request: HttpRequest, intent_id: uuid.UUID) -> HttpResponse:
    """The result fragment the intent page polls (htmx) while the payment is open."""
    intent = _intent(request, intent_id)
    return render(request, "payments/_status.html", {"intent": intent})


@require_http_methods(["GET", "POST"])
def simulator_pay(request: HttpRequest, order_no: str) -> HttpResponse:
    """The provider's page: anyone holding the (unguessable) order number may pay it, as with a real QR code."""
    order = selectors.simulator_order(order_no)
    if order is None:
        raise Http404
    if request.method == "POST":
        SIMULATOR.pay(order_no)
        order.refresh_from_db()
    qr = segno.make(request.build_absolute_uri(request.path), error="m").svg_inline(scale=5, dark="#1f2937")
    back = request.GET.get("return", "")
    back = back if back.startswith("/") and not back.startswith("//") else ""
    return render(request, "payments/sim_pay.html", {"order": order, "qr": qr, "back": back})


@login_required
def ops(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    if not selectors.may_operate(subject):
        return redirect("web:home")
    intents = selectors.readable_by(subject).order_by("-created_at")[:50]
    lines = selectors.bank_lines_readable_by(subject).order_by("-value_date")[:50]
    return render(request, "payments/ops.html", {"intents": intents, "lines": lines,
                                                 "runs": selectors.reconciliation_runs(subject)[:14],
                                                 "clearing": selectors.clearing_balances()})


# ------------------------------------------------------------------------------------------ settlement

SETTLEMENT_PAGE = 20


@login_required
def settlement_list(request: HttpRequest) -> HttpResponse:
    """Settlement statements (a merchant's staff: their own), filtered by state and merchant, 20 a page; finance
    operations also see the contracts and run settlement."""
    subject = subject_of(request)
    if request.method == "POST":
        try:
            made = settlement.run_settlement(subject, run_date=business_date())
            messages.success(request, t(f"已生成 {len(made)} 份结算单", f"{len(made)} statement(s) made"))
        except Problem as problem:
            _message(request, problem)
        return redirect("payments:settlement")
    qs = selectors.statements_readable_by(subject).order_by("-period_end", "pk")
    state, merchant = request.GET.get("state", ""), request.GET.get("merchant", "")
    if state in StatementState.values:
        qs = qs.filter(state=state)
    contracts = list(selectors.contracts_readable_by(subject).order_by("created_at"))
    if merchant in {str(c.merchant_id) for c in contracts}:
        qs = qs.filter(merchant_id=uuid.UUID(merchant))
    page = Paginator(qs, SETTLEMENT_PAGE).get_page(request.GET.get("page"))
    names = selectors.merchant_names({c.merchant_id for c in contracts} | {s.merchant_id for s in page.object_list})
    return render(request, "payments/settlement.html", {
        "page": page, "names": names, "contracts": contracts, "states": StatementState.choices, "state": state,
        "merchant": merchant, "runs_settlement": selectors.may_operate(subject)})


@login_required
def settlement_detail(request: HttpRequest, statement_id: uuid.UUID) -> HttpResponse:
    statement = _statement(request, statement_id)
    return render(request, "payments/settlement_detail.html", {
        "statement": statement, "merchant": selectors.merchant_names({statement.merchant_id})[statement.merchant_id],
        "lines": statement.lines.order_by("occurred_at", "pk")})


@login_required
def settlement_csv(request: HttpRequest, statement_id: uuid.UUID) -> HttpResponse:
    return settlement.statement_csv(_statement(request, statement_id))


def _statement(request: HttpRequest, statement_id: uuid.UUID) -> SettlementStatement:
    try:
        return selectors.get_statement(subject_of(request), statement_id)
    except Problem:
        raise Http404 from None


# --------------------------------------------------------------------------------------------- payouts


@login_required
@require_http_methods(["GET", "POST"])
def payouts_list(request: HttpRequest) -> HttpResponse:
    """Payout batches for operations (filtered by state, 20 a page; finance operations prepare one here) and the
    payouts the viewer may read (a merchant's staff: their own)."""
    subject = subject_of(request)
    if request.method == "POST":
        try:
            key = request.POST.get("key", "")[:64]
            batch = payouts.prepare(subject, key=f"page:{key}" if key else None)
        except Problem as problem:
            _message(request, problem)
            return redirect("payments:payouts")
        return redirect("payments:payout_batch", batch_id=batch.pk)
    state = request.GET.get("state", "")
    batches = selectors.batches_readable_by(subject).order_by("-created_at")
    if state in PayoutBatchState.values:
        batches = batches.filter(state=state)
    page = Paginator(batches, SETTLEMENT_PAGE).get_page(request.GET.get("page"))
    mine = _named(list(selectors.payouts_readable_by(subject).order_by("-created_at")[:SETTLEMENT_PAGE]))
    people = staff_names([b.prepared_by_id for b in page.object_list]
                         + [b.approved_by_id for b in page.object_list if b.approved_by_id])
    for batch in page.object_list:
        batch.prepared_by_name, batch.approved_by_name = people.get(batch.prepared_by_id), people.get(batch.approved_by_id)
    return render(request, "payments/payouts.html", {
        "page": page, "state": state, "states": PayoutBatchState.choices, "operator": selectors.reads_batches(subject),
        "may_prepare": selectors.may_operate(subject), "key": uuid.uuid4().hex, "payouts": mine})


def _named(rows: list[Payout]) -> list[Payout]:
    """The payouts with their merchant's name (``merchant_name``) for the page."""
    names = selectors.merchant_names({p.merchant_id for p in rows})
    for payout in rows:
        payout.merchant_name = names.get(payout.merchant_id, "")  # type: ignore[attr-defined]
    return rows


@login_required
@require_http_methods(["GET", "POST"])
def payout_batch(request: HttpRequest, batch_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    try:
        batch = selectors.get_batch(subject, batch_id)
    except Problem:
        raise Http404 from None
    if request.method == "POST":
        try:
            if request.POST.get("action") == "reject":
                payouts.reject(subject, batch_id=batch.pk, reason=request.POST.get("reason", ""))
                messages.success(request, t("已退回，结算单恢复为待付款", "Sent back: its statements await payout again"))
            else:
                payouts.approve(subject, batch_id=batch.pk)
                messages.success(request, t("已审批，付款已发出", "Approved: the payouts are on their way"))
        except Problem as problem:
            _message(request, problem)
        return redirect("payments:payout_batch", batch_id=batch.pk)
    rows = _named(list(batch.payouts.order_by("merchant_id").prefetch_related("statements")))
    people = staff_names([u for u in (batch.prepared_by_id, batch.approved_by_id) if u])
    return render(request, "payments/payout_batch.html", {
        "batch": batch, "payouts": rows, "prepared_by": people.get(batch.prepared_by_id, ""),
        "approved_by": people.get(batch.approved_by_id, "") if batch.approved_by_id else "",
        "prepared": batch.state == PayoutBatchState.PREPARED, "may_approve": selectors.may_approve(subject, batch),
        "may_reject": selectors.may_operate(subject),
        "failed": PayoutState.FAILED})


@login_required
def reconciliation(request: HttpRequest) -> HttpResponse:
    """Finance operations' reconciliation overview for a business day (``?day=YYYY-MM-DD``, default today)."""
    today = business_date()
    try:
        day = min(date.fromisoformat(request.GET.get("day", "")), today)
    except ValueError:
        day = today
    try:
        view = positions.overview(subject_of(request), day)
    except Problem as problem:
        return denied(request, problem)
    return render(request, "payments/reconciliation.html", {
        "o": view, "day": day, "previous": day - timedelta(days=1), "next": day + timedelta(days=1) if day < today else None})
