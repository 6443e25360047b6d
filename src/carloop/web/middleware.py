"""Page requests whose body is over the upload limit get our own 413 page, not Django's bare 400."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)


class BodyLimitMiddleware:
    """Reads a page POST's form data before any view or ``CsrfViewMiddleware.process_view`` does.

    Django raises ``RequestDataTooBig`` lazily, on the first read of ``request.POST``; left to the CSRF check or
    the view, it becomes a bare "Bad Request (400)". Under /api/ the API answers 413 problem+json itself.
    Listed after the session, language, authentication and message middleware, so the page keeps the caller's
    shell and language; every middleware's ``process_view`` (CSRF's included) runs after this ``__call__``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.method == "POST" and not request.path.startswith("/api/"):
            try:
                request.POST  # noqa: B018 - parsing is the check
            except RequestDataTooBig:
                logger.warning("page POST over the upload limit: %s", request.path)
                return render(request, "web/too_large.html", status=413)
        return self.get_response(request)
