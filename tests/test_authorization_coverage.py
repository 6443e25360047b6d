"""Every API operation must appear in some app's authorization matrix (tests/harness.py)."""

from __future__ import annotations

import importlib
import pkgutil
import re

import tests
from carloop.api import api
from tests.harness import REGISTERED


def _load_all_test_modules() -> None:
    for module in pkgutil.walk_packages(tests.__path__, "tests."):
        if module.name.rsplit(".", 1)[-1].startswith("test_"):
            importlib.import_module(module.name)


def _pattern(path: str) -> re.Pattern[str]:
    """A schema path (``/a/{id}/b``) as a regex that a case path with placeholders or literal values matches."""
    parts = re.split(r"\{[^}]+\}", path.rstrip("/"))
    return re.compile("^" + "[^/]+".join(re.escape(p) for p in parts) + "/?$")


def test_every_endpoint_has_an_authorization_case() -> None:
    _load_all_test_modules()
    cases = [(case.method.upper(), case.path.split("?", 1)[0]) for case in REGISTERED]
    schema = api.get_openapi_schema()
    missing = [
        f"{method.upper()} {path}"
        for path, operations in schema["paths"].items()
        for method in operations
        if not any(m == method.upper() and _pattern(path).match(p) for m, p in cases)
    ]
    assert not missing, "endpoints without an authorization matrix case:\n" + "\n".join(sorted(missing))
