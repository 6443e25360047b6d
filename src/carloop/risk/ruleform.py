"""The rule set editor's form: one row per rule, each of a rule type with its own inputs.

A rule's type follows from its condition: ``threshold`` (a number field compared with a number), ``limit``
(a field compared with a product limit), ``flag`` (a yes/no field), ``presence`` (a field missing or present)
and ``condition`` (anything else, edited as its JSON). Rows come from a stored rule set (``rows_of``) or from
the posted form (``rows_from_post``); ``rules_of`` turns rows back into rules, marking the errors it can see
(an unknown field, a JSON condition that does not parse). Everything else — numbers, codes, texts — is checked
by ``policy.validate`` through the service, and ``mark`` puts its errors next to their inputs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from carloop.core import labels
from carloop.core.errors import FieldError
from carloop.core.i18n import t
from carloop.risk import policy

TYPES: dict[str, tuple[str, str]] = {
    "threshold": ("阈值", "Threshold"),
    "limit": ("产品限额", "Product limit"),
    "flag": ("是/否", "Yes/no"),
    "presence": ("缺失/存在", "Missing/present"),
    "condition": ("组合条件（JSON）", "Combined condition (JSON)"),
}
OPS: dict[str, tuple[str, str]] = {
    "lt": ("小于", "less than"), "le": ("不大于", "at most"), "gt": ("大于", "greater than"),
    "ge": ("不小于", "at least"), "eq": ("等于", "equals"), "ne": ("不等于", "differs from"),
    "missing": ("缺失", "is missing"), "present": ("存在", "is present"),
}  # fmt: skip
FLAG_FIELDS = ("kyc_verified", "blacklisted")
LIMIT_FIELDS = tuple(f for f in policy.CONTEXT_FIELDS if f.startswith("product."))
NUMBER_FIELDS = tuple(f for f in policy.CONTEXT_FIELDS if f not in FLAG_FIELDS + LIMIT_FIELDS + ("product_kind",))
ORDER_OPS = ("lt", "le", "gt", "ge")
# type -> (fields offered, operators offered)
SHAPES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "threshold": (NUMBER_FIELDS, ORDER_OPS),
    "limit": (NUMBER_FIELDS, ORDER_OPS),
    "flag": (FLAG_FIELDS, ("eq", "ne")),
    "presence": (tuple(policy.CONTEXT_FIELDS), ("missing", "present")),
    "condition": ((), ()),
}
INPUTS = ("type", "code", "action", "field", "op", "value", "ref", "when", "zh", "en")


def _type_of(when: Any) -> str:
    """The rule type whose inputs can show ``when`` exactly; ``condition`` (its JSON) when none can."""
    if not isinstance(when, dict) or "field" not in when:
        return "condition"
    op, value = when.get("op"), when.get("value")
    if op in ("missing", "present"):
        kind = "presence"
    elif op in ORDER_OPS and isinstance(value, dict):
        kind = "limit" if value.get("ref") in LIMIT_FIELDS else "condition"
    elif op in ("eq", "ne") and isinstance(value, bool):
        kind = "flag"
    elif op in ORDER_OPS and not isinstance(value, (bool, list, dict)):
        kind = "threshold"
    else:
        kind = "condition"
    return kind if kind == "condition" or when["field"] in SHAPES[kind][0] else "condition"


def blank(kind: str) -> dict[str, Any]:
    fields, ops = SHAPES[kind]
    row: dict[str, Any] = dict.fromkeys(INPUTS, "")
    row.update(type=kind, action="refer", field=fields[0] if fields else "", op=ops[0] if ops else "",
               ref=LIMIT_FIELDS[0] if kind == "limit" else "", value="true" if kind == "flag" else "",
               when="{}" if kind == "condition" else "", errors={})  # fmt: skip
    return row


def rows_of(rules: list[dict[str, Any]]) -> list[dict[str, Any]]:
    rows = []
    for rule in rules:
        when: Any = rule.get("when")
        row = blank(_type_of(when))
        row.update(code=rule.get("code", ""), action=rule.get("action", ""), zh=rule.get("zh", ""), en=rule.get("en", ""))
        if row["type"] == "condition":
            row["when"] = json.dumps(when, ensure_ascii=False)
        else:
            row.update(field=when["field"], op=when["op"])
            value = when.get("value")
            if row["type"] == "limit":
                row["ref"] = value.get("ref", "")
            elif row["type"] == "flag":
                row["value"] = "true" if value else "false"
            elif row["type"] == "threshold":
                row["value"] = str(value)
        rows.append(row)
    return rows


def rows_from_post(data: Mapping[str, str]) -> list[dict[str, Any]]:
    try:
        count = min(int(data.get("rows", "0")), 500)
    except ValueError:
        count = 0
    rows = []
    for i in range(count):
        row = {name: data.get(f"r{i}-{name}", "").strip() for name in INPUTS}
        if row["type"] in TYPES:
            rows.append({**row, "errors": {}})
    return rows


def _number(text: str) -> int | str:
    """A whole number as an int, a decimal kept as its exact text (the rules compare as Decimal); else the text."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        return text
    return int(number) if number == number.to_integral_value() and "." not in text else text


def rules_of(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rules the rows describe; errors the form can see are marked on the rows."""
    rules = []
    for row in rows:
        fields, ops = SHAPES[row["type"]]
        when: Any
        if row["type"] == "condition":
            try:
                when = json.loads(row["when"] or "null")
            except json.JSONDecodeError as exc:
                row["errors"]["when"] = t(f"JSON 格式错误：{exc}", f"Invalid JSON: {exc}")
                when = None
        else:
            if row["field"] not in fields:
                row["errors"]["field"] = t("请从列表中选择字段。", "Choose a field from the list.")
            if row["op"] not in ops:
                row["errors"]["op"] = t("请从列表中选择运算符。", "Choose an operator from the list.")
            when = {"field": row["field"], "op": row["op"]}
            if row["type"] == "threshold":
                when["value"] = _number(row["value"])
            elif row["type"] == "limit":
                if row["ref"] not in LIMIT_FIELDS:
                    row["errors"]["ref"] = t("请从列表中选择产品限额。", "Choose a product limit from the list.")
                when["value"] = {"ref": row["ref"]}
            elif row["type"] == "flag":
                when["value"] = row["value"] == "true"
        rules.append({"code": row["code"], "action": row["action"], "when": when, "zh": row["zh"], "en": row["en"]})
    return rules


def mark(rows: list[dict[str, Any]], errors: list[FieldError]) -> None:
    """Put the service's field errors (pointers ``/rules/<i>/...``) next to the row inputs they concern."""
    for error in errors:
        parts = error.pointer.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "rules" or not parts[1].isdigit() or int(parts[1]) >= len(rows):
            continue
        row = rows[int(parts[1])]
        rest = parts[2:]
        if not rest or rest[0] != "when":
            name = rest[0] if rest and rest[0] in INPUTS else "code"
        elif row["type"] == "condition" or len(rest) < 2:
            name = "when"
        else:
            name = {"value": "ref" if row["type"] == "limit" else "value"}.get(rest[1], rest[1])
        row["errors"].setdefault(name, t(error.zh, error.en))


def has_errors(rows: list[dict[str, Any]]) -> bool:
    return any(row["errors"] for row in rows)


def _choices(pairs: Mapping[str, tuple[str, str]], codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(code, label in the page's language) for a select."""
    return [(code, t(*pairs[code])) for code in codes]


def for_page(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with their type's label and each select's choices in the page's language."""
    shown = []
    for row in rows:
        fields, ops = SHAPES[row["type"]]
        shown.append({**row, "type_label": t(*TYPES[row["type"]]), "field_choices": _choices(policy.CONTEXT_FIELDS, fields),
                      "op_choices": _choices(OPS, ops)})  # fmt: skip
    return shown


def options() -> dict[str, Any]:
    """The choices every row shares, in the page's language."""
    return {
        "types": _choices(TYPES, tuple(TYPES)),
        "actions": [(action, labels.label("risk.outcome", action)) for action in policy.ACTIONS],
        "limits": _choices(policy.CONTEXT_FIELDS, LIMIT_FIELDS),
        "flags": [("true", t("是", "yes")), ("false", t("否", "no"))],
    }
