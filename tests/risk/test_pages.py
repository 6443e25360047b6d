import pytest
from django.test import Client

from carloop.risk import services
from carloop.risk.models import ReviewCase

from .factories import customer, request

pytestmark = pytest.mark.django_db


def client_for(actors, kind):
    c = Client()
    c.force_login(actors.user(kind))
    return c


def test_dashboard_with_charts(actors):
    services.decide(request(customer()))
    services.decide(request(customer(), monthly_income_fen=150_000))
    page = client_for(actors, "risk_analyst").get("/risk/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "风控看板" in html and 'id="scores"' in html and "chart-4.6.1" in html and "risk-charts" in html
    english = client_for(actors, "ops").get("/risk/?lang=en").content.decode()
    assert "Risk dashboard" in english


@pytest.mark.parametrize("kind", ["customer", "store_manager", "lender_analyst"])
def test_pages_are_for_operators_only(actors, kind):
    c = client_for(actors, kind)
    for url in ("/risk/", "/risk/reviews/", "/risk/rings/"):
        assert c.get(url).status_code == 403
    assert Client().get("/risk/").status_code == 302


def test_review_queue_and_decision_from_the_page(actors):
    result = services.decide(request(customer(), monthly_income_fen=150_000))
    review = ReviewCase.objects.get(decision_id=result.decision_id)
    c = client_for(actors, "risk_analyst")
    html = c.get("/risk/reviews/").content.decode()
    assert "P_DTI_REFER" in html and "剩余" in html
    response = c.post(f"/risk/reviews/{review.pk}/decide/", {"outcome": "approve", "approved_amount": "25000.00", "price_tier": "C"})
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == "approved" and review.approved_amount_fen == 2_500_000
    ops_html = client_for(actors, "ops").get("/risk/reviews/?status=approved").content.decode()
    assert "approved" in ops_html.lower() or "已通过" in ops_html
    assert "/decide/" not in ops_html  # ops may watch the queue, analysts decide
    detail = c.get(f"/risk/decisions/{result.decision_id}/").content.decode()
    assert "P_DTI_REFER" in detail and "dti_pct" in detail


def test_ring_report_page(actors):
    people = [customer() for _ in range(3)]
    for person in people:
        services.decide(request(person, device_id="ring-device-7"))
    html = client_for(actors, "risk_analyst").get("/risk/rings/").content.decode()
    assert "3 名客户" in html and "device" in html


def test_rule_set_editor_what_if_and_publish(actors):
    import json

    from carloop.risk import policy
    from carloop.risk.models import PolicyRuleSet

    services.decide(request(customer(), monthly_income_fen=300_000))
    c = client_for(actors, "risk_analyst")
    assert "P_DTI_HIGH" in c.get("/risk/rules/").content.decode()
    bad = c.post("/risk/rules/", {"rules": '[{"code": "X"}]', "note": "broken"}, follow=True).content.decode()
    assert "/0/action" in bad and PolicyRuleSet.objects.count() == 1
    stricter = [r for r in policy.DEFAULT_RULES if r["code"] != "P_DTI_REFER"] + [
        {
            "code": "P_DTI_STRICT",
            "action": "decline",
            "when": {"field": "dti", "op": "gt", "value": "0.10"},
            "zh": "收入不足",
            "en": "Income too low",
        }
    ]
    c.post("/risk/rules/", {"rules": json.dumps(stricter), "note": "stricter"})
    draft = PolicyRuleSet.objects.get(version=2)
    html = c.post(f"/risk/rules/{draft.pk}/what-if/", follow=True).content.decode()
    assert "模拟结果" in html
    c.post(f"/risk/rules/{draft.pk}/publish/")
    draft.refresh_from_db()
    assert draft.status == "published"
    viewer = client_for(actors, "ops").get("/risk/rules/").content.decode()
    assert "保存草稿" not in viewer
