"""The site's URLs plus views that fail, for tests/web/test_error_pages.py (handlers come with the star import)."""

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import path

from carloop.urls import *  # noqa: F403 - the site's URLs and its handler403/404/500
from carloop.urls import urlpatterns as site_patterns


def boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


def forbidden(request: HttpRequest) -> HttpResponse:
    raise PermissionDenied


urlpatterns = [path("boom/", boom), path("api/boom/", boom), path("forbidden/", forbidden), *site_patterns]
