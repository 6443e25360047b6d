"""The label registry: every code a page shows has a zh-Hans and an English label, rendered in one language.

A *vocabulary* is a named set of codes (a model's status choices, risk rule codes, ledger account kinds, fuel
types…). Apps register theirs when their modules load::

    labels.register("commerce.order_state", OrderState)            # a Django Choices class with lt() labels
    labels.register("risk.rule", {"P_INCOME_MISSING": ("缺少收入信息", "Income missing")})

Every carloop model field with choices is registered as ``<app_label>.<model>.<field>`` when the apps are ready
(``register_model_choices``), so pages render a code with ``{{ value|label:"commerce.order_state" }}`` (``labels.label(...)`` in Python).
Model choices are declared with ``carloop.core.i18n.lt("中文", "English")`` labels, so Django's
``get_FOO_display()`` and the admin speak the active language too. A code with no label renders as itself, which
the every-page language test (``tests/web/test_every_page.py``) reports on the Chinese pages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.utils import translation

from carloop.core import i18n

Pair = tuple[str, str]  # (zh-Hans, English)

_registry: dict[str, dict[str, Pair]] = {}


def pairs_of_choices(choices: type[models.Choices]) -> dict[str, Pair]:
    """A Choices class's labels in both languages (each label is an ``i18n.lt`` lazy text)."""
    return {str(member.value): _both(member.label) for member in choices}


def register(vocabulary: str, entries: Mapping[str, Pair] | type[models.Choices]) -> None:
    """Add (or extend) a vocabulary; a code registered twice must keep its labels."""
    pairs = pairs_of_choices(entries) if isinstance(entries, type) else {str(k): v for k, v in entries.items()}
    known = _registry.setdefault(vocabulary, {})
    for code, pair in pairs.items():
        if known.get(code, pair) != pair:
            raise ValueError(f"label {vocabulary}:{code} registered twice with different text")
        known[code] = pair


def register_model_choices() -> None:
    """Register every carloop model field with choices as ``<app_label>.<model_name>.<field>``."""
    from django.apps import apps

    for model in apps.get_models():
        if not model.__module__.startswith("carloop."):
            continue
        for field in model._meta.get_fields():
            choices = getattr(field, "choices", None)
            if choices and not getattr(field, "is_relation", False):
                name = f"{model._meta.app_label}.{model._meta.model_name}.{field.name}"
                register(name, {str(code): _both(text) for code, text in choices})


def _both(text: Any) -> Pair:
    with translation.override("zh-hans"):
        zh = str(text)
    with translation.override("en"):
        en = str(text)
    return zh, en


def pair(vocabulary: str, code: Any) -> Pair | None:
    return _registry.get(vocabulary, {}).get(str(code))


def label(vocabulary: str, code: Any) -> str:
    """``code``'s label in the active language; an unregistered code is shown as itself."""
    if code is None or code == "":
        return "—"
    found = pair(vocabulary, code)
    return str(code) if found is None else i18n.t(*found)


def vocabularies() -> dict[str, dict[str, Pair]]:
    return {name: dict(entries) for name, entries in _registry.items()}
