"""Attach the caller's subject to every request, computed lazily (after API token authentication)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.functional import SimpleLazyObject

from carloop.identity.selectors import subject_of


class SubjectMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.subject = SimpleLazyObject(lambda: subject_of(request))  # type: ignore[attr-defined]
        return self.get_response(request)
