"""Finance pages: calculator, apply, offer and e-signature, my loans with repayment, the printable contract,
the operators' queue / loan book / delinquency, and the partner portfolio with its daily statement."""

from __future__ import annotations

import csv
import uuid
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from carloop.core import payables
from carloop.core.errors import FieldError, Invalid, Problem
from carloop.core.i18n import t
from carloop.core.labels import label
from carloop.core.money import parse_yuan, yuan_str
from carloop.core.pages import denied
from carloop.core.timeutil import business_date
from carloop.finance import selectors, services
from carloop.finance.models import Application, CollectionNote, Loan
from carloop.finance.quotes import build_quote, parse_quote_request
from carloop.identity import selectors as identity
from carloop.identity.selectors import subject_of


def _problem(request: HttpRequest, problem: Problem) -> None:
    details = "; ".join(t(e.zh, e.en) for e in problem.errors)
    messages.error(request, t(problem.zh, problem.en) + (f"（{details}）" if details else ""))


def _guard(fn: Any) -> Any:
    """A 404 problem is a 404 page; anything else re-renders with the message."""
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return fn(request, *args, **kwargs)  # type: ignore[no-any-return]
        except Problem as problem:
            if problem.status == 404:
                raise Http404 from None
            if problem.status in (401, 403):
                return denied(request, problem)
            raise
    wrapper.__name__ = fn.__name__
    return wrapper


def index(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    if subject.kind == "operator":
        return redirect("finance:ops")
    partners = sorted(p.id for p in selectors.partners_readable_by(subject))
    if partners:
        return redirect("finance:partner", org_id=partners[0])
    context: dict[str, Any] = {"products": selectors.current_products()}
    if subject.kind == "customer":
        context["applications"] = selectors.applications_readable_by(subject)[:20]
        context["loans"] = selectors.loans_readable_by(subject)[:20]
    return render(request, "finance/index.html", context)


def _fraction(percent: str | None, field: str, zh: str, en: str) -> str | None:
    """A rate typed as a percentage ("6", "5.99 %") as the decimal fraction the quote takes ("0.06")."""
    text = (percent or "").strip().removesuffix("%").strip()
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value < 0:
        raise Invalid("invalid-quote", "报价参数无效", "Invalid quote input",
                      errors=[FieldError(f"/{field}", zh, en)])
    return str(value / 100)


def calculator(request: HttpRequest) -> HttpResponse:
    params = request.GET
    context: dict[str, Any] = {"params": params}
    if "principal" in params:
        try:
            annual = _fraction(params.get("annual_rate"), "annual_rate", "年利率请填百分数，例如 6 表示 6%",
                               "Enter the annual rate as a percentage, e.g. 6 for 6 %")
            fee = _fraction(params.get("monthly_fee_rate"), "monthly_fee_rate", "月费率请填百分数，例如 0.45 表示 0.45%",
                            "Enter the monthly fee rate as a percentage, e.g. 0.45 for 0.45 %")
            quote = build_quote(parse_quote_request(
                principal=params.get("principal"), annual_rate=annual,
                term=params.get("term"), method=params.get("method"),
                monthly_fee_rate=fee, start=params.get("start") or None,
                product=params.get("product") or None, today=business_date()))
            apr, effective = quote.apr_pair()
            context |= {"quote": quote, "rows": quote.rows(), "apr": apr, "apr_effective": effective}
        except Problem as problem:
            context["error"] = problem
    template = "finance/_quote.html" if request.headers.get("HX-Request") else "finance/calculator.html"
    return render(request, template, context)


@login_required
@_guard
@require_http_methods(["GET", "POST"])
def apply(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    products = selectors.current_products()
    code = request.POST.get("product") or request.GET.get("product") or (products[0].code if products else "")
    product = next((p for p in products if p.code == code), None)
    facts = identity.customer_facts(subject.user_id) if subject.user_id else None
    garage: list[Any] = []
    if subject.user_id:
        from carloop.vehicles import selectors as vehicles

        garage = vehicles.garage(subject.user_id)
    dealers = identity.organisations_of_kind("dealer")
    if request.method == "POST":
        form = request.POST
        try:
            if not form.get("monthly_income", "").strip():
                raise Invalid("income-required", "请填写月收入", "Enter your monthly income",
                              errors=[FieldError("/monthly_income", "请填写月收入（税后，元）", "Enter your monthly income (after tax, yuan)")])
            data = services.ApplicationInput(
                product=code, amount_fen=parse_yuan(form.get("amount", ""), field="amount"),
                monthly_income_fen=parse_yuan(form["monthly_income"], field="monthly_income"),
                term=int(form.get("term") or 0), consent=form.get("consent") == "on",
                order_ref=form.get("order_ref", "").strip(),
                merchant_org_id=uuid.UUID(form["merchant"]) if form.get("merchant") else None,
                car_price_fen=parse_yuan(form["car_price"], field="car_price") if form.get("car_price") else None,
                vehicle_id=uuid.UUID(form["vehicle"]) if form.get("vehicle") else None,
                ip=request.META.get("REMOTE_ADDR", ""),
            )
            app = services.apply(subject, data)
            return redirect("finance:application", application_id=app.pk)
        except Problem as problem:
            if problem.status in (401, 403, 404):
                raise
            _problem(request, problem)
    form = request.POST if request.method == "POST" else request.GET
    return render(request, "finance/apply.html", {"products": products, "product": product, "facts": facts,
                                                  "garage": garage, "dealers": dealers, "form": form,
                                                  "consent_text": t(*services.CONSENT),
                                                  **_preview(product, form.get("amount"), form.get("term"))})


def _preview(product: Any, amount: str | None, term: str | None) -> dict[str, Any]:
    """The monthly payment before applying: its range over the product's risk-tier rates (the offer fixes it)."""
    if product is None or not amount:
        return {"preview": None}
    try:
        amount_fen = parse_yuan(amount, field="amount")
        months = int(term) if term and term.isdigit() else product.terms[0]
        rates = sorted(Decimal(r) for r in product.rate_table.values()) or [Decimal(0)]
        first = [services.offer_schedule(product, amount_fen, months, rate, business_date()).payments[0]
                 for rate in (rates[0], rates[-1])]
    except Problem:
        return {"preview": None}
    return {"preview": {"low_fen": min(first), "high_fen": max(first), "term": months,
                        "low_rate": rates[0], "high_rate": rates[-1]}}


def apply_preview(request: HttpRequest) -> HttpResponse:
    """htmx partial of the application form: the monthly payment for the amount and term typed so far."""
    product = next((p for p in selectors.current_products() if p.code == request.GET.get("product")), None)
    return render(request, "finance/_preview.html", _preview(product, request.GET.get("amount"), request.GET.get("term")))


@login_required
@_guard
@require_http_methods(["GET", "POST"])
def application_detail(request: HttpRequest, application_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    app = selectors.get_application(subject, application_id)
    if request.method == "POST":
        try:
            if "review" in request.POST:
                services.review(subject, app.pk, request.POST["review"] == "approve", request.POST.get("note", ""))
                return redirect("finance:application", application_id=app.pk)
            loan = services.accept_offer(subject, app.pk, agree=request.POST.get("agree") == "on",
                                         ip=request.META.get("REMOTE_ADDR", ""),
                                         user_agent=request.headers.get("User-Agent", ""))
            messages.success(request, t("签约成功，贷款已发放", "Signed: the loan has been disbursed"))
            return redirect("finance:loan", loan_id=loan.pk)
        except Problem as problem:
            if problem.status in (401, 403, 404):
                raise
            _problem(request, problem)
    offer = None
    if app.offer_amount_fen and app.offer_term and app.offer_rate is not None:
        offer = services.offer_schedule(app.product, app.offer_amount_fen, app.offer_term, app.offer_rate, business_date())
    return render(request, "finance/application.html", {
        "app": app, "offer": offer, "rows": offer.rows() if offer else [], "is_owner": app.customer_id == subject.user_id,
        "may_review": selectors.reviews(subject) and app.state == Application.State.REFERRED,
        "decisions": app.decisions.order_by("created_at")})


@login_required
@_guard
@require_http_methods(["GET", "POST"])
def loan_detail(request: HttpRequest, loan_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    loan = selectors.get_loan(subject, loan_id)
    today = business_date()
    may_repay = selectors.repays(subject, loan)
    if request.method == "POST":
        try:
            action = request.POST.get("action")
            if action == "write_off":
                services.write_off(subject, loan.pk, request.POST.get("reason", ""), today)
            elif action == "pledge":
                services.set_pledge_status(subject, loan.pk, request.POST.get("status", ""))
            else:  # the borrower pays at the cashier; the loan is credited when the provider confirms the money
                pays_off = action == "payoff"
                amount = None if pays_off or action == "due" else parse_yuan(request.POST.get("amount", ""), field="amount")
                ref = services.ref_for(loan.pk, amount_fen=amount, option=request.POST.get("prepayment_option", ""),
                                       payoff=pays_off)
                return redirect(f"{reverse('payments:checkout')}?{urlencode({'kind': services.REPAYMENT_KIND, 'ref': ref})}")
            return redirect("finance:loan", loan_id=loan.pk)
        except Problem as problem:
            if problem.status in (401, 403, 404):
                raise
            _problem(request, problem)
    payoff = None
    if loan.state == Loan.State.ACTIVE and may_repay:
        payoff = services.payoff_quote(subject, loan.pk, today)
    rows = selectors.installments(loan)
    owes = loan.state in (Loan.State.ACTIVE, Loan.State.WRITTEN_OFF)  # an unwound or paid-off loan is owed nothing
    next_due = next((i for i in rows if i.owed_fen > 0), None) if owes else None
    return render(request, "finance/loan.html", {
        "loan": loan, "rows": rows, "payoff": payoff, "next_due": next_due, "owes": owes, "today": today,
        "may_repay": loan.customer_id == subject.user_id and loan.state == Loan.State.ACTIVE,  # the borrower pays
        "is_finance_ops": selectors.writes_off(subject), "is_ops": selectors.tracks_pledges(subject),
        "dpd": (today - loan.oldest_unpaid_due).days if loan.oldest_unpaid_due and loan.oldest_unpaid_due < today else 0,
    })


@login_required
@_guard
def offer_contract(request: HttpRequest, application_id: uuid.UUID) -> HttpResponse:
    """The contract the applicant is asked to sign: the offer's terms and schedule, unsigned."""
    subject = subject_of(request)
    app = selectors.get_application(subject, application_id)
    if not (app.offer_amount_fen and app.offer_term and app.offer_rate is not None):
        raise Http404
    product = app.product
    offer = services.offer_schedule(product, app.offer_amount_fen, app.offer_term, app.offer_rate, business_date())
    draft = SimpleNamespace(
        contract_no=t("（签约时生成）", "(assigned on signing)"), apr=app.offer_apr, apr_effective=app.offer_apr_effective,
        principal_fen=app.offer_amount_fen, term=app.offer_term, annual_rate=app.offer_rate, method=product.method,
        monthly_fee_rate=product.monthly_fee_rate, upfront_fee_fen=offer.upfront_fee_fen, penalty_rate=product.penalty_rate,
        start_date=None, signature=None, order_ref=app.order_ref)
    return render(request, "finance/contract.html", {
        "loan": draft, "rows": offer.rows(), "facts": identity.customer_facts(app.customer_id), "draft": True,
        "merchant": identity.get_organisation(app.merchant_id) if app.merchant_id else None, "product": product,
        "funding": selectors.planned_funding(product), "application": app})


@login_required
@_guard
def contract(request: HttpRequest, loan_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    loan = selectors.get_loan(subject, loan_id)
    facts = identity.customer_facts(loan.customer_id)
    merchant = identity.get_organisation(loan.merchant_id) if loan.merchant_id else None
    statement = (loan.signature or {}).get("statement", "")
    response = render(request, "finance/contract.html", {
        "loan": loan, "rows": selectors.installments(loan), "facts": facts, "merchant": merchant,
        "statement": t(*services.SIGNATURE_STATEMENT) if statement == " / ".join(services.SIGNATURE_STATEMENT) else statement,
        "product": loan.product, "funding": loan.funding.select_related("partner")})
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="{loan.contract_no}.html"'
    return response


@login_required
@_guard
def ops(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    subject.require(selectors.runs_operations(subject))
    loans = selectors.loans_readable_by(subject)
    return render(request, "finance/ops.html", {
        "queue": selectors.applications_readable_by(subject).filter(state=Application.State.REFERRED)[:100],
        "recent": selectors.applications_readable_by(subject)[:20],
        "book": selectors.loan_book(loans),
        "delinquent": loans.filter(state=Loan.State.ACTIVE).exclude(bucket="current").order_by("oldest_unpaid_due")[:100],
        "reconciliation": selectors.reconcile_funders(),
        "last_cob": selectors.cob_runs_readable_by(subject).first(),
    })


@login_required
def partners(request: HttpRequest) -> HttpResponse:
    """A partner's analyst goes straight to the portfolio; finance and risk staff choose a partner."""
    subject = subject_of(request)
    rows = selectors.partners_readable_by(subject)
    if not selectors.reads_every_partner(subject):
        if len(rows) == 1:
            return redirect("finance:partner", org_id=rows[0].id)
        if not rows:
            raise Http404
    return render(request, "finance/partners.html", {"partners": rows})


@login_required
@_guard
def partner(request: HttpRequest, org_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    selectors.readable_partner(subject, org_id)
    org = identity.get_organisation(org_id)
    try:
        day = date.fromisoformat(request.GET.get("day", ""))
    except ValueError:
        day = business_date() - timedelta(days=1)
    return render(request, "finance/partner.html", {
        "org": org, "portfolio": selectors.portfolio(org_id), "statement": selectors.daily_statement(org_id, day),
        "loans": selectors.loans_readable_by(subject).filter(funding__partner_id=org_id)[:50], "day": day})


COB_RUNS_PER_PAGE = 20


@login_required
@_guard
def cob_runs(request: HttpRequest) -> HttpResponse:
    """The recent close-of-business runs: state, chunks done and failed, loans processed, timing."""
    subject = subject_of(request)
    subject.require(selectors.runs_cob(subject))
    page = Paginator(selectors.cob_runs_readable_by(subject), COB_RUNS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "finance/cob_runs.html", {"page": page, "query": ""})


def _business_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Http404 from None


@login_required
@_guard
@require_http_methods(["GET", "POST"])
def cob_run(request: HttpRequest, day: str) -> HttpResponse:
    """One date's run with its failed chunks; finance operations rerun a failed or unfinished one after confirming."""
    subject = subject_of(request)
    run = selectors.get_cob_run(subject, _business_day(day))
    confirm = False
    if request.method == "POST":
        if request.POST.get("confirmed") != "yes":
            confirm = True
        else:
            failed_before = len(run.open_failures)
            run = services.rerun_cob(subject, run.business_date)
            if run.state == run.State.FINISHED:
                messages.success(request, t(f"已重跑：{failed_before} 个失败批次已处理，日终完成",
                                            f"Rerun done: {failed_before} failed chunk(s) worked, the day is closed"))
            else:
                messages.error(request, t(f"重跑后仍有 {len(run.open_failures)} 个批次失败",
                                          f"{len(run.open_failures)} chunk(s) still failed after the rerun"))
            return redirect("finance:cob_run", day=run.business_date.isoformat())
    return render(request, "finance/cob_run.html", {
        "run": run, "confirm": confirm,
        "may_rerun": selectors.runs_cob(subject) and run.state != run.State.FINISHED})


COLLECTIONS_PER_PAGE = 20
EXPORT_LIMIT = 10_000


def _collection_filters(request: HttpRequest) -> dict[str, str]:
    return {name: request.GET.get(name, "").strip() for name in ("bucket", "partner", "product", "sort")}


def _collection_rows(loans: Any) -> list[dict[str, Any]]:
    """The delinquent loans as operators see them: borrower by masked name and phone, funders by name, DPD."""
    loans = list(loans)
    today = business_date()
    borrowers = identity.customers_masked(loan.customer_id for loan in loans)
    funders = selectors.funders_of([loan.pk for loan in loans])
    names = {o.id: o.name for o in identity.organisations_of_kind("funding_partner")}
    platform = t("平台自营", "Platform")
    withheld = payables.cashier().last_withholdings(kind=services.REPAYMENT_KIND,
                                                    prefixes=[services.withhold_prefix(loan.pk) for loan in loans])
    return [{"loan": loan, "borrower": borrowers.get(str(loan.customer_id), "—"),
             "withholding": _withholding(withheld.get(services.withhold_prefix(loan.pk))),
             "funders": " / ".join(names.get(p, "—") if p else platform for p in funders.get(loan.pk, [])),
             "dpd": (today - loan.oldest_unpaid_due).days if loan.oldest_unpaid_due else 0} for loan in loans]


@login_required
@_guard
def collections(request: HttpRequest) -> HttpResponse:
    """The delinquent loans as a work queue: filter by DPD bucket, partner and product, sort, page, export."""
    subject = subject_of(request)
    subject.require(selectors.works_collections(subject))
    filters = _collection_filters(request)
    page = Paginator(selectors.delinquent_loans(subject, **filters), COLLECTIONS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "finance/collections.html", {
        "rows": _collection_rows(page), "page": page, "query": query.urlencode(), **filters,
        "buckets": selectors.DPD_BUCKETS, "partners": identity.organisations_of_kind("funding_partner"),
        "products": selectors.current_products()})


def _withholding(attempt: payables.WithholdingAttempt | None) -> dict[str, Any] | None:
    """The last withholding the COB asked for: its business date (the reference's last part), amount and state."""
    if attempt is None:
        return None
    return {"on": date.fromisoformat(attempt.ref.rsplit(":", 1)[-1]), "amount_fen": attempt.amount_fen, "state": attempt.state}


def _withholding_text(attempt: dict[str, Any] | None) -> str:
    if attempt is None:
        return ""
    return f"{attempt['on']:%Y-%m-%d} {yuan_str(attempt['amount_fen'])} {label('payments.paymentintent.state', attempt['state'])}"


@login_required
@_guard
def collections_export(request: HttpRequest) -> HttpResponse:
    """The filtered list as CSV for Excel (UTF-8 with a byte-order mark), headings in the page's language."""
    subject = subject_of(request)
    subject.require(selectors.works_collections(subject))
    rows = _collection_rows(selectors.delinquent_loans(subject, **_collection_filters(request))[:EXPORT_LIMIT])
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="collections-{business_date().isoformat()}.csv"'
    response.write("\ufeff")
    out = csv.writer(response)
    out.writerow([t("合同号", "Contract"), t("借款人", "Borrower"), t("产品", "Product"), t("资金方", "Funders"),
                  t("逾期分档", "DPD bucket"), t("逾期天数", "Days past due"), t("逾期金额（元）", "Overdue (yuan)"),
                  t("剩余本金（元）", "Outstanding principal (yuan)"), t("最早未还日", "Oldest unpaid due"),
                  t("最近代扣", "Last withholding"), t("最近催收", "Last contact"), t("最近结果", "Last outcome")])
    for row in rows:
        loan = row["loan"]
        out.writerow([loan.contract_no, row["borrower"], t(loan.product.name_zh, loan.product.name_en), row["funders"],
                      loan.bucket, row["dpd"], yuan_str(loan.overdue_fen), yuan_str(loan.outstanding_principal_fen),
                      loan.oldest_unpaid_due.isoformat() if loan.oldest_unpaid_due else "",
                      _withholding_text(row["withholding"]),
                      timezone.localtime(loan.last_contact_at).strftime("%Y-%m-%d %H:%M") if loan.last_contact_at else "",
                      label("finance.collectionnote.outcome", loan.last_outcome) if loan.last_outcome else ""])
    return response


@login_required
@_guard
@require_http_methods(["GET", "POST"])
def collection_case(request: HttpRequest, loan_id: uuid.UUID) -> HttpResponse:
    """One delinquent loan: what is overdue, the contacts so far, and a contact or promise to record (confirmed)."""
    subject = subject_of(request)
    loan = selectors.collection_case(subject, loan_id)
    form: Any = request.POST if request.method == "POST" else {}
    confirm = None
    if request.method == "POST":
        try:
            amount = parse_yuan(form["promised_amount"], field="promised_amount") if form.get("promised_amount") else None
            try:
                promised_on = date.fromisoformat(form["promised_on"]) if form.get("promised_on") else None
            except ValueError:
                raise Invalid("invalid-date", "日期无效", "Invalid date",
                              errors=[FieldError("/promised_on", "日期无效", "Invalid date")]) from None
            if form.get("confirmed") == "yes":
                services.record_collection_contact(
                    subject, loan.pk, channel=form.get("channel", ""), outcome=form.get("outcome", ""),
                    note=form.get("note", ""), promised_amount_fen=amount, promised_on=promised_on,
                    key=form.get("key", ""), today=business_date())
                messages.success(request, t("催收记录已保存", "The contact is recorded"))
                return redirect("finance:collection_case", loan_id=loan.pk)
            confirm = {"amount_fen": amount, "promised_on": promised_on}
        except Problem as problem:
            if problem.status in (401, 403, 404):
                raise
            _problem(request, problem)
    [row] = _collection_rows([loan])
    return render(request, "finance/collection_case.html", {
        **row, "confirm": confirm, "form": form, "key": form.get("key") or uuid.uuid4().hex,
        "overdue": [i for i in selectors.installments(loan) if i.status == i.Status.OVERDUE],
        "notes": loan.collection_notes.all()[:50], "channels": CollectionNote.Channel.choices,
        "outcomes": CollectionNote.Outcome.choices})
