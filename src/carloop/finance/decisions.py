"""Decision providers: the risk app's ``decide``, or finance's own rules-only provider.

``CARLOOP_DECISION_PROVIDER`` = ``"rules"`` or ``"risk"`` (the default). Both read the risk app's blacklist.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict
from datetime import date
from decimal import Decimal
from typing import Any

from django.conf import settings

from carloop.finance.amortization import add_months
from carloop.identity import selectors as identity
from carloop.risk import selectors as risk_q
from carloop.risk import services as risk
from carloop.risk.contracts import DecisionRequest, DecisionResult, Reason

MIN_AGE = 18
MAX_AGE_AT_MATURITY = 65
DEFAULT_TIER = "B"


def provider_name() -> str:
    configured = getattr(settings, "CARLOOP_DECISION_PROVIDER", None)
    return "rules" if configured == "rules" else "risk"


def decide(request: DecisionRequest, observed: dict[str, Any] | None = None) -> tuple[str, DecisionResult]:
    """(provider used, result); ``observed`` is what :func:`observe` captured for the rules provider."""
    if provider_name() == "risk":
        return "risk", risk.decide(request)
    return "rules", rules_decide(request, observed)


def observe(request: DecisionRequest) -> dict[str, Any]:
    """The facts the rules read besides the request, captured so a decision can be replayed exactly."""
    facts = identity.customer_facts(request.customer_user_id)
    return {
        "kyc_verified": bool(facts and facts.kyc_verified),
        "birth_date": facts.birth_date.isoformat() if facts and facts.birth_date else None,
        "blacklisted": bool(
            facts and risk_q.blacklisted_indexes([("id_number", facts.id_index or ""), ("phone", facts.phone_index or "")])
        ),
        "device_blacklisted": bool(request.device_id) and risk_q.is_blacklisted("device", request.device_id or ""),
    }


def rules_decide(request: DecisionRequest, observed: dict[str, Any] | None = None) -> DecisionResult:
    """KYC verified, age 18–65 at maturity, not blacklisted, amount and LTV within the product's limits.

    ``observed`` (from :func:`observe`, or a stored decision's record) replays a decision exactly.
    """
    started = time.perf_counter()
    seen = observed if observed is not None else observe(request)
    reasons: list[Reason] = []
    hits: list[str] = []
    limits = request.product_limits

    def fail(code: str, zh: str, en: str) -> None:
        hits.append(code)
        reasons.append(Reason(code, zh, en))

    birth = date.fromisoformat(seen["birth_date"]) if seen.get("birth_date") else None
    if not seen.get("kyc_verified"):
        fail("kyc_not_verified", "尚未完成实名认证", "Identity verification (KYC) is not complete")
    elif birth is None:
        fail("age_unknown", "无法确认年龄", "Age could not be established")
    else:
        maturity = add_months(request.as_of, request.term_months)
        if _age(birth, request.as_of) < MIN_AGE:
            fail("age_under_18", "申请人须年满 18 周岁", "Applicants must be at least 18")
        elif _age(birth, maturity) > MAX_AGE_AT_MATURITY:
            fail("age_at_maturity", "贷款到期时年龄不得超过 65 周岁", "Age at maturity must not exceed 65")
        if seen.get("blacklisted"):
            fail("blacklisted", "申请人未通过风险名单核查", "The applicant did not pass the watch-list check")
    if seen.get("device_blacklisted"):
        fail("device_blacklisted", "设备未通过风险核查", "The device did not pass the risk check")
    low, high = limits.get("min_amount_fen", 0), limits.get("max_amount_fen", request.amount_fen)
    if not low <= request.amount_fen <= high:
        fail("amount_out_of_range", "申请金额超出产品范围", "The amount is outside the product's range")
    max_ltv = Decimal(str(limits.get("max_ltv", "1")))
    collateral = request.collateral_value_fen
    if collateral is not None and (collateral <= 0 or Decimal(request.amount_fen) > max_ltv * collateral):
        fail("ltv_exceeded", f"贷款金额超过车辆价值的 {max_ltv:.0%}", f"The amount exceeds {max_ltv:.0%} of the car's value")
    outcome = "decline" if reasons else "approve"
    return DecisionResult(
        decision_id=str(uuid.uuid4()),
        outcome=outcome,  # type: ignore[arg-type]
        approved_amount_fen=request.amount_fen if outcome == "approve" else None,
        price_tier=DEFAULT_TIER if outcome == "approve" else None,
        score=None,
        reasons=reasons,
        rule_hits=hits,
        model_version="finance-rules-1",
        latency_ms=(time.perf_counter() - started) * 1000,  # float-ok: a duration
    )


def _age(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def request_from_record(record: dict[str, Any]) -> DecisionRequest:
    """Rebuild a stored ``DecisionRequest`` (the inverse of :func:`jsonable` for it)."""
    data = {k: v for k, v in record.items() if k in DecisionRequest.__dataclass_fields__}
    data["as_of"] = date.fromisoformat(data["as_of"])
    return DecisionRequest(**data)


def replay(stored_request: dict[str, Any], observed: dict[str, Any]) -> DecisionResult:
    """Re-run the rules provider on a stored request and the facts it observed then."""
    return rules_decide(request_from_record(stored_request), observed)


def jsonable(value: Any) -> Any:
    """Dataclass DTOs (request/result) as JSON for the decision record."""
    if hasattr(value, "__dataclass_fields__"):
        value = asdict(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, date | uuid.UUID | Decimal):
        return str(value)
    return value
