"""URL map: admin, the API, and each app's pages at /<app>/ (the web shell owns /)."""

from __future__ import annotations

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from carloop.api import api
from carloop.core.discovery import app_modules

admin.site.site_header = "carloop 运营后台 · Back office"
admin.site.site_title = "carloop"
admin.site.index_title = "carloop"

urlpatterns: list[URLPattern | URLResolver] = [
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]

for label, module in app_modules("urls"):
    if label != "web":
        urlpatterns.append(path(f"{label}/", include((module.__name__, label), namespace=label)))

urlpatterns.append(path("", include(("carloop.web.urls", "web"), namespace="web")))

handler403 = "carloop.web.views.permission_denied"
handler404 = "carloop.web.views.page_not_found"
handler500 = "carloop.web.views.server_error"
