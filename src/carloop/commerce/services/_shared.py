"""What every commerce command module uses: the 422 for a bad field and the commerce policy row."""

from __future__ import annotations

from carloop.commerce.models import CommercePolicy
from carloop.core.errors import FieldError, Invalid, Problem


def _bad(slug: str, pointer: str, zh: str, en: str) -> Problem:
    return Invalid(slug, zh, en, errors=[FieldError(pointer, zh, en)])


def policy() -> CommercePolicy:
    found, _ = CommercePolicy.objects.get_or_create(key="default")
    return found
