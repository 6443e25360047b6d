"""Payments API: every endpoint × every subject kind, and the main calls end to end over HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from carloop.identity import selectors as identity
from carloop.payments import services
from carloop.payments.models import PaymentIntent
from carloop.payments.services import TenderRequest
from carloop.payments.simulator import SIMULATOR
from tests.harness import SUBJECT_KINDS, Case, run_case
from tests.payments.conftest import CURRENT, KIND, Bills, assert_consistent, fund

pytestmark = pytest.mark.django_db

FINANCE = {"finance_ops": 200, "admin": 200}
OWNER_OR_OPS = {"customer": 200, "finance_ops": 200, "admin": 200, "ops": 200, "anonymous": 401, "*": 404}


def _bill(actors: Any, due_fen: int = 100_000) -> dict[str, Any]:
    bill = CURRENT[0].add(actors.user("customer").pk, due_fen)
    return {"ref": bill.ref, "kind": KIND}


def _intent(actors: Any) -> dict[str, Any]:
    values = _bill(actors)
    payer = identity.subject_for_user(actors.user("customer"))
    intent = services.create_intent(kind=KIND, ref=values["ref"], subject=payer, actor=payer.ref)
    return {"intent": str(intent.pk)}


def _paid(actors: Any) -> dict[str, Any]:
    payer = identity.subject_for_user(actors.user("customer"))
    fund("points", payer.user_id, 100_000)
    values = _intent(actors)
    services.confirm(intent_id=values["intent"], subject=payer, tenders=[TenderRequest("points", 100_000)], method="",
                     actor=payer.ref)
    return values


def _bank_line(actors: Any) -> dict[str, Any]:
    values = _intent(actors)
    services.import_bank_statement(csv_text="bank_txn_id,value_date,amount,reference,payer_name\nB1,2026-12-01,10.00,x,某公司\n",
                                   actor="test")
    from carloop.payments.models import BankStatementLine

    return {**values, "line": str(BankStatementLine.objects.get().pk)}


def _capital_call(actors: Any) -> dict[str, Any]:
    from carloop.finance import services as finance

    return {"ref": finance.call_capital(None, 100_000, "case").ref}


CASES = [
    Case("POST", "/api/v1/payments/intents", setup=_bill, body={"kind": "{kind}", "ref": "{ref}"},
         expect={"customer": 201, "anonymous": 401, "*": 404}),
    Case("GET", "/api/v1/payments/intents", setup=_intent, expect={"anonymous": 401, "*": 200}),
    Case("GET", "/api/v1/payments/intents/{intent}", setup=_intent, expect=OWNER_OR_OPS),
    Case("POST", "/api/v1/payments/intents/{intent}/confirm", setup=_intent, body={"tenders": [], "method": "simulator"},
         expect={"customer": 200, "finance_ops": 403, "admin": 403, "ops": 403, "anonymous": 401, "*": 404}),
    Case("POST", "/api/v1/payments/intents/{intent}/cancel", setup=_intent,
         expect={"customer": 200, "finance_ops": 200, "admin": 200, "ops": 403, "anonymous": 401, "*": 404}),
    Case("POST", "/api/v1/payments/intents/{intent}/refunds", setup=_paid, body={"amount": "10.00", "reason": "测试"},
         expect={"finance_ops": 201, "admin": 201, "customer": 403, "ops": 403, "anonymous": 401, "*": 404}),
    Case("POST", "/api/v1/payments/notify/simulator", body={"event_type": "TRANSACTION.SUCCESS"}, expect={"*": 400}),
    Case("POST", "/api/v1/payments/bank-statements",
         body={"csv": "bank_txn_id,value_date,amount,reference,payer_name\nB9,2026-12-01,1.00,,\n"},
         expect={**FINANCE, "finance_ops": 201, "admin": 201, "anonymous": 401, "*": 403}),
    Case("GET", "/api/v1/payments/bank-lines", expect={**FINANCE, "anonymous": 401, "*": 403}),
    Case("POST", "/api/v1/payments/bank-lines/{line}/match", setup=_bank_line, body={"intent_id": "{intent}"},
         expect={"finance_ops": 409, "admin": 409, "anonymous": 401, "*": 403}),
    Case("POST", "/api/v1/payments/deposits", setup=_capital_call,
         body={"kind": "finance.capital", "ref": "{ref}", "bank_txn_id": "B77", "value_date": "2026-12-01"},
         expect={"finance_ops": 201, "admin": 201, "anonymous": 401, "*": 403}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(bills: Bills, actors: Any, case: Case, kind: str) -> None:
    run_case(actors, case, kind)


def test_checkout_over_http_with_idempotency_key(bills: Bills, actors: Any, django_capture_on_commit_callbacks: Any) -> None:
    payer = actors.user("customer")
    fund("points", payer.pk, 30_000)
    values = _bill(actors)
    client = actors.client("customer")
    created = client.post("/api/v1/payments/intents", data=json.dumps({"kind": KIND, "ref": values["ref"]}),
                          content_type="application/json", headers={"Idempotency-Key": "k1"})
    assert created.status_code == 201, created.content
    intent_id = created.json()["id"]
    body = json.dumps({"tenders": [{"kind": "points", "amount": "300.00"}], "method": "simulator"})
    first = client.post(f"/api/v1/payments/intents/{intent_id}/confirm", data=body, content_type="application/json",
                        headers={"Idempotency-Key": "k2"})
    replay = client.post(f"/api/v1/payments/intents/{intent_id}/confirm", data=body, content_type="application/json",
                         headers={"Idempotency-Key": "k2"})
    assert first.status_code == replay.status_code == 200
    assert replay["Idempotent-Replayed"] == "true"
    data = first.json()
    assert data["state"] == "processing"
    assert [(t["kind"], t["amount"]) for t in data["tenders"]] == [("points", "300.00"), ("external", "700.00")]
    pay_url = data["tenders"][1]["pay_url"]
    page = client.get(pay_url)
    assert page.status_code == 200 and b"<svg" in page.content
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(pay_url).status_code == 200
    assert client.get(f"/api/v1/payments/intents/{intent_id}").json()["state"] == "succeeded"
    browser = Client()
    browser.force_login(payer)
    result = browser.get(f"/payments/intents/{intent_id}/")
    assert result.status_code == 200 and "已支付" in result.content.decode()
    assert browser.get(f"/payments/intents/{intent_id}/status/").status_code == 200
    stranger = Client()
    stranger.force_login(actors.user("other_customer"))
    assert stranger.get(f"/payments/intents/{intent_id}/").status_code == 404
    assert_consistent()


def test_notification_endpoint_verifies_and_answers(bills: Bills, actors: Any) -> None:
    payer = identity.subject_for_user(actors.user("customer"))
    intent = services.create_intent(kind=KIND, ref=_bill(actors)["ref"], subject=payer, actor=payer.ref)
    intent = services.confirm(intent_id=intent.pk, subject=payer, tenders=[], method="simulator", actor=payer.ref)
    order_no = intent.tenders.get().provider_order_no
    assert order_no
    SIMULATOR.behaviour.notify = "never"
    SIMULATOR.pay(order_no)
    body, headers = SIMULATOR.payment_notification(order_no)
    client = actors.client("anonymous")
    ok = client.post("/api/v1/payments/notify/simulator", data=body, content_type="application/json",
                     headers=headers)
    assert (ok.status_code, ok.json()["code"]) == (200, "SUCCESS")
    again = client.post("/api/v1/payments/notify/simulator", data=body, content_type="application/json", headers=headers)
    assert again.status_code == 200
    assert PaymentIntent.objects.get(pk=intent.pk).state == "succeeded"
    bad = client.post("/api/v1/payments/notify/simulator", data=body, content_type="application/json",
                      headers={**headers, "Sim-Signature": "f" * 64})
    assert bad.status_code == 400
    assert client.post("/api/v1/payments/notify/nobody", data=body, content_type="application/json").status_code == 404
    assert_consistent()
