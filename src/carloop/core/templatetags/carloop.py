"""Template helpers available in every template: ``{% t "中文" "English" %}``, ``|label:"vocabulary"``, ``|cny``,
``|yuan``."""

from __future__ import annotations

from django import template

from carloop.core import i18n, labels, money, nav, pii
from carloop.core.authz import Subject

register = template.Library()


@register.simple_tag
def t(zh: str, en: str) -> str:
    return i18n.t(zh, en)


@register.filter
def label(code: object, vocabulary: str) -> str:
    """``{{ order.state|label:"commerce.order_state" }}``: the code's label in the page's language."""
    return labels.label(vocabulary, code)


@register.filter
def opens(subject: Subject, url_name: str) -> bool:
    """``{% if subject|opens:"risk:rings" %}``: show a link only to a viewer its page opens for."""
    return nav.opens(subject, url_name)


@register.filter
def cny(fen: int | None) -> str:
    return "—" if fen is None else money.format_cny(int(fen))


@register.filter
def yuan(fen: int | None) -> str:
    return "" if fen is None else money.yuan_str(int(fen))


@register.filter
def mask_phone(value: str | None) -> str:
    return pii.mask_phone(value or "")


@register.filter
def mask_id(value: str | None) -> str:
    return pii.mask_id(value or "")


@register.simple_tag(takes_context=True)
def lang_url(context: template.Context, lang: str) -> str:
    request = context["request"]
    params = request.GET.copy()
    params["lang"] = lang
    return f"{request.path}?{params.urlencode()}"
