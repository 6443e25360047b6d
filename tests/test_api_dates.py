"""Every date an API caller names is a ``carloop.core.timeutil.BusinessDate`` (1900-01-01 to 2999-12-31): a day
outside is a 422, never an ``OverflowError`` in day arithmetic or time-zone conversion (issue 10)."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Annotated, Any

import pydantic
import pytest

from carloop.api import api


def _mentions(annotation: Any, kind: type) -> bool:
    if annotation is kind:
        return True
    return any(_mentions(arg, kind) for arg in typing.get_args(annotation))


def _input_fields(kind: type) -> list[tuple[str, Any]]:
    """(where, annotation with its constraints) for each field of ``kind`` in a request body, path or query."""
    found: list[tuple[str, Any]] = []
    seen: set[type] = set()

    def walk(model: type[pydantic.BaseModel], where: str) -> None:
        if model in seen:
            return
        seen.add(model)
        for name, field in model.model_fields.items():
            annotation = Annotated[field.annotation, *field.metadata] if field.metadata else field.annotation
            if _mentions(field.annotation, kind):
                found.append((f"{where}.{name}", annotation))
            for arg in (field.annotation, *typing.get_args(field.annotation)):
                if isinstance(arg, type) and issubclass(arg, pydantic.BaseModel):
                    walk(arg, f"{where}.{name}")

    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for model in operation.models:
                    walk(model, f"{','.join(operation.methods)} {prefix}{path} {model.__name__}")
    return found


def test_every_date_a_caller_names_is_a_business_date() -> None:
    fields = _input_fields(dt.date)
    assert len(fields) >= 8, fields  # the walk sees bodies and query parameters
    loose = []
    for where, annotation in fields:
        adapter = pydantic.TypeAdapter(annotation)
        adapter.validate_python(dt.date(2026, 12, 3))
        for far in (dt.date(1, 1, 1), dt.date(1899, 12, 31), dt.date(3000, 1, 1), dt.date(9999, 12, 31)):
            try:
                adapter.validate_python(far)
            except pydantic.ValidationError:
                continue
            loose.append(f"{where} takes {far}")
    assert loose == []


@pytest.mark.django_db
@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31"])
def test_a_quote_starting_outside_the_business_calendar_is_a_422(day: str) -> None:
    from django.test import Client

    body = {"principal": "10000", "annual_rate": "0.06", "term": 12, "method": "equal_installment", "start": day}
    response = Client().post("/api/v1/finance/quotes", data=body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert [e["pointer"] for e in response.json()["errors"]] == ["/start"]


def test_every_moment_a_caller_names_is_on_a_business_date() -> None:
    fields = _input_fields(dt.datetime)
    assert len(fields) >= 2, fields
    shanghai = dt.timezone(dt.timedelta(hours=8))
    loose = []
    for where, annotation in fields:
        adapter = pydantic.TypeAdapter(annotation)
        assert adapter.validate_python("2026-12-03T10:00:00").utcoffset() == dt.timedelta(hours=8)  # naive is Shanghai time
        for far in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+08:00", "3000-01-01T00:00:00+08:00"):
            try:
                adapter.validate_python(far)
            except pydantic.ValidationError:
                continue
            loose.append(f"{where} takes {far}")
        assert adapter.validate_python(dt.datetime(2999, 12, 31, 23, 0, tzinfo=shanghai)).year == 2999
    assert loose == []


@pytest.mark.django_db
@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+08:00"])
def test_a_blacklist_entry_expiring_outside_the_calendar_is_a_422(actors, moment: str) -> None:  # type: ignore[no-untyped-def]
    from django.test import Client

    client = Client()
    client.force_login(actors.user("admin"))
    body = {"kind": "phone", "value": "13800138000", "reason": "fraud ring", "expires_at": moment}
    response = client.post("/api/v1/risk/blacklist", data=body, content_type="application/json")
    assert response.status_code == 422, response.content
    assert [e["pointer"] for e in response.json()["errors"]] == ["/expires_at"]
