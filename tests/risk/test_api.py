import pytest

from carloop.risk import platform_model, services
from carloop.risk.models import CreditDecision, ModelVersion, ReviewCase
from tests.harness import SUBJECT_KINDS, Case, run_case

from .factories import customer, request

INTERNAL = {"ops": 200, "risk_analyst": 200, "finance_ops": 200, "admin": 200, "anonymous": 401, "*": 403}
ANALYST = {"risk_analyst": 200, "admin": 200, "anonymous": 401, "*": 403}
REVIEWERS = {"ops": 200, "risk_analyst": 200, "admin": 200, "anonymous": 401, "*": 403}


def decision_setup(actors):
    user = customer()
    return {"customer_id": str(user.pk), "decision_id": services.decide(request(user)).decision_id}


def referral_setup(actors):
    result = services.decide(request(customer(), monthly_income_fen=150_000))
    return {"review_id": str(ReviewCase.objects.get(decision_id=result.decision_id).pk)}


def blacklist_setup(actors):
    entry = services.add_to_blacklist(kind="device", value="dev-api-1", reason="测试", actor="t")
    return {"entry_id": str(entry.pk)}


def ruleset_setup(actors):
    from carloop.risk import policy

    services.ensure_default_ruleset()
    return {"ruleset_id": str(services.create_ruleset(rules=policy.DEFAULT_RULES, note="t", actor="t").pk)}


def model_setup(actors):
    return {"model_id": str(services.register_model(platform_model.BUILTIN_DIR, actor="t").pk)}


def features_setup(actors):
    from django.utils import timezone

    user = customer()
    services.record_fact(customer_user_id=user.pk, kind="order", occurred_at=timezone.now(), amount_fen=100_00)
    return {"customer_id": str(user.pk)}


DECISION_BODY = {"application_ref": "finance:application:api-1", "product_kind": "cash_loan", "customer_user_id": "{customer_id}",
                 "amount": "20000.00", "term_months": 12, "monthly_income": "15000.00"}  # fmt: skip

CASES = [
    Case("POST", "/api/v1/risk/decisions", setup=decision_setup, body=DECISION_BODY, expect={**INTERNAL, "ops": 201, "risk_analyst": 201, "finance_ops": 201, "admin": 201}),
    Case("GET", "/api/v1/risk/decisions", expect=INTERNAL),
    Case("GET", "/api/v1/risk/decisions/{decision_id}", setup=decision_setup, expect={**INTERNAL, "*": 404}),
    Case("POST", "/api/v1/risk/decisions/{decision_id}/replay", setup=decision_setup, expect=ANALYST),
    Case("GET", "/api/v1/risk/blacklist", expect=INTERNAL),
    Case("POST", "/api/v1/risk/blacklist", body={"kind": "phone", "value": "13812345678", "reason": "骗贷"}, expect={**ANALYST, "risk_analyst": 201, "admin": 201}),
    Case("DELETE", "/api/v1/risk/blacklist/{entry_id}", setup=blacklist_setup, expect=ANALYST),
    Case("POST", "/api/v1/risk/blacklist/check", body={"kind": "device", "value": "dev-api-1"}, expect=INTERNAL),
    Case("GET", "/api/v1/risk/rulesets", expect=INTERNAL),
    Case("POST", "/api/v1/risk/rulesets", body={"rules": [], "note": "empty"}, expect={**ANALYST, "risk_analyst": 201, "admin": 201}),
    Case("POST", "/api/v1/risk/rulesets/{ruleset_id}/what-if", setup=ruleset_setup, expect=ANALYST),
    Case("POST", "/api/v1/risk/rulesets/{ruleset_id}/publish", setup=ruleset_setup, expect=ANALYST),
    Case("GET", "/api/v1/risk/models", expect=INTERNAL),
    Case("POST", "/api/v1/risk/models/{model_id}/promote", setup=model_setup, body={"role": "challenger"}, expect=ANALYST),
    Case("GET", "/api/v1/risk/reviews", expect=REVIEWERS),
    Case("POST", "/api/v1/risk/reviews/{review_id}/decide", setup=referral_setup, body={"outcome": "decline", "note": "n"}, expect=ANALYST),
    Case("GET", "/api/v1/risk/features/{customer_id}", setup=features_setup, expect=ANALYST),
    Case("GET", "/api/v1/risk/rings", expect=ANALYST),
    Case("GET", "/api/v1/risk/monitoring", expect=INTERNAL),
]  # fmt: skip


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(actors, case, kind):
    run_case(actors, case, kind)


@pytest.mark.django_db
def test_decision_api_round_trip_and_idempotency(actors):
    user = customer()
    body = {**DECISION_BODY, "customer_user_id": str(user.pk), "application_ref": "finance:application:rt",
            "product_limits": {"min_amount": "1000.00", "max_amount": "300000.00", "max_ltv": "0.8"}, "device_id": "dev-rt"}  # fmt: skip
    headers = {"Idempotency-Key": "k-1"}
    first = actors.request("finance_ops", "POST", "/api/v1/risk/decisions", body, headers=headers)
    assert first.status_code == 201, first.content
    doc = first.json()
    assert set(doc) == {
        "decision_id",
        "outcome",
        "approved_amount",
        "price_tier",
        "score",
        "reasons",
        "rule_hits",
        "model_version",
        "latency_ms",
    }
    assert doc["outcome"] == "approve" and doc["approved_amount"] in {"20000.00", "16000.00"}
    again = actors.request("finance_ops", "POST", "/api/v1/risk/decisions", body, headers=headers)
    assert again.json()["decision_id"] == doc["decision_id"] and again["Idempotent-Replayed"] == "true"
    reused = actors.request("finance_ops", "POST", "/api/v1/risk/decisions", {**body, "amount": "30000.00"}, headers=headers)
    assert reused.status_code == 422
    assert CreditDecision.objects.count() == 1
    detail = actors.request("risk_analyst", "GET", f"/api/v1/risk/decisions/{doc['decision_id']}").json()
    assert detail["context"]["stages"]["score"] in {"approve", "refer"} and "policy" not in detail["context"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("changes", "pointer"),
    [({"amount": "12.345"}, "/amount"), ({"amount": "-5"}, "/amount"), ({"term_months": 0}, None), ({"customer_user_id": "nope"}, None)],
)
def test_decision_api_bad_input_is_422_without_change(actors, changes, pointer):
    user = customer()
    body = {**DECISION_BODY, "customer_user_id": str(user.pk), **changes}
    response = actors.request("ops", "POST", "/api/v1/risk/decisions", body)
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/problem+json")
    if pointer:
        assert response.json()["errors"][0]["pointer"] == pointer
    assert CreditDecision.objects.count() == 0


@pytest.mark.django_db
def test_blacklist_api_masks_values(actors):
    created = actors.request(
        "risk_analyst", "POST", "/api/v1/risk/blacklist", {"kind": "id_number", "value": "110105199001011234", "reason": "冒用身份"}
    )
    assert created.status_code == 201
    assert created.json()["value_masked"] == "1101**********1234"
    listed = actors.request("ops", "GET", "/api/v1/risk/blacklist").content.decode()
    assert "110105199001011234" not in listed
    check = actors.request("finance_ops", "POST", "/api/v1/risk/blacklist/check", {"kind": "id_number", "value": "110105199001011234"})
    assert check.json() == {"kind": "id_number", "blacklisted": True}
    bad = actors.request("risk_analyst", "POST", "/api/v1/risk/blacklist", {"kind": "email", "value": "x", "reason": "y"})
    assert bad.status_code == 422


@pytest.mark.django_db
def test_review_and_promotion_api(actors):
    result = services.decide(request(customer(), monthly_income_fen=150_000))
    review = ReviewCase.objects.get(decision_id=result.decision_id)
    queue = actors.request("ops", "GET", "/api/v1/risk/reviews").json()
    assert [r["id"] for r in queue] == [str(review.pk)] and queue[0]["overdue"] is False
    done = actors.request(
        "risk_analyst",
        "POST",
        f"/api/v1/risk/reviews/{review.pk}/decide",
        {"outcome": "approve", "approved_amount": "20000.00", "price_tier": "C"},
    )
    assert done.status_code == 200 and done.json()["status"] == "approved" and done.json()["approved_amount"] == "20000.00"
    twice = actors.request("risk_analyst", "POST", f"/api/v1/risk/reviews/{review.pk}/decide", {"outcome": "approve"})
    assert twice.status_code == 409
    mv = services.register_model(platform_model.BUILTIN_DIR, actor="t")
    promoted = actors.request("risk_analyst", "POST", f"/api/v1/risk/models/{mv.pk}/promote", {"role": "champion"})
    assert promoted.json()["role"] == "champion" and ModelVersion.objects.get(pk=mv.pk).promoted_by.startswith("user:")


# The HTTP side of the decision path's query budget (the service's is in test_decisions.py): the API token, the
# caller's roles and memberships (one query), the Idempotency-Key lookup and record (inside a savepoint here: the test runs in
# a transaction). The blacklist check is the stack's floor in bench/bench_risk_decision_api.py: the same
# authentication and one indexed read.
HTTP_QUERIES = 2  # token, roles with memberships


def _decision_body(user, ref: str) -> dict:
    return {"application_ref": ref, "product_kind": "cash_loan", "customer_user_id": str(user.pk), "amount": "30000.00",
            "term_months": 12, "monthly_income": "20000.00", "device_id": "dev-http-1", "ip": "10.1.2.3",
            "product_limits": {"min_amount": "1000.00", "max_amount": "200000.00", "max_term_months": 36}}  # fmt: skip


@pytest.mark.django_db
def test_decision_api_stays_within_its_query_budget(actors, django_assert_num_queries):
    from .test_decisions import DECISION_QUERIES_KNOWN_CUSTOMER

    user = customer()
    first = actors.request("finance_ops", "POST", "/api/v1/risk/decisions", _decision_body(user, "budget:1"), {"Idempotency-Key": "b1"})
    assert first.status_code == 201
    # + the key's lookup and record, the savepoint's two statements, and the review (a second application in 24 h)
    with django_assert_num_queries(HTTP_QUERIES + 2 + 2 + DECISION_QUERIES_KNOWN_CUSTOMER + 1):
        response = actors.request("finance_ops", "POST", "/api/v1/risk/decisions", _decision_body(user, "budget:2"), {"Idempotency-Key": "b2"})
    assert response.status_code == 201 and response.json()["outcome"] == "refer"


@pytest.mark.django_db
def test_blacklist_check_is_one_indexed_read_after_authentication(actors, django_assert_num_queries):
    services.add_to_blacklist(kind="device", value="dev-floor-1", reason="测试", actor="t")
    actors.request("risk_analyst", "GET", "/api/v1/risk/blacklist")  # the token's last use is recorded (once a minute)
    with django_assert_num_queries(HTTP_QUERIES + 1):
        response = actors.request("risk_analyst", "POST", "/api/v1/risk/blacklist/check", {"kind": "device", "value": "dev-floor-1"})
    assert response.json() == {"kind": "device", "blacklisted": True}
