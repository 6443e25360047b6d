"""Template context for the site shell: the caller, their navigation and the active language."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from carloop.core import i18n, nav
from carloop.identity.selectors import subject_of


def shell(request: HttpRequest) -> dict[str, Any]:
    subject = subject_of(request)
    lang = i18n.current()
    items = [
        {"url_name": item.url_name, "label": item.en if lang == "en" else item.zh,
         "description": item.description_en if lang == "en" else item.description_zh}
        for item in nav.items_for(subject)
    ]
    return {"subject": subject, "nav_items": items, "lang": lang}
