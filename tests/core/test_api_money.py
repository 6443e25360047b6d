"""Every amount at the API edge has one shape: a yuan decimal string; anything else is a 422, never a 500."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from django.test import Client

from carloop.core.money import YUAN_PATTERN

BAD = [True, False, 100, 10**40, 1e3, None, "1e3", "1E+2", "1_000", "１２３", "1e30", "9" * 40, "10000000000.00", "-1", " 1", "NaN"]
MONEY_NAME = re.compile(r"(amount|price|principal|income|collateral_value|deposit)$")


@pytest.mark.django_db
@pytest.mark.parametrize("value", BAD, ids=repr)
def test_a_bad_amount_in_an_anonymous_quote_is_a_422_with_a_pointer(value: Any) -> None:
    body = {"principal": value, "annual_rate": "0.06", "term": 36, "method": "equal_installment"}
    response = Client().post("/api/v1/finance/quotes", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert [e["pointer"] for e in response.json()["errors"]] == ["/principal"]


def _money_properties(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    found = []
    for name, component in schema["components"]["schemas"].items():
        if not name.endswith("In"):
            continue
        for prop, spec in component.get("properties", {}).items():
            if MONEY_NAME.search(prop):
                found.append((name, prop, spec))
    return found


@pytest.mark.django_db
def test_every_money_field_in_a_request_schema_has_the_yuan_shape() -> None:
    schema = Client().get("/api/openapi.json").json()
    found = _money_properties(schema)
    assert len(found) >= 10
    for name, prop, spec in found:
        variants = [v for v in spec.get("anyOf", [spec]) if v.get("type") != "null"]
        assert [v.get("pattern") for v in variants] == [YUAN_PATTERN], f"{name}.{prop}: {spec}"
