"""Behavioural features computed from facts as of a point in time.

The same function serves online reads (as of now, stored in ``FeatureRow`` after every new fact) and
training snapshots (as of each decision date), so that no feature ever sees data from after the decision
and online and offline values cannot drift apart. Money features are whole yuan (integers).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Fact:
    kind: str
    occurred_at: datetime
    amount_fen: int | None = None
    data: dict[str, Any] = field(default_factory=dict)


# name -> (zh, en) label; also the reason-code wording of the platform scorecard.
FEATURE_LABELS: dict[str, tuple[str, str]] = {
    "age": ("年龄", "Age"),
    "tenure_days": ("注册时长（天）", "Days since sign-up"),
    "orders_90d": ("近 90 天订单数", "Orders in the last 90 days"),
    "orders_365d": ("近一年订单数", "Orders in the last year"),
    "order_amount_365d_yuan": ("近一年消费金额（元）", "Spending in the last year (yuan)"),
    "avg_basket_yuan": ("平均客单价（元）", "Average basket (yuan)"),
    "return_rate_365d": ("近一年退货率（%）", "Return rate in the last year (%)"),
    "on_time_ratio": ("按时还款比例（%）", "Repayments on time (%)"),
    "max_dpd_365d": ("近一年最长逾期天数", "Longest days past due in the last year"),
    "loans_active": ("在贷笔数", "Active loans"),
    "card_spend_90d_yuan": ("近 90 天 e 卡消费（元）", "E-card spending in 90 days (yuan)"),
    "services_365d": ("近一年保养次数", "Maintenance visits in the last year"),
    "vehicle_value_yuan": ("车辆估值（元）", "Vehicle value (yuan)"),
    "devices_30d": ("近 30 天登录设备数", "Devices used in 30 days"),
    "login_cities_90d": ("近 90 天登录城市数", "Login cities in 90 days"),
    "amount_yuan": ("申请金额（元）", "Amount applied for (yuan)"),
    "term_months": ("申请期限（月）", "Term applied for (months)"),
    "dti_pct": ("月供收入比（%）", "Payment to income (%)"),
}

BEHAVIOUR_FEATURES = [
    "tenure_days", "orders_90d", "orders_365d", "order_amount_365d_yuan", "avg_basket_yuan", "return_rate_365d",
    "on_time_ratio", "max_dpd_365d", "loans_active", "card_spend_90d_yuan", "services_365d", "vehicle_value_yuan",
    "devices_30d", "login_cities_90d",
]  # fmt: skip
APPLICATION_FEATURES = ["age", "amount_yuan", "term_months", "dti_pct"]
MODEL_FEATURES = ["age", *BEHAVIOUR_FEATURES, "amount_yuan", "term_months", "dti_pct"]


def compute(facts: Iterable[Fact], as_of: datetime, signed_up_at: datetime | None = None) -> dict[str, Any]:
    """Features from the facts strictly before ``as_of``; ``None`` where there is no evidence (thin file)."""
    d30, d90, d365 = as_of - timedelta(days=30), as_of - timedelta(days=90), as_of - timedelta(days=365)
    orders_90 = orders_365 = returns_365 = 0
    order_fen_365 = card_fen_90 = 0
    services_365 = 0
    repayments = on_time = 0
    max_dpd: int | None = None
    disbursed: set[str] = set()
    settled: set[str] = set()
    vehicle_value_fen: int | None = None
    vehicle_at: datetime | None = None
    devices: set[str] = set()
    cities: set[str] = set()
    first_seen: datetime | None = signed_up_at
    for f in facts:
        at = f.occurred_at
        if at >= as_of:
            continue
        first_seen = at if first_seen is None or at < first_seen else first_seen
        if f.kind == "order" and at >= d365:
            orders_365 += 1
            order_fen_365 += f.amount_fen or 0
            if at >= d90:
                orders_90 += 1
        elif f.kind == "order_return" and at >= d365:
            returns_365 += 1
        elif f.kind == "repayment":
            repayments += 1
            dpd = int(f.data.get("dpd", 0) or 0)
            on_time += dpd == 0
            if at >= d365:
                max_dpd = dpd if max_dpd is None else max(max_dpd, dpd)
            if f.data.get("settled") and f.data.get("loan"):
                settled.add(str(f.data["loan"]))
        elif f.kind == "disbursal" and f.data.get("loan"):
            disbursed.add(str(f.data["loan"]))
        elif f.kind == "card_spend" and at >= d90:
            card_fen_90 += f.amount_fen or 0
        elif f.kind == "service" and at >= d365:
            services_365 += 1
        elif f.kind == "vehicle_value" and (vehicle_at is None or at > vehicle_at):
            vehicle_value_fen, vehicle_at = f.amount_fen, at
        elif f.kind == "login":
            if at >= d30 and f.data.get("device"):
                devices.add(str(f.data["device"]))
            if at >= d90 and f.data.get("city"):
                cities.add(str(f.data["city"]))
    if max_dpd is None and repayments:
        max_dpd = 0
    return {
        "tenure_days": (as_of - first_seen).days if first_seen else None,
        "orders_90d": orders_90,
        "orders_365d": orders_365,
        "order_amount_365d_yuan": order_fen_365 // 100,
        "avg_basket_yuan": (order_fen_365 // orders_365) // 100 if orders_365 else None,
        "return_rate_365d": (100 * returns_365) // orders_365 if orders_365 else None,
        "on_time_ratio": (100 * on_time) // repayments if repayments else None,
        "max_dpd_365d": max_dpd,
        "loans_active": len(disbursed - settled),
        "card_spend_90d_yuan": card_fen_90 // 100,
        "services_365d": services_365,
        "vehicle_value_yuan": vehicle_value_fen // 100 if vehicle_value_fen is not None else None,
        "devices_30d": len(devices),
        "login_cities_90d": len(cities),
    }


def usual_cities(facts: Iterable[Fact], before: datetime, days: int = 90, top: int = 3) -> list[str]:
    """The most frequent login cities in ``days`` before ``before``."""
    start = before - timedelta(days=days)
    counts = Counter(str(f.data["city"]) for f in facts if f.kind == "login" and start <= f.occurred_at < before and f.data.get("city"))
    return [c for c, _ in counts.most_common(top)]
