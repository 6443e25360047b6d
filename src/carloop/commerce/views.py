"""Commerce pages: browse and compare, configurator with live price, orders, garage with trade-in, test drives,
co-creation questionnaire and the manufacturer's demand report."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import date
from decimal import ROUND_FLOOR, Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST

from carloop.commerce import api as commerce_api
from carloop.commerce import selectors, services
from carloop.commerce.models import Campaign, CarOrder, OrderState
from carloop.core import labels
from carloop.core.errors import NotFound, Problem
from carloop.core.i18n import current, t
from carloop.core.money import format_cny, parse_yuan, yuan_str
from carloop.core.pages import denied
from carloop.core.timeutil import business_date
from carloop.finance import selectors as finance_q
from carloop.identity import selectors as identity_q
from carloop.identity.selectors import subject_of
from carloop.vehicles import selectors as vehicles_q
from carloop.vehicles import services as vehicles
from carloop.vehicles.contracts import POWERTRAINS, TrimInfo

COMPARE_MAX = 4
View = Callable[..., HttpResponse]


def _message(request: HttpRequest, problem: Problem) -> None:
    messages.error(request, problem_text(problem))


def problem_text(problem: Problem) -> str:
    """The problem in the page's language, with the field errors that say more than its title (said once)."""
    title = t(problem.zh, problem.en)
    details = "; ".join(dict.fromkeys(t(e.zh, e.en) for e in problem.errors if t(e.zh, e.en) != title))
    return title + (f"（{details}）" if details else "")


def guarded(redirect_to: Callable[..., str] | None = None) -> Callable[[View], View]:
    """404 problems become 404 pages, 401/403 a denial page; other problems are shown as a message."""
    def decorate(fn: View) -> View:
        @functools.wraps(fn)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            try:
                return fn(request, *args, **kwargs)
            except Problem as problem:
                if problem.status == 404:
                    raise Http404 from None
                if problem.status in (401, 403):
                    return denied(request, problem)
                _message(request, problem)
                return redirect(redirect_to(*args, **kwargs) if redirect_to else request.get_full_path())
        return wrapper
    return decorate


# ------------------------------------------------------------------------------------------- catalog


def catalog(request: HttpRequest) -> HttpResponse:
    brand = request.GET.get("brand", "")
    powertrain = request.GET.get("powertrain", "")
    swap_only = request.GET.get("swap") == "1"
    max_price = request.GET.get("max_price", "")
    text = " ".join(request.GET.get("q", "").split())[:100]
    max_fen = None
    if max_price:
        try:
            max_fen = parse_yuan(max_price, field="max_price")
        except Problem as problem:
            _message(request, problem)
    lang = current()

    def rows() -> str:
        trims = vehicles_q.catalog(brand=brand, powertrain=powertrain, swap_only=swap_only, max_price_fen=max_fen, q=text)
        return catalog_rows_html(trims, lang)

    rows_html = vehicles_q.cached_catalog(("catalog-rows", lang, brand, powertrain, swap_only, max_fen, text), rows)
    brands = vehicles_q.cached_catalog(("brands",), vehicles_q.brands)
    return render(request, "commerce/catalog.html", {
        "rows_html": mark_safe(rows_html), "brands": brands, "powertrains": list(POWERTRAINS),
        "filters": {"brand": brand, "powertrain": powertrain, "swap": swap_only, "max_price": max_price, "q": text},
        "compare_max": COMPARE_MAX,
    })


def catalog_rows_html(trims: list[TrimInfo], lang: str) -> str:
    """The listing's table rows, built directly (a template loop over 500 rows costs several times more)."""
    english = lang == "en"
    swap = format_html('<span class="badge">{}</span>', t("可换电", "Battery swap"))
    configure_label, base = t("配置", "Configure"), reverse("commerce:catalog")
    rows = []
    for trim in trims:
        name = (f"{trim.brand} {trim.series} {trim.model_year} {trim.name}" if english
                else f"{trim.brand_zh} {trim.series_zh} {trim.model_year}款 {trim.name_zh}")
        battery = f"{trim.battery_kwh} kWh / {trim.cltc_range_km} km" if trim.battery_kwh else "—"
        rows.append(format_html(
            '<tr><td><label><input type="checkbox" name="trim" value="{}"></label></td><td>{} {}</td><td>{}</td><td>{}</td>'
            '<td>{}</td><td>{}</td><td><a href="{}configure/{}/">{}</a></td></tr>',
            trim.id, name, swap if trim.battery_swap_capable else "", labels.label("vehicles.powertrain", trim.powertrain), battery, trim.seats,
            format_cny(trim.msrp_fen), base, trim.id, configure_label))
    if not rows:
        rows.append(format_html('<tr><td colspan="7" class="muted">{}</td></tr>', t("没有符合条件的车型", "No trims match")))
    return "\n".join(rows)


def compare(request: HttpRequest) -> HttpResponse:
    ids = []
    for raw in request.GET.getlist("trim")[:COMPARE_MAX]:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    found = vehicles_q.get_trims(ids)
    trims = [found[i] for i in ids if i in found and found[i].is_active]
    return render(request, "commerce/compare.html", {"trims": trims})


def _config_from(data: QueryDict, trim_id: uuid.UUID) -> dict[str, Any]:
    def as_uuid(value: str | None) -> uuid.UUID | None:
        try:
            return uuid.UUID(value) if value else None
        except ValueError:
            return None

    return {"trim_id": trim_id, "colour_code": data.get("colour_code", ""), "option_codes": data.getlist("option_codes"),
            "bundle_id": as_uuid(data.get("bundle_id")), "battery_mode": data.get("battery_mode", "owned"),
            "battery_plan_id": as_uuid(data.get("battery_plan_id"))}


def configure(request: HttpRequest, trim_id: uuid.UUID) -> HttpResponse:
    catalog = vehicles_q.trim_config(trim_id)
    if catalog is None or not catalog.trim.is_active:
        raise Http404
    trim, colours = catalog.trim, catalog.colours
    bundles = selectors.bundles_for_trim(trim.id)
    plans = [p for p in selectors.battery_plans() if trim.battery_kwh and p.min_kwh <= trim.battery_kwh <= p.max_kwh]
    config = _config_from(request.GET, trim.id)
    config["colour_code"] = config["colour_code"] or (colours[0].code if colours else "")
    context: dict[str, Any] = {
        "trim": trim, "colours": colours, "options": catalog.options,
        "bundles": [(b, selectors.bundle_saving(b)) for b in bundles], "plans": plans, "config": config,
        "quotes": selectors.open_quotes_of(subject_of(request)),
    }
    context.update(_price_context(config))
    return render(request, "commerce/configure.html", context)


def _price_context(config: dict[str, Any]) -> dict[str, Any]:
    try:
        return {"price": services.price(**config), "price_error": None}
    except Problem as problem:
        return {"price": None, "price_error": t(problem.zh, problem.en)}


def configure_price(request: HttpRequest, trim_id: uuid.UUID) -> HttpResponse:
    """htmx partial: the live price for the current form state."""
    return render(request, "commerce/_price.html", _price_context(_config_from(request.GET, trim_id)))


@require_POST
@login_required
@guarded(lambda trim_id: f"/commerce/configure/{trim_id}/")
def order_create(request: HttpRequest, trim_id: uuid.UUID) -> HttpResponse:
    quote = request.POST.get("trade_in_quote_id") or None
    order = services.create_order(subject_of(request), deposit_kind=request.POST.get("deposit_kind", "binding"),
                                  trade_in_quote_id=uuid.UUID(quote) if quote else None,
                                  **_config_from(request.POST, trim_id))
    messages.success(request, t("订单已创建，请支付定金", "Order placed; please pay the deposit"))
    return redirect("commerce:order", order_id=order.pk)


# -------------------------------------------------------------------------------------------- orders


@login_required
def orders(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    rows = selectors.orders_readable_by(subject).order_by("-created_at")[:100]
    return render(request, "commerce/orders.html", {"orders": rows, "is_ops": selectors.runs_orders(subject)})


@login_required
def order_detail(request: HttpRequest, order_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    order = selectors.get_order(subject, order_id)
    if order is None:
        raise Http404
    return render(request, "commerce/order.html", {
        "order": order, "is_owner": selectors.is_buyer(subject, order), "is_ops": selectors.runs_orders(subject),
        "is_store": selectors.delivers(subject, order), "states": OrderState,
        "stores": identity_q.organisations_of_kind("store")[:100], "today": business_date().isoformat(),
        "loan_apply_url": _loan_apply_url(order) if order.state == OrderState.DEPOSIT_PAID else "",
    })


def _loan_apply_url(order: CarOrder) -> str:
    """The finance application form, filled in for this order's balance: the largest loan the product's down
    payment rule allows; its disbursement pays the balance and the buyer pays the rest."""
    product = next((p for p in finance_q.current_products() if p.kind == "purchase_installment"), None)
    if product is None:
        return ""
    dealers = identity_q.organisations_of_kind("dealer")
    most_yuan = (Decimal(order.total_fen) * (1 - product.min_down_payment) / 100).to_integral_value(ROUND_FLOOR)
    most_fen = int(most_yuan) * 100
    query = {"product": product.code, "order_ref": order.ref, "amount": yuan_str(min(order.balance_due_fen, most_fen)),
             "term": str(max(product.terms)),
             "car_price": yuan_str(order.total_fen), "merchant": str(dealers[0].id) if dealers else ""}
    return f"{reverse('finance:apply')}?{urlencode(query)}"


ACTIONS: dict[str, Callable[..., CarOrder]] = {
    "cancel": lambda s, o, p: services.cancel(s, order_id=o),
    "allocate": lambda s, o, p: services.allocate_vehicle(s, order_id=o),
    "schedule": lambda s, o, p: services.schedule_delivery(
        s, order_id=o, store_id=uuid.UUID(p["store_id"]), delivery_date=date.fromisoformat(p["delivery_date"])),
    "deliver": lambda s, o, p: services.deliver(s, order_id=o),
    "seller_default": lambda s, o, p: services.seller_cannot_deliver(
        s, order_id=o, reason=p.get("reason") or "seller cannot deliver"),
}


@require_POST
@login_required
@guarded(lambda order_id, action: f"/commerce/orders/{order_id}/")
def order_action(request: HttpRequest, order_id: uuid.UUID, action: str) -> HttpResponse:
    if action not in ACTIONS:
        raise NotFound()
    try:
        ACTIONS[action](subject_of(request), order_id, request.POST)
    except (KeyError, ValueError):
        messages.error(request, t("请完整填写表单", "Please fill in the form"))
        return redirect("commerce:order", order_id=order_id)
    messages.success(request, t("操作成功", "Done"))
    return redirect("commerce:order", order_id=order_id)


# -------------------------------------------------------------------------------------------- garage


@login_required
@guarded()
def garage(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    if request.method == "POST":
        form = request.POST
        registered = date.fromisoformat(form["registration_date"]) if form.get("registration_date") else None
        vehicles.add_to_garage(subject, vin=form.get("vin", ""), plate=form.get("plate", ""), registration_date=registered,
                               brand_name=form.get("brand_name", ""), model_name=form.get("model_name", ""),
                               powertrain=form.get("powertrain", ""), reference_price=form.get("reference_price") or None,
                               odometer_km=int(form["odometer_km"]) if form.get("odometer_km", "").isdigit() else None)
        messages.success(request, t("车辆已加入车库", "Vehicle added"))
        return redirect("commerce:garage")
    cars = []
    for v in vehicles_q.garage(subject.user_id) if subject.user_id else []:
        try:
            valuation = vehicles.value(v.id)
        except Problem:
            valuation = None
        cars.append({"vehicle": v, "valuation": valuation, "history": vehicles_q.odometer_history(v.id)})
    quotes = selectors.quotes_readable_by(subject).filter(customer_id=subject.user_id).order_by("-created_at")[:20]
    return render(request, "commerce/garage.html", {"cars": cars, "quotes": quotes, "powertrains": list(POWERTRAINS)})


@require_POST
@login_required
@guarded(lambda vehicle_id, action: "/commerce/garage/")
def garage_action(request: HttpRequest, vehicle_id: uuid.UUID, action: str) -> HttpResponse:
    subject = subject_of(request)
    if subject.user_id is None or vehicles_q.get_owned_vehicle(subject.user_id, vehicle_id) is None:
        raise NotFound()
    if action == "odometer":
        km = request.POST.get("km", "")
        if not km.isdigit():
            messages.error(request, t("请输入里程（公里）", "Enter the odometer in km"))
            return redirect("commerce:garage")
        vehicles.record_odometer(vehicle_id=vehicle_id, km=int(km), owner_user_id=vehicles_q.user_id_of(subject),
                                 meter_replaced=request.POST.get("meter_replaced") == "1")
    elif action == "trade-in":
        quote = services.quote_trade_in(subject, vehicle_id=vehicle_id)
        messages.success(request, t(f"置换报价有效期至 {quote.valid_until}", f"Trade-in quote valid until {quote.valid_until}"))
    else:
        raise NotFound()
    return redirect("commerce:garage")


# --------------------------------------------------------------------------------------- test drives


SLOTS_PER_PAGE = 20


@guarded()
def test_drives(request: HttpRequest) -> HttpResponse:
    """Upcoming slots filtered by city, day and series, a page at a time; the owner's bookings with cancel."""
    subject = subject_of(request)
    if request.method == "POST":
        if not subject.is_authenticated:
            return redirect(f"/login/?next={request.path}")
        services.book_test_drive(subject, slot_id=uuid.UUID(request.POST["slot_id"]))
        messages.success(request, t("试驾预约成功", "Test drive booked"))
        return redirect(request.get_full_path())
    params = request.GET
    try:
        series_id = uuid.UUID(params["series"]) if params.get("series") else None
    except ValueError:
        series_id = None
    try:
        on = date.fromisoformat(params["date"]) if params.get("date") else None
    except ValueError:
        on = None
    stores = identity_q.organisations_of_kind("store")
    cities = sorted({s.city for s in stores if s.city})
    city = params.get("city", "")
    store_ids = [s.id for s in stores if s.city == city] if city in cities else None
    slots = Paginator(selectors.open_slots(series_id, store_ids=store_ids, on=on), SLOTS_PER_PAGE)
    page = slots.get_page(params.get("page"))
    query = {k: v for k, v in {"city": city if store_ids is not None else "", "date": on.isoformat() if on else "",
                               "series": str(series_id) if series_id else ""}.items() if v}
    return render(request, "commerce/test_drives.html", {
        "page": page, "cities": cities, "filters": query, "query": urlencode(query),
        "bookings": selectors.upcoming_bookings(subject) if subject.kind == "customer" else []})


@require_POST
@login_required
@guarded(lambda booking_id: "/commerce/test-drives/")
def test_drive_cancel(request: HttpRequest, booking_id: uuid.UUID) -> HttpResponse:
    services.cancel_test_drive(subject_of(request), booking_id=booking_id)
    messages.success(request, t("试驾预约已取消", "Test drive cancelled"))
    return redirect("commerce:test_drives")


# --------------------------------------------------------------------------------------- co-creation


def campaigns(request: HttpRequest) -> HttpResponse:
    subject = subject_of(request)
    rows = selectors.campaigns_readable_by(subject).order_by("-created_at")[:50]
    return render(request, "commerce/campaigns.html", {
        "campaigns": rows, "is_manufacturer": selectors.runs_campaigns(subject)})


@login_required
@guarded()
def questionnaire(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    subject = subject_of(request)
    campaign = selectors.campaigns_readable_by(subject).filter(pk=campaign_id).first()
    if campaign is None:
        raise NotFound()
    existing = selectors.own_answer(subject, campaign)
    error, error_key = "", ""
    if request.method == "POST":
        answers: dict[str, Any] = {}
        for q in campaign.questions:
            answers[q["key"]] = request.POST.getlist(q["key"]) if q["kind"] == "multi" else request.POST.get(q["key"], "")
        try:
            services.answer_campaign(subject, campaign_id=campaign.pk, answers=answers)
        except Problem as problem:
            if problem.status != 422:
                raise
            # Shown once, beside the question it is about, with what the person typed kept in the form.
            error = problem_text(problem)
            pointer = problem.errors[0].pointer if problem.errors else ""
            error_key = pointer.rsplit("/", 1)[-1]
            previous = answers
        else:
            messages.success(request, t("感谢参与！截止前可随时修改。", "Thank you! You can edit your answer until the campaign closes."))
            return redirect("commerce:questionnaire", campaign_id=campaign.pk)
    else:
        previous = dict(existing.answers) if existing else {}
        for key, value in previous.items():
            if key == "price" or key.startswith("vw_"):
                previous[key] = str(int(value) // 100)
    keys = {q["key"] for q in campaign.questions}
    questions = [{**q, "previous": previous.get(q["key"], [] if q["kind"] == "multi" else ""),
                  "error": error if q["key"] == error_key else ""} for q in campaign.questions]
    return render(request, "commerce/questionnaire.html", {
        "campaign": campaign, "questions": questions, "previous": existing is not None,
        "error": error if error_key not in keys else ""}, status=422 if error else 200)


def _pct(value: float | None) -> str:  # float-ok: shares, not money
    return "" if value is None else f"{value * 100:.1f}%"


def _report_view(campaign: Campaign, data: dict[str, Any]) -> dict[str, Any]:
    """Labels and percentages resolved for the template (aggregates only)."""
    labels = {q["key"]: {o["code"]: t(o["zh"], o["en"]) for o in q.get("options", [])} for q in campaign.questions}
    titles = {q["key"]: t(q["zh"], q["en"]) for q in campaign.questions}
    tables: list[dict[str, Any]] = []
    for key, block in data["questions"].items():
        if block["kind"] == "price":
            continue
        tables.append({"title": titles[key], "rows": [
            {"label": labels[key][c["option"]], "suppressed": c["suppressed"], "count": c["count"], "share": _pct(c["share"]),
             "ci": f"{_pct(c['ci_low'])}–{_pct(c['ci_high'])}" if not c["suppressed"] else ""} for c in block["options"]]})
    pairs = [{"label": f"{labels[key][p['a']]} + {labels[key][p['b']]}", "count": p["count"], "lift": p["lift"]}
             for key, rows in data["co_occurrence"].items() for p in rows if not p["suppressed"]]
    segments = []
    for seg in (data.get("segments") or {}).get("segments", []):
        parts = []
        for key, value in seg["configuration"].items():
            shown = "、".join(labels[key][v] for v in value) if isinstance(value, list) else labels[key].get(value, "—")
            parts.append(f"{titles[key]}：{shown or '—'}")
        segments.append({"segment": seg["segment"], "share": _pct(seg["share"]),
                         "ci": f"{_pct(seg['ci_low'])}–{_pct(seg['ci_high'])}", "config": "；".join(parts),
                         "median_price_fen": seg["median_price_fen"]})
    chart: dict[str, Any] = {"curves": data["price_curves"], "bars": [
        {"title": table["title"], "labels": [r["label"] for r in table["rows"] if not r["suppressed"]],
         "shares": [c["share"] for c in block["options"] if not c["suppressed"]]}
        for table, block in zip(tables, [b for b in data["questions"].values() if b["kind"] != "price"], strict=True)]}
    return {"tables": tables, "pairs": pairs, "segments": segments, "chart": chart}


@login_required
def report(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    campaign = selectors.reportable_campaign(subject_of(request), campaign_id)
    if campaign is None:
        raise Http404
    data = selectors.demand_report(campaign)
    return render(request, "commerce/report.html", {"campaign": campaign, "report": data, **_report_view(campaign, data)})


@login_required
def report_csv(request: HttpRequest, campaign_id: uuid.UUID) -> HttpResponse:
    campaign = selectors.reportable_campaign(subject_of(request), campaign_id)
    if campaign is None:
        raise Http404
    return commerce_api.csv_response(campaign)
