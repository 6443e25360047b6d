"""Published decision DTOs: what a credit decision needs and what it returns.

Finance (and later wallet and credit lines) build a ``DecisionRequest`` and call
``carloop.risk.services.decide``; nothing else of risk is imported by them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal

from carloop.core import labels

Outcome = Literal["approve", "decline", "refer"]
PRODUCT_KINDS: dict[str, tuple[str, str]] = {
    "purchase_installment": ("购车分期", "Purchase instalment"),
    "car_secured": ("车抵贷", "Car-secured loan"),
    "trade_in": ("置换金融", "Trade-in finance"),
    "credit_line": ("授信额度", "Credit line"),
    "cash_loan": ("现金贷", "Cash loan"),
}
labels.register("risk.product_kind", PRODUCT_KINDS)
labels.register("risk.outcome", {"approve": ("通过", "Approve"), "decline": ("拒绝", "Decline"), "refer": ("转人工", "Refer")})
BLACKLIST_SOURCES: dict[str, tuple[str, str]] = {
    "manual": ("人工添加", "Added by hand"), "fraud_ring": ("欺诈团伙", "Fraud ring"), "court": ("法院失信名单", "Court list"),
    "partner": ("合作方共享", "Shared by a partner"), "wallet": ("e 卡风控", "Wallet risk"),
}  # fmt: skip
labels.register("risk.blacklist_source", BLACKLIST_SOURCES)
labels.register("risk.graph_kind", {
    "customer": ("客户", "Customer"), "phone": ("手机号", "Phone"), "id_number": ("身份证号", "ID number"),
    "device": ("设备", "Device"), "bank_card": ("银行卡", "Bank card"), "address": ("地址", "Address"),
})  # fmt: skip
labels.register("risk.psi_level", {"ok": ("稳定", "Stable"), "warn": ("关注", "Watch"), "alert": ("告警", "Alert")})


@dataclass(frozen=True)
class DecisionRequest:
    """One credit application as risk sees it. Amounts in fen."""

    application_ref: str  # caller's id, e.g. "finance:application:<uuid>"
    product_kind: str  # purchase_installment | car_secured | trade_in | credit_line | cash_loan | ...
    customer_user_id: str
    amount_fen: int
    term_months: int
    as_of: date
    product_limits: dict[str, Any] = field(default_factory=dict)  # min/max amount, max_ltv, ...
    collateral_value_fen: int | None = None  # for LTV
    monthly_income_fen: int | None = None  # declared, for debt-to-income
    device_id: str | None = None
    ip: str | None = None
    city: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Reason:
    code: str
    zh: str
    en: str


@dataclass(frozen=True)
class DecisionResult:
    decision_id: str
    outcome: Outcome
    approved_amount_fen: int | None
    price_tier: str | None  # e.g. "A".."E"; finance maps it to a rate from the product's rate table
    score: int | None
    reasons: list[Reason]
    rule_hits: list[str]
    model_version: str | None
    latency_ms: float  # float-ok: a duration, not money
