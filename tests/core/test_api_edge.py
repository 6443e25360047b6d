"""The API's edge: who is asked first, what a body must be, and that every refusal is problem+json."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from django.test import Client

PROBLEM = "application/problem+json"
pytestmark = pytest.mark.django_db


SOME_ID = uuid.UUID("01890000-0000-7000-8000-000000000001")


@pytest.mark.parametrize("path", [
    f"/api/v1/finance/loans/{SOME_ID}/write-off",
    f"/api/v1/finance/loans/{SOME_ID}/pledge",
    f"/api/v1/risk/models/{SOME_ID}/promote",
    f"/api/v1/risk/reviews/{SOME_ID}/decide",
    "/api/v1/ledger/transfers",
    "/api/v1/risk/decisions",
])
@pytest.mark.parametrize("body", [b"", b"{}", b'{"nonsense": true}', b"not json"])
def test_anonymous_writes_are_401_whatever_the_body(path: str, body: bytes) -> None:
    response = Client().post(path, data=body, content_type="application/json")
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == PROBLEM


def test_anonymous_audit_query_without_its_parameters_is_401() -> None:
    response = Client().get("/api/v1/core/audit")
    assert response.status_code == 401 and response["Content-Type"] == PROBLEM


QUOTE = {"principal": "100000.00", "annual_rate": "0.06", "term": 36, "method": "equal_installment"}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", ""])
def test_a_body_that_is_not_declared_json_is_415(content_type: str) -> None:
    response = Client().post("/api/v1/finance/quotes", data=json.dumps(QUOTE), content_type=content_type)
    assert response.status_code == 415, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/unsupported-media-type")


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "application/merge-patch+json"])
def test_json_bodies_are_parsed(content_type: str) -> None:
    response = Client().post("/api/v1/finance/quotes", data=json.dumps(QUOTE), content_type=content_type)
    assert response.status_code == 200, response.content


def test_malformed_json_is_a_400_problem() -> None:
    response = Client().post("/api/v1/finance/quotes", data=b'{"principal": ', content_type="application/json")
    assert response.status_code == 400 and response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/invalid-json")


def test_a_body_over_the_upload_limit_is_413(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = json.dumps(QUOTE | {"padding": "x" * 2000})
    response = Client().post("/api/v1/finance/quotes", data=body, content_type="application/json")
    assert response.status_code == 413, response.content
    assert response["Content-Type"] == PROBLEM
    assert response.json()["type"].endswith("/payload-too-large")


def test_a_method_the_path_does_not_take_is_a_405_problem_with_allow() -> None:
    response = Client().delete("/api/v1/finance/quotes")
    assert response.status_code == 405
    assert response["Content-Type"] == PROBLEM and "POST" in response["Allow"]
    assert response.json()["type"].endswith("/method-not-allowed")


def test_an_unknown_api_path_is_a_404_problem() -> None:
    response = Client().get("/api/v1/nowhere")
    assert response.status_code == 404 and response["Content-Type"] == PROBLEM


def _schema() -> dict[str, Any]:
    schema: dict[str, Any] = Client().get("/api/openapi.json").json()
    return schema


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/api/v1/vehicles/catalog/trims"), ("get", "/api/v1/commerce/bundles"), ("post", "/api/v1/finance/quotes"),
    ("get", "/api/v1/finance/products"), ("post", "/api/v1/identity/signup"),
])
def test_public_operations_do_not_claim_to_need_a_token(method: str, path: str) -> None:
    assert {} in _schema()["paths"][path][method]["security"]


def test_every_operation_documents_its_problems() -> None:
    schema = _schema()
    assert "Problem" in schema["components"]["schemas"]
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            problems = {status for status, spec in op["responses"].items()
                        if "application/problem+json" in spec.get("content", {})}
            assert "4XX" in problems, f"{method} {path}"
            if {} not in op.get("security", [{}]):
                assert "401" in problems, f"{method} {path}"
            if op.get("requestBody"):
                assert {"413", "415", "422"} <= problems, f"{method} {path}"


BAD_PAGES = ["limit=-236&offset=-280196", "limit=0", "limit=501", "offset=-1", "offset=100001", "limit=99999999999999999999",
             "limit=abc"]
PAGED = ["/api/v1/identity/organisations", "/api/v1/core/events", "/api/v1/risk/decisions", "/api/v1/risk/blacklist",
         "/api/v1/risk/reviews"]


@pytest.mark.parametrize(("path", "query"), [(p, q) for p in PAGED for q in BAD_PAGES]
                         + [("/api/v1/ledger/accounts", q) for q in BAD_PAGES if q.startswith("limit")])
def test_pagination_out_of_bounds_is_a_422(actors: Any, path: str, query: str) -> None:
    response = actors.client("admin").get(f"{path}?{query}")
    assert response.status_code == 422, response.content
    assert response["Content-Type"] == PROBLEM


def test_pagination_pages(actors: Any) -> None:
    client = actors.client("admin")
    for kind in ("store_manager", "supplier_staff", "lender_analyst"):
        actors.org(kind)
    everything = client.get("/api/v1/identity/organisations?limit=500").json()
    assert len(everything) >= 3
    second = client.get("/api/v1/identity/organisations?limit=1&offset=1").json()
    assert second == everything[1:2]


@pytest.mark.parametrize("day", ["0001-01-01", "9999-12-31", "1899-12-31", "3000-01-01"])
def test_partner_statement_days_far_out_are_a_422(actors: Any, day: str) -> None:
    partner = actors.org("lender_analyst")
    response = actors.client("lender_analyst").get(f"/api/v1/finance/partners/{partner.pk}/statements/{day}")
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["pointer"] == "/path/day"
