import json
import uuid

import pytest
from django.test import Client, RequestFactory
from ninja import Schema, Status

from carloop.core.errors import Problem
from carloop.core.idempotency import idempotent
from carloop.core.models import IdempotencyRecord
from tests.harness import SUBJECT_KINDS, Case, run_case


@pytest.mark.django_db
def test_unknown_object_is_a_problem_404() -> None:
    response = Client().get(f"/api/v1/identity/organisations/{uuid.uuid4()}")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["type"] == "https://carloop.dev/problems/not-found"
    assert body["detail_i18n"]["en"] == "Not found"


@pytest.mark.django_db
def test_validation_error_has_field_pointers_and_language() -> None:
    response = Client().post("/api/v1/identity/signup", data=json.dumps({"phone": "123"}), content_type="application/json",
                             headers={"Accept-Language": "en-US,en;q=0.9"})
    assert response.status_code == 422
    body = response.json()
    assert body["type"].endswith("/validation-error")
    assert body["detail"] == "The request is invalid"
    assert {e["pointer"] for e in body["errors"]} == {"/password", "/code"}


@pytest.mark.django_db
def test_domain_validation_is_localised_zh_by_default() -> None:
    response = Client().post("/api/v1/identity/signup", data=json.dumps({"phone": "123", "code": "123456", "password": "x" * 12}), content_type="application/json")
    assert response.status_code == 422
    body = response.json()
    assert body["detail"] == "手机号格式无效"
    assert body["errors"][0]["pointer"] == "/phone"


@pytest.mark.django_db
def test_bad_bearer_token_is_401() -> None:
    response = Client(headers={"Authorization": "Bearer nope"}).get("/api/v1/identity/me")
    assert response.status_code == 401
    assert response.json()["type"].endswith("/invalid-token")


class _Out(Schema):
    n: int


calls: list[int] = []


@idempotent
def _view(request, n: int):  # type: ignore[no-untyped-def]
    calls.append(n)
    return Status(201, _Out(n=len(calls)))


class _Caller:
    def __init__(self, pk: str) -> None:
        self.pk, self.is_authenticated = pk, True


def _post(body: bytes, caller: str | None = "u-1", key: str = "k-1"):  # type: ignore[no-untyped-def]
    request = RequestFactory().post("/api/v1/x", data=body, content_type="application/json", headers={"Idempotency-Key": key})
    if caller is not None:
        request.user = _Caller(caller)
    return request


@pytest.mark.django_db
def test_idempotent_replay_and_reuse_with_other_body() -> None:
    calls.clear()
    post = _post

    first = _view(post(b'{"a": 1}'), 7)
    again = _view(post(b'{"a": 1}'), 7)
    assert first.status_code == again.status_code == 201
    assert json.loads(first.content) == json.loads(again.content) == {"n": 1}
    assert again["Idempotent-Replayed"] == "true" and calls == [7]
    with pytest.raises(Problem) as info:
        _view(post(b'{"a": 2}'), 7)
    assert info.value.slug == "idempotency-key-reused" and calls == [7]
    assert IdempotencyRecord.objects.count() == 1


@pytest.mark.django_db
def test_idempotency_compares_bodies_by_content_and_scopes_keys_per_caller() -> None:
    calls.clear()
    first = _view(_post(b'{"a": 1, "b": [1, {"c": "x", "d": 2}]}'), 1)
    reordered = _view(_post(b'{"b":[1,{"d":2,"c":"x"}],\n "a":1}'), 1)
    assert (first.status_code, reordered.status_code) == (201, 201) and reordered["Idempotent-Replayed"] == "true"
    assert calls == [1]
    for different in (b'{"a": 1.0, "b": [1, {"c": "x", "d": 2}]}', b'{"a": "1", "b": [1, {"c": "x", "d": 2}]}',
                      b'{"a": 1, "b": [{"c": "x", "d": 2}, 1]}', b'{"a": true, "b": [1, {"c": "x", "d": 2}]}'):
        with pytest.raises(Problem) as info:
            _view(_post(different), 1)
        assert info.value.slug == "idempotency-key-reused"
    other = _view(_post(b'{"a": 1, "b": [1, {"c": "x", "d": 2}]}', caller="u-2"), 2)
    assert other.status_code == 201 and not other.has_header("Idempotent-Replayed") and calls == [1, 2]
    for _ in range(2):
        _view(_post(b"{}", caller=None), 3)
    assert calls == [1, 2, 3, 3]


@pytest.mark.django_db
def test_openapi_docs_are_served() -> None:
    response = Client().get("/api/openapi.json")
    assert response.status_code == 200
    assert "/api/v1/identity/signup" in response.json()["paths"]


def _event(actors):  # type: ignore[no-untyped-def]
    from carloop.core import audit

    audit.record("user:x", "thing.done", "test.thing", "t-1")
    return {}


OPERATORS_OK = {"ops": 200, "admin": 200, "risk_analyst": 200, "finance_ops": 200, "anonymous": 401, "*": 403}
CASES = [
    Case("GET", "/api/v1/core/events", expect=OPERATORS_OK),
    Case("GET", "/api/v1/core/audit?object_type=test.thing&object_id=t-1", setup=_event, expect=OPERATORS_OK),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(actors, case, kind) -> None:  # type: ignore[no-untyped-def]
    response = run_case(actors, case, kind)
    if response.status_code == 200 and "audit" in case.path:
        assert [a["action"] for a in response.json()] == ["thing.done"]


def test_production_mode_refuses_demo_secrets() -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("CARLOOP_")} | {"CARLOOP_PRODUCTION": "true", "CARLOOP_DEBUG": "false"}
    result = subprocess.run([sys.executable, "-c", "import carloop.settings"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0 and "CARLOOP_SECRET_KEY" in result.stderr


def test_idempotent_views_may_use_postponed_annotations() -> None:
    from ninja.testing import TestClient

    from tests.core.postponed_views import api

    response = TestClient(api).post("/echo", json={"text": "ok"})
    assert response.status_code == 200 and response.json() == {"text": "OK"}
