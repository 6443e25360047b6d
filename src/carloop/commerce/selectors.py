"""Commerce queries. Every query for a caller starts from a ``*_readable_by(subject)`` selector (an object outside
it is a 404); the catalog extras (bundles, battery plans, swap stations, test-drive slots) are public."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

from django.core.cache import cache
from django.db.models import Count, F, Max, QuerySet, Sum
from django.db.models.functions import Coalesce

from carloop.commerce import cocreation_analysis as analysis
from carloop.commerce.models import (
    ORDER_REF_PREFIX,
    BatteryPlan,
    BatterySubscription,
    Bundle,
    Campaign,
    CampaignResponse,
    CarOrder,
    OrderState,
    SwapRecord,
    SwapStation,
    TestDriveBooking,
    TestDriveSlot,
    TradeInQuote,
)
from carloop.core import authz
from carloop.core.authz import Subject
from carloop.core.orders import OrderTerms
from carloop.core.timeutil import now, start_of_business_day


def orders_readable_by(subject: Subject) -> QuerySet[CarOrder]:
    """Buyers see their orders, operators all, store managers those delivered or serviced at their stores."""
    qs = CarOrder.objects.select_related("trim__series__brand")
    if subject.kind == "operator":
        return qs
    if subject.kind == "customer":
        return qs.filter(customer_id=subject.user_id)
    stores = subject.org_ids(authz.STORE_MANAGER)
    return qs.filter(delivery_store_id__in=stores) if stores else qs.none()


def get_order(subject: Subject, order_id: uuid.UUID) -> CarOrder | None:
    return orders_readable_by(subject).filter(pk=order_id).first()


def is_buyer(subject: Subject, order: CarOrder) -> bool:
    """The buyer acts on their order: cancels it, pays it."""
    return subject.kind == "customer" and order.customer_id == subject.user_id


def runs_orders(subject: Subject) -> bool:
    """Operations allocate, schedule, deliver and close any order."""
    return subject.has_role(authz.OPS)


def delivers(subject: Subject, order: CarOrder) -> bool:
    """Operations, or a manager of the store the order is delivered at, confirm the delivery."""
    return runs_orders(subject) or subject.in_org(order.delivery_store_id, authz.STORE_MANAGER)


def order_terms(order_ref: str) -> OrderTerms | None:
    """Price and balance due of the order behind ``order_ref`` (registered with ``core.orders`` for finance)."""
    try:
        order_id = uuid.UUID(order_ref.removeprefix(ORDER_REF_PREFIX))
    except ValueError:
        return None
    order = CarOrder.objects.filter(pk=order_id).first()
    if order is None:
        return None
    due = order.balance_due_fen if order.state == OrderState.DEPOSIT_PAID and not order.balance_loan_fen else 0
    return OrderTerms(customer_user_id=order.customer_id, price_fen=order.total_fen, balance_due_fen=due,
                      refunded=order.state == OrderState.REFUNDED)


def quotes_readable_by(subject: Subject) -> QuerySet[TradeInQuote]:
    """Customers see their trade-in quotes, operators all."""
    if subject.kind == "operator":
        return TradeInQuote.objects.all()
    if subject.kind == "customer":
        return TradeInQuote.objects.filter(customer_id=subject.user_id)
    return TradeInQuote.objects.none()


def open_quotes_of(subject: Subject) -> QuerySet[TradeInQuote]:
    """The caller's own quotes that an order can still use (none for staff)."""
    return quotes_readable_by(subject).filter(customer_id=subject.user_id, status=TradeInQuote.Status.OPEN)


def subscriptions_readable_by(subject: Subject) -> QuerySet[BatterySubscription]:
    """Customers see their battery subscriptions, operations all (the swap stations it runs record swaps)."""
    if subject.has_role(authz.OPS):
        return BatterySubscription.objects.all()
    if subject.kind == "customer":
        return BatterySubscription.objects.filter(customer_id=subject.user_id)
    return BatterySubscription.objects.none()


def swaps(subscription: BatterySubscription) -> QuerySet[SwapRecord]:
    return subscription.swaps.order_by("-swapped_at")


def bookings_readable_by(subject: Subject) -> QuerySet[TestDriveBooking]:
    """A test-drive booking is its customer's."""
    if subject.kind == "customer":
        return TestDriveBooking.objects.filter(customer_id=subject.user_id)
    return TestDriveBooking.objects.none()


def with_item_totals(qs: QuerySet[Bundle]) -> QuerySet[Bundle]:
    """Annotate ``items_total_fen``: what the bundle's items cost when bought separately."""
    return qs.annotate(items_total_fen=Coalesce(Sum(F("items__standalone_price_fen") * F("items__quantity")), 0))


def bundle_saving(bundle: Bundle) -> int:
    """Saving against buying the items separately (``bundle`` must come from :func:`with_item_totals`)."""
    return int(bundle.items_total_fen) - bundle.price_fen  # type: ignore[attr-defined]


def bundles_for_trim(trim_id: uuid.UUID) -> QuerySet[Bundle]:
    """The bundles on sale for a trim, cheapest first, with their items (public)."""
    return (with_item_totals(Bundle.objects.filter(trim_id=trim_id, is_active=True))
            .prefetch_related("items").order_by("price_fen"))


def battery_plans() -> QuerySet[BatteryPlan]:
    return BatteryPlan.objects.all()


def swap_stations(city: str = "") -> QuerySet[SwapStation]:
    qs = SwapStation.objects.order_by("city", "code")
    return qs.filter(city=city) if city else qs


def open_slots(series_id: uuid.UUID | None = None, store_id: uuid.UUID | None = None, *,
               store_ids: list[uuid.UUID] | None = None, on: date | None = None) -> QuerySet[TestDriveSlot]:
    """Upcoming slots, soonest first; ``store_ids`` (e.g. a city's stores) and ``on`` (a business day) narrow them."""
    qs = TestDriveSlot.objects.filter(starts_at__gt=now()).select_related("series", "store").order_by("starts_at")
    if series_id:
        qs = qs.filter(series_id=series_id)
    if store_id:
        qs = qs.filter(store_id=store_id)
    if store_ids is not None:
        qs = qs.filter(store_id__in=store_ids)
    if on is not None:
        start = start_of_business_day(on)
        qs = qs.filter(starts_at__gte=start, starts_at__lt=start + timedelta(days=1))
    return qs


def upcoming_bookings(subject: Subject) -> QuerySet[TestDriveBooking]:
    """The caller's booked test drives that have not started yet, soonest first."""
    return (bookings_readable_by(subject).filter(status=TestDriveBooking.Status.BOOKED, slot__starts_at__gt=now())
            .select_related("slot", "slot__series", "slot__store").order_by("slot__starts_at"))


def campaigns_readable_by(subject: Subject) -> QuerySet[Campaign]:
    """Manufacturer analysts see their own campaigns, operators all, customers the open ones."""
    if subject.kind == "operator":
        return Campaign.objects.all()
    own = subject.org_ids(authz.MANUFACTURER_ANALYST)
    if own:
        return Campaign.objects.filter(manufacturer_id__in=own)
    if subject.kind == "customer":
        return Campaign.objects.filter(status=Campaign.Status.OPEN)
    return Campaign.objects.none()


def runs_campaigns(subject: Subject) -> bool:
    """Operators and manufacturers' analysts run co-creation campaigns (each analyst their own manufacturer's)."""
    return subject.kind == "operator" or bool(subject.org_ids(authz.MANUFACTURER_ANALYST))


def runs_campaign(subject: Subject, campaign: Campaign) -> bool:
    """Operators and the owning manufacturer's analysts read the report and close the campaign."""
    return subject.kind == "operator" or subject.in_org(campaign.manufacturer_id, authz.MANUFACTURER_ANALYST)


def reportable_campaign(subject: Subject, campaign_id: uuid.UUID) -> Campaign | None:
    """The campaign whose report the caller may read (None when it may not: the report is a 404 for everyone else)."""
    campaign = campaigns_readable_by(subject).filter(pk=campaign_id).first()
    return campaign if campaign is not None and runs_campaign(subject, campaign) else None


def own_answer(subject: Subject, campaign: Campaign) -> CampaignResponse | None:
    """The caller's answer to the campaign, if they gave one."""
    if subject.kind != "customer":
        return None
    return campaign.responses.filter(respondent_id=subject.user_id).first()


def _questions(campaign: Campaign) -> list[analysis.Question]:
    return [analysis.Question(q["key"], q["kind"], tuple(o["code"] for o in q.get("options", [])))
            for q in campaign.questions if not q.get("vw")]


REPORT_CACHE_SECONDS = 24 * 3600


def _campaign_version(campaign: Campaign) -> str:
    """Changes whenever the campaign or any answer does: answers added, edited or removed."""
    seen = campaign.responses.aggregate(n=Count("id"), last=Max("updated_at"))
    last = seen["last"].isoformat() if seen["last"] else "-"
    return f"{campaign.updated_at.isoformat()}:{seen['n']}:{last}"


def demand_report(campaign: Campaign) -> dict[str, Any]:
    """The demand analysis of a campaign, computed once per campaign version (``_campaign_version``) and cached:
    the analysis of a few hundred answers takes seconds, reading it back a few milliseconds."""
    key = f"commerce:cocreation:report:{campaign.pk}:{_campaign_version(campaign)}"
    report: dict[str, Any] | None = cache.get(key)
    if report is None:
        answers = list(campaign.responses.values_list("answers", flat=True))
        has_vw = any(q.get("vw") for q in campaign.questions)
        report = analysis.demand_report(_questions(campaign), answers,
                                        vw_keys=analysis.VanWestendorpKeys() if has_vw else None)
        cache.set(key, report, REPORT_CACHE_SECONDS)
    report = dict(report)
    report["campaign_id"] = str(campaign.pk)
    report["title"] = campaign.title
    report["title_zh"] = campaign.title_zh
    report["status"] = campaign.status
    return report


def report_rows(report: dict[str, Any]) -> list[list[Any]]:
    """Flat rows for the CSV export: only aggregates, suppressed cells left blank."""
    rows: list[list[Any]] = [["section", "question", "item", "count", "share", "ci_low", "ci_high", "value_fen"]]
    rows.append(["respondents", "", "", report["respondents"], "", "", "", ""])
    for key, block in report["questions"].items():
        if block["kind"] == "price":
            for stat in ("p25_fen", "median_fen", "p75_fen"):
                rows.append(["price_expectation", key, stat, "", "", "", "", block[stat]])
            continue
        for cell in block["options"]:
            rows.append(["share", key, cell["option"], cell["count"], cell["share"], cell["ci_low"], cell["ci_high"], ""])
    for key, pairs in report["co_occurrence"].items():
        for pair in pairs:
            rows.append(["co_occurrence", key, f"{pair['a']}+{pair['b']}", pair["count"], pair["share"], "", "", ""])
    points = report.get("price_points") or {}
    for name in ("pmc_fen", "opp_fen", "ipp_fen", "pme_fen"):
        if name in points:
            rows.append(["van_westendorp", "", name.removesuffix("_fen"), "", "", "", "", points[name]])
    for segment in (report.get("segments") or {}).get("segments", []):
        config = "; ".join(f"{k}={'/'.join(v) if isinstance(v, list) else v}" for k, v in segment["configuration"].items())
        rows.append(["segment", str(segment["segment"]), config, segment["size"], segment["share"], segment["ci_low"],
                     segment["ci_high"], segment["median_price_fen"]])
    return [[("" if v is None else v) for v in row] for row in rows]
