"""Ledger HTTP API: authorization matrix for every endpoint, and the behaviour behind it."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags
from tests.harness import SUBJECT_KINDS, Actors, Case, run_case

WRITERS = {"finance_ops": {200, 201}, "admin": {200, 201}, "anonymous": 401, "*": 403}
READERS = {"finance_ops": 200, "admin": 200, "ops": 200, "anonymous": 401, "*": 404}


def _accounts(actors: Actors) -> dict[str, Any]:
    src = ledger.system_account("external").id
    acct = ledger.open_account(key=f"t:{uuid.uuid4()}", name="测试", code=1999, flags=AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS)
    ledger.transfer(id=uuid.uuid4(), debit=src, credit=acct.id, amount_fen=10_000, code=1)
    return {"account_id": str(acct.id), "source": str(src), "key": uuid.uuid4().hex}


def _customer_owned(actors: Actors) -> dict[str, Any]:
    values = _accounts(actors)
    owned = ledger.open_account(key=f"t:{uuid.uuid4()}", name="钱包", code=4001, owner=f"user:{actors.user('customer').pk}")
    return values | {"account_id": str(owned.id)}


def _transfer(actors: Actors) -> dict[str, Any]:
    values = _accounts(actors)
    t = ledger.transfer(id=uuid.uuid4(), debit=uuid.UUID(values["account_id"]), credit=uuid.UUID(values["source"]), amount_fen=100, code=1)
    return values | {"transfer_id": str(t.id)}


CASES = [
    Case("POST", "/api/v1/ledger/transfers", setup=_accounts, expect=WRITERS,
         body={"debit": "{source}", "credit": "{account_id}", "amount": "12.34", "code": 1, "memo": "调整"},
         headers={"Idempotency-Key": "{key}"}),
    Case("POST", "/api/v1/ledger/transfers/batch", setup=_accounts, expect=WRITERS,
         body={"transfers": [{"id": "{key}:a", "debit": "{source}", "credit": "{account_id}", "amount": "1.00", "code": 1},
                             {"id": "{key}:b", "debit": "{account_id}", "credit": "{source}", "amount": "0.50", "code": 1}]}),
    Case("POST", "/api/v1/ledger/accounts", setup=_accounts, expect={"finance_ops": 201, "admin": 201, "anonymous": 401, "*": 403},
         body={"key": "api:{key}", "name": "人工账户", "code": 1999, "flags": ["debits_must_not_exceed_credits"]}),
    Case("GET", "/api/v1/ledger/accounts", setup=_accounts, expect={"anonymous": 401, "*": 200}),
    Case("GET", "/api/v1/ledger/accounts/{account_id}", setup=_accounts, expect=READERS),
    Case("GET", "/api/v1/ledger/accounts/{account_id}/statement", setup=_accounts, expect=READERS),
    Case("GET", "/api/v1/ledger/accounts/{account_id}", setup=_customer_owned, name="own account (customer reads it)",
         expect=READERS | {"customer": 200}),
    Case("GET", "/api/v1/ledger/transfers/{transfer_id}", setup=_transfer, expect=READERS),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(actors: Actors, case: Case, kind: str) -> None:
    run_case(actors, case, kind)


def _post(actors: Actors, path: str, body: dict[str, Any], key: str | None = None, lang: str = "zh") -> Any:
    headers = {"Idempotency-Key": key} if key else {}
    if lang == "en":
        headers["Accept-Language"] = "en"
    return actors.client("finance_ops").post(path, data=json.dumps(body), content_type="application/json", headers=headers)


@pytest.mark.django_db
def test_manual_transfer_with_idempotency_key_replays(actors: Actors) -> None:
    v = _accounts(actors)
    body = {"debit": v["source"], "credit": v["account_id"], "amount": "12.34", "code": 1}
    first = _post(actors, "/api/v1/ledger/transfers", body, key="k-1")
    assert first.status_code == 201, first.content
    assert first.json()["amount"] == "12.34" and first.json()["actor"].startswith("user:")
    again = _post(actors, "/api/v1/ledger/transfers", body, key="k-1")
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert ledger_q.balance(uuid.UUID(v["account_id"])).balance_fen == 10_000 + 1_234
    reused = _post(actors, "/api/v1/ledger/transfers", body | {"amount": "1.00"}, key="k-1")
    assert reused.status_code == 422 and reused.json()["type"].endswith("/idempotency-key-reused")


@pytest.mark.django_db
def test_same_transfer_id_different_payload_is_problem_422(actors: Actors) -> None:
    v = _accounts(actors)
    body = {"id": "manual:1", "debit": v["source"], "credit": v["account_id"], "amount": "1.00", "code": 1}
    assert _post(actors, "/api/v1/ledger/transfers", body).status_code == 201
    assert _post(actors, "/api/v1/ledger/transfers", body).json()["replayed"] is True
    bad = _post(actors, "/api/v1/ledger/transfers", body | {"amount": "2.00"}, lang="en")
    assert bad.status_code == 422
    assert bad["Content-Type"].startswith("application/problem+json")
    problem = bad.json()
    assert problem["type"] == "https://carloop.dev/problems/transfer-id-reused"
    assert problem["detail"].startswith("This transfer id") and problem["detail_i18n"]["zh-Hans"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("change", "status", "slug", "pointer"),
    [
        ({"amount": "1.234"}, 422, "validation-error", "/amount"),
        ({"amount": "-1"}, 422, "validation-error", "/amount"),
        ({"amount": "0"}, 422, "invalid-amount", "/amount"),
        ({"amount": "100000"}, 409, "insufficient-funds", "/debit"),
        ({"credit": "00000000-0000-0000-0000-000000000001"}, 422, "account-not-found", "/credit"),
        ({"code": None}, 422, "invalid-code", "/code"),
    ],
)
def test_bad_transfers_are_clear_4xx_and_change_nothing(
    actors: Actors, change: dict[str, Any], status: int, slug: str, pointer: str
) -> None:
    v = _accounts(actors)
    body = {"debit": v["account_id"], "credit": v["source"], "amount": "1.00", "code": 1} | change
    response = _post(actors, "/api/v1/ledger/transfers", body)
    assert response.status_code == status, response.content
    assert response.json()["type"].endswith(f"/{slug}")
    assert response.json()["errors"][0]["pointer"] == pointer
    assert ledger_q.balance(uuid.UUID(v["account_id"])).balance_fen == 10_000


@pytest.mark.django_db
def test_pending_post_and_batch_over_http(actors: Actors) -> None:
    v = _accounts(actors)
    hold = _post(actors, "/api/v1/ledger/transfers",
                 {"id": "h", "debit": v["account_id"], "credit": v["source"], "amount": "30.00", "code": 1, "pending": True})
    assert hold.status_code == 201 and hold.json()["kind"] == "pending"
    acct = actors.client("finance_ops").get(f"/api/v1/ledger/accounts/{v['account_id']}").json()
    assert (acct["balance"], acct["available"], acct["debits_pending"]) == ("100.00", "70.00", "30.00")
    post = _post(actors, "/api/v1/ledger/transfers", {"id": "p", "post_pending_id": "h", "amount": "10.00"})
    assert post.status_code == 201 and post.json()["amount"] == "10.00"
    batch = _post(actors, "/api/v1/ledger/transfers/batch", {"transfers": [
        {"id": "b1", "debit": v["account_id"], "credit": v["source"], "amount": "80.00", "code": 1},
        {"id": "b2", "debit": v["account_id"], "credit": v["source"], "amount": "20.00", "code": 1},
    ]})
    assert batch.status_code == 409 and batch.json()["errors"][0]["pointer"] == "/transfers/1/debit"
    assert ledger_q.get_transfer("b1") is None
    statement = actors.client("finance_ops").get(f"/api/v1/ledger/accounts/{v['account_id']}/statement?limit=2").json()
    assert [line["kind"] for line in statement["lines"]] == ["post_pending", "pending"]
    assert statement["lines"][0]["balance_after"] == "90.00" and statement["next_cursor"]


@pytest.mark.django_db
def test_open_account_over_http_is_idempotent_by_key(actors: Actors) -> None:
    body = {"key": "manual:fund", "name": "人工资金", "code": 1999, "flags": ["debits_must_not_exceed_credits"]}
    first = _post(actors, "/api/v1/ledger/accounts", body)
    assert first.status_code == 201 and first.json()["flags"] == ["debits_must_not_exceed_credits"]
    assert _post(actors, "/api/v1/ledger/accounts", body).json()["id"] == first.json()["id"]
    conflict = _post(actors, "/api/v1/ledger/accounts", body | {"flags": []})
    assert conflict.status_code == 409
    invalid = _post(actors, "/api/v1/ledger/accounts", body | {"flags": ["nope"]})
    assert invalid.status_code == 422


@pytest.mark.django_db
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_pages_are_for_ledger_readers(actors: Actors, kind: str) -> None:
    v = _accounts(actors)
    ledger.transfer(id="page:hold", debit=uuid.UUID(v["account_id"]), credit=uuid.UUID(v["source"]), amount_fen=500, code=1,
                    pending=True, memo="冻结押金")
    client = actors.client(kind)
    if kind != "anonymous":
        client.force_login(actors.user(kind))
    for url in ("/ledger/", f"/ledger/accounts/{v['account_id']}/"):
        response = client.get(url)
        if kind == "anonymous":
            assert response.status_code == 302
        elif kind in {"finance_ops", "admin", "ops"}:
            assert response.status_code == 200, url
            assert "测试" in response.content.decode()
        else:
            assert response.status_code == 404, (kind, url)
    if kind == "finance_ops":
        page = client.get(f"/ledger/accounts/{v['account_id']}/?lang=en").content.decode()
        assert "冻结押金" in page and "Hold" in page and "¥95.00" in page
        assert client.get(f"/ledger/accounts/{v['account_id']}/?cursor=bogus!").status_code == 404


@pytest.mark.django_db
def test_a_replay_keeps_its_201_and_says_it_is_a_replay(actors: Actors) -> None:
    v = _accounts(actors)
    body = {"debit": v["source"], "credit": v["account_id"], "amount": "3.00", "code": 1, "memo": "m"}
    first = _post(actors, "/api/v1/ledger/transfers", body, key="k-order")
    reordered = dict(reversed(list(body.items())))
    again = _post(actors, "/api/v1/ledger/transfers", reordered, key="k-order")
    assert (first.status_code, again.status_code) == (201, 201), again.content
    assert again["Idempotent-Replayed"] == "true" and not first.has_header("Idempotent-Replayed")
    assert again.json() == first.json()
    by_id = {"id": "manual:replay"} | body
    assert _post(actors, "/api/v1/ledger/transfers", by_id).status_code == 201
    replayed = _post(actors, "/api/v1/ledger/transfers", by_id)
    assert replayed.status_code == 201 and replayed["Idempotent-Replayed"] == "true" and replayed.json()["replayed"] is True


@pytest.mark.django_db
def test_another_operator_replaying_a_key_and_body_gets_a_transfer_of_their_own(actors: Actors) -> None:
    v = _accounts(actors)
    body = {"debit": v["source"], "credit": v["account_id"], "amount": "5.00", "code": 1}
    mine = _post(actors, "/api/v1/ledger/transfers", body, key="shared-key")
    colleague = Actors().client("finance_ops")
    theirs = colleague.post("/api/v1/ledger/transfers", data=json.dumps(body), content_type="application/json",
                            headers={"Idempotency-Key": "shared-key"})
    assert (mine.status_code, theirs.status_code) == (201, 201), theirs.content
    assert theirs.json()["id"] != mine.json()["id"] and theirs.json()["actor"] != mine.json()["actor"]
    assert not theirs.has_header("Idempotent-Replayed")
    assert ledger_q.balance(uuid.UUID(v["account_id"])).balance_fen == 10_000 + 2 * 500


@pytest.mark.django_db
def test_another_callers_transfer_id_is_taken_not_replayed(actors: Actors) -> None:
    v = _accounts(actors)
    body = {"id": "manual:mine", "debit": v["source"], "credit": v["account_id"], "amount": "5.00", "code": 1}
    assert _post(actors, "/api/v1/ledger/transfers", body).status_code == 201
    colleague = Actors().client("finance_ops")
    theirs = colleague.post("/api/v1/ledger/transfers", data=json.dumps(body), content_type="application/json")
    assert theirs.status_code == 409, theirs.content
    assert theirs.json()["type"].endswith("/transfer-id-taken") and "manual:mine" not in theirs.content.decode()
    batch = {"transfers": [{**body, "id": "manual:batch-a"}, {**body, "id": "manual:batch-b"}]}
    assert _post(actors, "/api/v1/ledger/transfers/batch", batch).status_code == 201
    replayed = colleague.post("/api/v1/ledger/transfers/batch", content_type="application/json", data=json.dumps(batch))
    assert replayed.status_code == 409, replayed.content
    assert replayed.json()["errors"][0]["pointer"] == "/transfers/0/id"


@pytest.mark.django_db
def test_the_account_list_pages_with_bounded_limit_and_offset(actors: Actors) -> None:
    for n in range(5):
        ledger.open_account(key=f"paging:{n}", name=f"分页 {n}", code=1998)
    client = actors.client("finance_ops")
    keys = [a["key"] for a in client.get("/api/v1/ledger/accounts?code=1998").json()]
    assert keys == [f"paging:{n}" for n in range(5)]
    page = client.get("/api/v1/ledger/accounts?code=1998&limit=2&offset=2").json()
    assert [a["key"] for a in page] == ["paging:2", "paging:3"]
    for bad in ("limit=0", "limit=501", "offset=-1", "offset=100001"):
        response = client.get(f"/api/v1/ledger/accounts?{bad}")
        assert response.status_code == 422, bad
        assert response["Content-Type"] == "application/problem+json"
