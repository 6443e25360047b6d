"""Page answers every app shares: the site's refusal page (templates ``403.html``, ``404.html`` and ``500.html``
live in the web shell; the root URLconf's handlers draw them)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from carloop.core.errors import Forbidden, Problem
from carloop.core.i18n import t

_FORBIDDEN = Forbidden()


def denied(request: HttpRequest, problem: Problem | None = None) -> HttpResponse:
    """The site's 403 page (the problem's status, 401 or 403; a sign-in link when the caller is anonymous): says
    the caller lacks access, and why when the refusing check said more than that (``Forbidden()``'s default
    reason adds nothing)."""
    reason = ""
    if problem is not None and (problem.zh, problem.en) != (_FORBIDDEN.zh, _FORBIDDEN.en):
        reason = t(problem.zh, problem.en)
    return render(request, "403.html", {"reason": reason}, status=problem.status if problem is not None else 403)
