"""Each schema name in the OpenAPI document names one class: django-ninja silently lets a later class of the
same name overwrite an earlier one (the loan quote was documented with the trade-in body)."""

from __future__ import annotations

import typing
from collections import defaultdict
from typing import Any

import pydantic

from carloop.api import api


def _models(annotation: Any, seen: set[type]) -> None:
    if isinstance(annotation, type) and issubclass(annotation, pydantic.BaseModel):
        if annotation in seen:
            return
        seen.add(annotation)
        for field in annotation.model_fields.values():
            _models(field.annotation, seen)
        return
    for arg in typing.get_args(annotation):
        _models(arg, seen)


def _operation_models() -> set[type]:
    seen: set[type] = set()
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in operation.models:
                    _models(model, seen)
                for model in operation.response_models.values():
                    _models(model, seen)
    return seen


def test_no_two_schema_classes_share_a_name() -> None:
    by_name: dict[str, set[str]] = defaultdict(set)
    for model in _operation_models():
        if model.__module__.startswith("carloop."):
            by_name[model.__name__].add(f"{model.__module__}.{model.__qualname__}")
    assert len(by_name) > 50
    duplicates = {name: sorted(paths) for name, paths in by_name.items() if len(paths) > 1}
    assert duplicates == {}


def test_the_loan_quote_is_documented_with_its_own_body() -> None:
    schema = api.get_openapi_schema()
    ref = schema["paths"]["/api/v1/finance/quotes"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "principal" in schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"]
