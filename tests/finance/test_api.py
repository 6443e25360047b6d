"""Finance API: every endpoint × every subject kind, and the behaviour of the main calls."""

from __future__ import annotations

import json
from typing import Any

import pytest

from carloop.finance.models import Repayment
from tests.harness import SUBJECT_KINDS, Case, run_case

from .conftest import World

pytestmark = pytest.mark.django_db

OPS = {"ops", "risk_analyst", "finance_ops", "admin"}


def _world(actors: Any) -> World:
    from django.conf import settings

    settings.CARLOOP_DECISION_PROVIDER = "rules"
    return World(actors)


def purchase_body(world: World) -> dict[str, Any]:
    return {"product": "car-purchase", "amount": "100000.00", "term": 36, "consent": True, "order_ref": "ORD-1",
            "merchant_org_id": str(world.dealer.pk), "car_price": "150000.00"}


def setup_world(actors: Any) -> dict[str, Any]:
    world = _world(actors)
    return {"dealer": str(world.dealer.pk)}


def _app(actors: Any) -> dict[str, Any]:
    from carloop.finance import services

    world = _world(actors)
    app = services.apply(world.customer(), world.purchase_input())
    return {"app": str(app.pk), "partner": str(world.partner.pk)}


def _loan(actors: Any) -> dict[str, Any]:
    from carloop.finance import services

    world = _world(actors)
    app = services.apply(world.customer(), world.purchase_input())
    loan = services.accept_offer(world.customer(), app.pk, agree=True)
    return {"loan": str(loan.pk), "partner": str(world.partner.pk)}


def _partner(actors: Any) -> dict[str, Any]:
    _loan(actors)
    return {"partner": str(actors.org("lender_analyst").pk)}


AUTH = {"anonymous": 401}
CASES = [
    Case("GET", "/api/v1/finance/products", expect={"*": 200}),
    Case("POST", "/api/v1/finance/quotes", body={"principal": "100000.00", "annual_rate": "0.06", "term": 36,
                                                 "method": "equal_installment"}, expect={"*": 200}),
    Case("POST", "/api/v1/finance/applications", setup=setup_world,
         body={"product": "car-purchase", "amount": "100000.00", "term": 36, "consent": True, "order_ref": "ORD-1",
               "merchant_org_id": "{dealer}", "car_price": "150000.00"},
         expect={**AUTH, "customer": 201, "other_customer": 201, "*": 403}),
    Case("GET", "/api/v1/finance/applications", expect={**AUTH, "*": 200}),
    Case("GET", "/api/v1/finance/applications/{app}", setup=_app,
         expect={**AUTH, "customer": 200, **dict.fromkeys(OPS - {"admin"}, 200), "admin": 200, "*": 404}),
    Case("POST", "/api/v1/finance/applications/{app}/review", setup=_app, body={"approve": True},
         expect={**AUTH, "risk_analyst": 409, "ops": 409, "admin": 409, "finance_ops": 403, "customer": 403, "*": 404}),
    Case("POST", "/api/v1/finance/applications/{app}/accept", setup=_app, body={"agree": True},
         expect={**AUTH, "customer": 201, **dict.fromkeys(OPS, 403), "*": 404}),
    Case("GET", "/api/v1/finance/loans", expect={**AUTH, "*": 200}),
    Case("GET", "/api/v1/finance/loans/{loan}", setup=_loan,
         expect={**AUTH, "customer": 200, **dict.fromkeys(OPS, 200), "lender_analyst": 200, "*": 404}),
    Case("POST", "/api/v1/finance/loans/{loan}/repayments", setup=_loan, body={"amount": "100.00"},
         expect={**AUTH, "customer": 409, "ops": 409, "finance_ops": 409, "admin": 409, "risk_analyst": 403,
                 "lender_analyst": 403, "*": 404}),
    Case("POST", "/api/v1/finance/loans/{loan}/debit-card", setup=_loan, body={"card_no": "6222021234567890128"},
         expect={**AUTH, "customer": 200, "ops": 403, "finance_ops": 403, "admin": 403, "risk_analyst": 403,
                 "lender_analyst": 403, "*": 404}),
    Case("GET", "/api/v1/finance/loans/{loan}/payoff", setup=_loan,
         expect={**AUTH, "customer": 200, "ops": 200, "finance_ops": 200, "admin": 200, "risk_analyst": 403,
                 "lender_analyst": 403, "*": 404}),
    Case("POST", "/api/v1/finance/loans/{loan}/payoff", setup=_loan, body={"amount": "1.00"},
         expect={**AUTH, "customer": 409, "ops": 409, "finance_ops": 409, "admin": 409, "risk_analyst": 403,
                 "lender_analyst": 403, "*": 404}),
    Case("POST", "/api/v1/finance/loans/{loan}/write-off", setup=_loan, body={"reason": "失联"},
         expect={**AUTH, "finance_ops": 200, "admin": 200, "ops": 403, "risk_analyst": 403, "customer": 403,
                 "lender_analyst": 403, "*": 404}),
    Case("POST", "/api/v1/finance/loans/{loan}/pledge", setup=_loan, body={"status": "registered"},
         expect={**AUTH, "ops": 422, "finance_ops": 422, "admin": 422, "risk_analyst": 403, "customer": 403,
                 "lender_analyst": 403, "*": 404}),
    Case("GET", "/api/v1/finance/partners/{partner}/portfolio", setup=_partner,
         expect={**AUTH, "lender_analyst": 200, "finance_ops": 200, "risk_analyst": 200, "admin": 200, "*": 404}),
    Case("GET", "/api/v1/finance/partners/{partner}/statements/2026-01-15", setup=_partner,
         expect={**AUTH, "lender_analyst": 200, "finance_ops": 200, "risk_analyst": 200, "admin": 200, "*": 404}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(actors: Any, case: Case, kind: str) -> None:
    run_case(actors, case, kind)


def test_quote_endpoint_matches_the_published_shape(client: Any) -> None:
    body = {"principal": "100000.00", "annual_rate": 0.06, "term": 36, "method": "equal_installment", "start": "2026-01-15"}
    response = client.post("/api/v1/finance/quotes", data=json.dumps(body), content_type="application/json")
    data = response.json()
    assert response.status_code == 200
    assert set(data) == {"principal", "term", "method", "schedule", "total_interest", "total_fees", "total_payment",
                         "apr", "apr_effective"}
    assert data["schedule"][0] == {"period": 1, "due_date": "2026-02-15", "principal": "2542.19", "interest": "500.00",
                                   "fee": "0.00", "payment": "3042.19", "balance": "97457.81"}
    assert (data["total_interest"], data["apr"], data["apr_effective"]) == ("9519.01", "0.060000", "0.061678")


@pytest.mark.parametrize(("change", "pointer"), [
    ({"principal": "-1.00"}, "/principal"), ({"principal": "1.005"}, "/principal"), ({"term": 0}, "/term"),
    ({"annual_rate": "0.5"}, "/annual_rate"), ({"method": "balloon"}, "/method"), ({"start": "2026-02-30"}, "/start"),
])
def test_quote_bad_input_is_a_clear_422(client: Any, change: dict[str, Any], pointer: str) -> None:
    body = {"principal": "100000.00", "annual_rate": "0.06", "term": 36, "method": "equal_installment"} | change
    response = client.post("/api/v1/finance/quotes", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 422, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["pointer"] == pointer


def test_repayments_are_paid_at_the_cashier(actors: Any) -> None:
    """Finance books no repayment on the caller's word: the old calls answer 409 pay-at-cashier with the cashier's
    kind and reference, and paying that intent (provider's notification) is what credits the loan."""
    ids = _loan(actors)
    client = actors.client("customer")
    url = f"/api/v1/finance/loans/{ids['loan']}/repayments"
    answer = client.post(url, data=json.dumps({"amount": "500.00"}), content_type="application/json")
    assert answer.status_code == 409 and answer.json()["type"].endswith("/pay-at-cashier")
    assert answer.json()["kind"] == "finance.repayment" and answer.json()["ref"].endswith(":amount:50000")
    payoff = client.post(f"/api/v1/finance/loans/{ids['loan']}/payoff", data=json.dumps({"amount": "1.00"}),
                         content_type="application/json")
    assert payoff.status_code == 409 and payoff.json()["ref"].endswith(":payoff")
    assert Repayment.objects.count() == 0
    opened = client.post("/api/v1/payments/intents", data=json.dumps({"kind": answer.json()["kind"], "ref": answer.json()["ref"]}),
                         content_type="application/json", headers={"Idempotency-Key": "pay-1"})
    assert opened.status_code == 201, opened.content
    assert opened.json()["amount"] == "500.00" and Repayment.objects.count() == 0
    too_much = client.post("/api/v1/payments/intents", content_type="application/json", headers={"Idempotency-Key": "pay-2"},
                           data=json.dumps({"kind": "finance.repayment", "ref": f"finance:loan:{ids['loan']}:amount:9999999900"}))
    assert too_much.status_code == 422 and too_much.json()["type"].endswith("/amount-exceeds-due")
    by_ops = actors.client("finance_ops").post("/api/v1/payments/intents", content_type="application/json",
                                               data=json.dumps({"kind": answer.json()["kind"], "ref": answer.json()["ref"]}))
    assert by_ops.status_code == 404  # only the borrower pays


@pytest.mark.parametrize("amount", [True, 1, "1e3", "1_000", "１００", "1e30", "9" * 40, 10**40])
def test_a_repayment_amount_that_is_not_a_yuan_string_is_refused(actors: Any, amount: Any) -> None:
    ids = _loan(actors)
    response = actors.client("customer").post(f"/api/v1/finance/loans/{ids['loan']}/repayments",
                                               data=json.dumps({"amount": amount}), content_type="application/json")
    assert response.status_code == 422, response.content
    assert response.json()["errors"][0]["pointer"] == "/amount"
    assert Repayment.objects.count() == 0


def test_unknown_product_and_out_of_range_amount(actors: Any) -> None:
    setup_world(actors)
    client = actors.client("customer")
    world_body = {"product": "nope", "amount": "100000.00", "term": 36, "consent": True}
    assert client.post("/api/v1/finance/applications", data=json.dumps(world_body),
                       content_type="application/json").status_code == 422
    body = {**world_body, "product": "car-purchase", "amount": "-5.00"}
    assert client.post("/api/v1/finance/applications", data=json.dumps(body),
                       content_type="application/json").status_code == 422
