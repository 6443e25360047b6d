"""Find the optional per-app modules (api, urls, seed) of the bounded contexts, in layer order."""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from types import ModuleType

from django.conf import settings


def app_modules(submodule: str) -> Iterator[tuple[str, ModuleType]]:
    """Yield ``(label, module)`` for every carloop app that has ``<app>.<submodule>``; import errors inside it propagate."""
    for app_module in settings.CARLOOP_APPS:
        name = f"{app_module}.{submodule}"
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
            continue
        yield app_module.rsplit(".", 1)[-1], module
