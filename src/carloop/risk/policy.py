"""Declarative policy rules: a versioned JSON document evaluated against a flat decision context.

A rule set is ``{"rules": [rule, ...]}`` where a rule is::

    {"code": "P_AGE_MIN", "action": "decline" | "refer",
     "when": <condition>, "zh": "申请人未满 18 周岁", "en": "Applicant is under 18"}

and a condition is either a comparison ``{"field": "age", "op": "lt", "value": 18}`` (``value`` may be
``{"ref": "product.max_ltv"}`` to compare against another context field) or ``{"all": [...]}`` /
``{"any": [...]}`` / ``{"not": {...}}``. Operators: lt le gt ge eq ne in not_in missing present.
A comparison whose field is missing from the context is false (use ``missing`` to act on absence).
Numbers compare as ``Decimal``; a float never enters the evaluation.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from carloop.risk.features import BEHAVIOUR_FEATURES, FEATURE_LABELS

ACTIONS = ("decline", "refer")
COMPARE_OPS = ("lt", "le", "gt", "ge", "eq", "ne", "in", "not_in")
PRESENCE_OPS = ("missing", "present")

# Fields the decision pipeline puts into the context (documented for analysts in docs/risk.md): (zh, en) labels.
CONTEXT_FIELDS: dict[str, tuple[str, str]] = {
    "age": ("年龄（由身份证号计算）", "Age from the ID number"),
    "age_at_maturity": ("到期时年龄", "Age at maturity"),
    "kyc_verified": ("已实名认证", "KYC verified"),
    "blacklisted": ("命中黑名单", "On a blacklist"),
    "product_kind": ("产品类型", "Product kind"),
    "amount_fen": ("申请金额（分）", "Amount in fen"),
    "term_months": ("期限（月）", "Term in months"),
    "dti": ("月供收入比", "Monthly payment to declared income"),
    "ltv": ("贷款价值比", "Loan to collateral value"),
    "product.min_amount_fen": ("产品最低金额（分）", "Product minimum amount (fen)"),
    "product.max_amount_fen": ("产品最高金额（分）", "Product maximum amount (fen)"),
    "product.max_ltv": ("产品最高贷款价值比", "Product maximum LTV"),
    "product.max_term_months": ("产品最长期限（月）", "Product maximum term (months)"),
    "product.max_dti": ("产品最高月供收入比", "Product maximum DTI"),
    **{f"f.{name}": FEATURE_LABELS[name] for name in BEHAVIOUR_FEATURES},
}


class RuleSetError(ValueError):
    """A rule set document that does not validate; ``errors`` are (JSON pointer, zh, en)."""

    def __init__(self, errors: list[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {en}" for p, _, en in errors))
        self.errors = errors


@dataclass(frozen=True)
class RuleHit:
    code: str
    action: str
    zh: str
    en: str


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):  # float-ok: JSON numbers from a rule document, converted exactly as written
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    return None


def _validate_condition(cond: Any, pointer: str, errors: list[tuple[str, str, str]]) -> None:
    if not isinstance(cond, dict):
        errors.append((pointer, "条件必须是对象。", "A condition must be an object."))
        return
    if "all" in cond or "any" in cond:
        key = "all" if "all" in cond else "any"
        items = cond[key]
        if not isinstance(items, list) or not items:
            errors.append((f"{pointer}/{key}", "必须是非空列表。", "Must be a non-empty list."))
            return
        for i, sub in enumerate(items):
            _validate_condition(sub, f"{pointer}/{key}/{i}", errors)
        return
    if "not" in cond:
        _validate_condition(cond["not"], f"{pointer}/not", errors)
        return
    field = cond.get("field")
    op = cond.get("op")
    if not isinstance(field, str) or not field:
        errors.append((f"{pointer}/field", "缺少字段名。", "Missing field name."))
    if op not in COMPARE_OPS + PRESENCE_OPS:
        errors.append((f"{pointer}/op", f"未知运算符：{op}", f"Unknown operator: {op}"))
        return
    if op in PRESENCE_OPS:
        return
    if "value" not in cond:
        errors.append((f"{pointer}/value", "缺少比较值。", "Missing comparison value."))
        return
    value = cond["value"]
    if isinstance(value, dict):
        if not isinstance(value.get("ref"), str):
            errors.append((f"{pointer}/value", '引用须为 {"ref": 字段名}。', 'A reference must be {"ref": field}.'))
        return
    if op in ("in", "not_in") and not isinstance(value, list):
        errors.append((f"{pointer}/value", "in / not_in 需要列表。", "in / not_in need a list."))
    if op in ("lt", "le", "gt", "ge") and _number(value) is None:
        errors.append((f"{pointer}/value", "大小比较需要数字。", "Ordering comparisons need a number."))


def validate(doc: Any) -> list[dict[str, Any]]:
    """Check a rule set document; return its rules or raise ``RuleSetError``."""
    errors: list[tuple[str, str, str]] = []
    if not isinstance(doc, dict) or not isinstance(doc.get("rules"), list):
        raise RuleSetError([("/rules", "规则集需要 rules 列表。", "A rule set needs a rules list.")])
    seen: set[str] = set()
    for i, rule in enumerate(doc["rules"]):
        pointer = f"/rules/{i}"
        if not isinstance(rule, dict):
            errors.append((pointer, "规则必须是对象。", "A rule must be an object."))
            continue
        code = rule.get("code")
        if not isinstance(code, str) or not code:
            errors.append((f"{pointer}/code", "缺少规则代码。", "Missing rule code."))
        elif code in seen:
            errors.append((f"{pointer}/code", f"规则代码重复：{code}", f"Duplicate rule code: {code}"))
        else:
            seen.add(code)
        if rule.get("action") not in ACTIONS:
            errors.append((f"{pointer}/action", "动作必须是 decline 或 refer。", "The action must be decline or refer."))
        for lang in ("zh", "en"):
            if not isinstance(rule.get(lang), str) or not rule[lang]:
                errors.append((f"{pointer}/{lang}", "缺少中英文说明。", "Both zh and en texts are required."))
        _validate_condition(rule.get("when"), f"{pointer}/when", errors)
    if errors:
        raise RuleSetError(errors)
    return list(doc["rules"])


def _resolve(value: Any, context: dict[str, Any]) -> tuple[bool, Any]:
    if isinstance(value, dict):
        ref = value["ref"]
        return (ref in context and context[ref] is not None), context.get(ref)
    return True, value


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("in", "not_in"):
        members = right if isinstance(right, list) else [right]
        nl = _number(left)
        inside = any(left == m or (nl is not None and nl == _number(m)) for m in members)
        return inside if op == "in" else not inside
    ln, rn = _number(left), _number(right)
    if op in ("eq", "ne"):
        equal = (ln == rn) if (ln is not None and rn is not None) else left == right
        return equal if op == "eq" else not equal
    if ln is None or rn is None:
        return False
    return {"lt": ln < rn, "le": ln <= rn, "gt": ln > rn, "ge": ln >= rn}[op]


def matches(cond: dict[str, Any], context: dict[str, Any]) -> bool:
    if "all" in cond:
        return all(matches(c, context) for c in cond["all"])
    if "any" in cond:
        return any(matches(c, context) for c in cond["any"])
    if "not" in cond:
        return not matches(cond["not"], context)
    field, op = cond["field"], cond["op"]
    present = field in context and context[field] is not None
    if op == "missing":
        return not present
    if op == "present":
        return present
    if not present:
        return False
    ok, right = _resolve(cond["value"], context)
    return ok and _compare(op, context[field], right)


def evaluate(rules: list[dict[str, Any]], context: dict[str, Any]) -> list[RuleHit]:
    """All rules whose condition holds, in rule order."""
    return [RuleHit(r["code"], r["action"], r["zh"], r["en"]) for r in rules if matches(r["when"], context)]


def outcome_of(hits: list[RuleHit]) -> str:
    """``decline`` if any decline rule hit, else ``refer`` if any refer rule hit, else ``pass``."""
    actions = {h.action for h in hits}
    if "decline" in actions:
        return "decline"
    if "refer" in actions:
        return "refer"
    return "pass"


DEFAULT_RULES: list[dict[str, Any]] = [
    {"code": "P_KYC", "action": "decline", "when": {"field": "kyc_verified", "op": "ne", "value": True},
     "zh": "未完成实名认证", "en": "Identity (KYC) not verified"},
    {"code": "P_AGE_MIN", "action": "decline", "when": {"field": "age", "op": "lt", "value": 18},
     "zh": "申请人未满 18 周岁", "en": "Applicant is under 18"},
    {"code": "P_AGE_MATURITY", "action": "decline", "when": {"field": "age_at_maturity", "op": "gt", "value": 65},
     "zh": "贷款到期时年龄超过 65 周岁", "en": "Age at maturity above 65"},
    {"code": "P_BLACKLIST", "action": "decline", "when": {"field": "blacklisted", "op": "eq", "value": True},
     "zh": "命中黑名单", "en": "On a blacklist"},
    {"code": "P_AMOUNT_MAX", "action": "decline",
     "when": {"field": "amount_fen", "op": "gt", "value": {"ref": "product.max_amount_fen"}},
     "zh": "申请金额超过产品上限", "en": "Amount above the product maximum"},
    {"code": "P_AMOUNT_MIN", "action": "decline",
     "when": {"field": "amount_fen", "op": "lt", "value": {"ref": "product.min_amount_fen"}},
     "zh": "申请金额低于产品下限", "en": "Amount below the product minimum"},
    {"code": "P_TERM_MAX", "action": "decline",
     "when": {"field": "term_months", "op": "gt", "value": {"ref": "product.max_term_months"}},
     "zh": "期限超过产品上限", "en": "Term longer than the product allows"},
    {"code": "P_LTV", "action": "decline", "when": {"field": "ltv", "op": "gt", "value": {"ref": "product.max_ltv"}},
     "zh": "贷款价值比超过产品上限", "en": "Loan-to-value above the product maximum"},
    {"code": "P_DTI_HIGH", "action": "decline", "when": {"field": "dti", "op": "gt", "value": "0.70"},
     "zh": "月供超过申报月收入的 70%", "en": "Monthly payment above 70% of declared income"},
    {"code": "P_DTI_REFER", "action": "refer", "when": {"field": "dti", "op": "gt", "value": "0.50"},
     "zh": "月供超过申报月收入的 50%，需人工审核", "en": "Monthly payment above 50% of declared income: manual review"},
    {"code": "P_INCOME_MISSING", "action": "refer",
     "when": {"all": [{"field": "dti", "op": "missing"}, {"field": "amount_fen", "op": "gt", "value": 5_000_000}]},
     "zh": "大额申请未申报收入，需人工审核", "en": "Large amount without declared income: manual review"},
    {"code": "P_DPD", "action": "decline", "when": {"field": "f.max_dpd_365d", "op": "gt", "value": 90},
     "zh": "近一年有超过 90 天的逾期", "en": "More than 90 days past due in the last year"},
]  # fmt: skip
