"""URL map: admin, the API, and each app's pages at /<app>/ (the web shell owns /)."""

from __future__ import annotations

import importlib

from django.conf import settings
from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from carloop.api import api

admin.site.site_header = "carloop 运营后台 · Back office"
admin.site.site_title = "carloop"
admin.site.index_title = "carloop"

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]

for app_module in settings.CARLOOP_APPS:
    label = app_module.rsplit(".", 1)[-1]
    if label == "web":
        continue
    try:
        importlib.import_module(f"{app_module}.urls")
    except ModuleNotFoundError as exc:
        if exc.name != f"{app_module}.urls":
            raise
        continue
    urlpatterns.append(path(f"{label}/", include((f"{app_module}.urls", label), namespace=label)))

urlpatterns.append(path("", include(("carloop.web.urls", "web"), namespace="web")))
