"""What every commerce command module uses: the 422 for a bad field, the commerce policy row, and the lookup of
the object a caller acts on."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from django.db.models import Model, QuerySet

from carloop.commerce.models import CommercePolicy
from carloop.core.authz import Subject
from carloop.core.errors import FieldError, Forbidden, Invalid, NotFound, Problem

M = TypeVar("M", bound=Model)


def _bad(slug: str, pointer: str, zh: str, en: str) -> Problem:
    return Invalid(slug, zh, en, errors=[FieldError(pointer, zh, en)])


def policy() -> CommercePolicy:
    found, _ = CommercePolicy.objects.get_or_create(key="default")
    return found


def acting_on(subject: Subject, readable: Callable[[Subject], QuerySet[M]], pk: uuid.UUID,
              may: Callable[[Subject, M], bool]) -> M:
    """The object ``pk`` a caller acts on, row-locked: anonymous is 401, an object outside ``readable(subject)`` 404,
    one the caller reads but ``may`` not act on 403. Pages, the API and the CLI all reach this one check."""
    subject.require_authenticated()
    found = readable(subject).select_related(None).select_for_update(of=("self",)).filter(pk=pk).first()
    if found is None:
        raise NotFound()
    if not may(subject, found):
        raise Forbidden()
    return found
