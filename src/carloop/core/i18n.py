"""Bilingual text without a message-catalogue build step: zh-Hans is the default, English on request.

``t("中文", "English")`` picks by the active language; pages switch with ``?lang=en`` (remembered in the
session and a cookie), the API follows ``Accept-Language``.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.functional import lazy

SUPPORTED = ("zh-hans", "en")
COOKIE = "carloop_lang"


def current() -> str:
    """``"en"`` or ``"zh-hans"``."""
    lang = (translation.get_language() or "zh-hans").lower()
    return "en" if lang.startswith("en") else "zh-hans"


def t(zh: str, en: str) -> str:
    return en if current() == "en" else zh


lt = lazy(t, str)


def _from_accept_language(header: str) -> str | None:
    best: tuple[float, str] | None = None  # float-ok: q-values, not money
    for part in header.split(","):
        piece = part.strip()
        if not piece:
            continue
        tag, _, params = piece.partition(";")
        q = 1.0  # float-ok
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])  # float-ok
            except ValueError:
                q = 0.0  # float-ok
        tag = tag.strip().lower()
        lang = "en" if tag.startswith("en") else "zh-hans" if tag.startswith("zh") else None
        if lang and (best is None or q > best[0]):
            best = (q, lang)
    return best[1] if best else None


def language_for(request: HttpRequest) -> str:
    query = request.GET.get("lang", "").lower()
    if query in SUPPORTED:
        return query
    if request.path.startswith("/api/"):
        return _from_accept_language(request.headers.get("Accept-Language", "")) or "zh-hans"
    session = getattr(request, "session", None)
    stored = (session.get(COOKIE) if session is not None else None) or request.COOKIES.get(COOKIE)
    if stored in SUPPORTED:
        return str(stored)
    return "zh-hans"


class LanguageMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        lang = language_for(request)
        explicit = request.GET.get("lang", "").lower() in SUPPORTED
        if explicit and hasattr(request, "session"):
            request.session[COOKIE] = lang
        translation.activate(lang)
        request.LANGUAGE_CODE = lang
        response = self.get_response(request)
        if explicit:
            response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax")
        response.headers.setdefault("Content-Language", lang)
        translation.deactivate()
        return response
