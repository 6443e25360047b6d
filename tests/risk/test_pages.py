import json

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
    assert "决策数" in html and "评分区间" in html and "Decisions" not in html  # axes in the page's language
    english = client_for(actors, "ops").get("/risk/?lang=en").content.decode()
    assert "Risk dashboard" in english and "Score band" in english and "评分区间" not in english


@pytest.mark.parametrize("kind", ["customer", "store_manager", "lender_analyst"])
def test_pages_are_for_operators_only(actors, kind):
    c = client_for(actors, kind)
    for url in ("/risk/", "/risk/reviews/", "/risk/rings/", "/risk/blacklist/"):
        assert c.get(url).status_code == 403
    assert Client().get("/risk/").status_code == 302


@pytest.mark.parametrize(("kind", "shown", "hidden"), [
    ("finance_ops", [], ["/risk/reviews/", "/risk/rings/"]),
    ("ops", ["/risk/reviews/"], ["/risk/rings/"]),
    ("risk_analyst", ["/risk/reviews/", "/risk/rings/"], []),
])  # fmt: skip
def test_risk_pages_link_only_to_what_the_viewer_may_open(actors, kind, shown, hidden):
    c = client_for(actors, kind)
    html = c.get("/risk/").content.decode()
    for url in shown:
        assert f'href="{url}"' in html and c.get(url).status_code == 200
    for url in hidden:
        assert f'href="{url}' not in html and c.get(url).status_code == 403


def test_review_queue_shows_applicant_rules_and_sla_and_decides_after_confirmation(actors):
    applicant = customer()
    result = services.decide(request(applicant, monthly_income_fen=150_000))
    review = ReviewCase.objects.get(decision_id=result.decision_id)
    c = client_for(actors, "risk_analyst")
    html = c.get("/risk/reviews/").content.decode()
    assert "王** · " + applicant.test_phone[:3] + "****" + applicant.test_phone[-4:] in html  # masked applicant
    assert "P_DTI_REFER" in html and "月供超过申报月收入的 50%" in html and "剩余" in html and "¥30,000.00" in html
    assert f"/risk/reviews/{review.pk}/" in html and "/decide/" not in html  # decided on its own page
    detail = c.get(f"/risk/reviews/{review.pk}/").content.decode()
    assert 'class="approve"' in detail and 'class="decline"' in detail and "dti_pct" in detail
    asked = c.post(f"/risk/reviews/{review.pk}/decide/", {"outcome": "approve", "approved_amount": "25000.00", "price_tier": "C"})
    assert asked.status_code == 200 and "确认通过" in asked.content.decode() and "¥25,000.00" in asked.content.decode()
    review.refresh_from_db()
    assert review.status == "open"  # nothing recorded before the confirmation
    too_much = c.post(f"/risk/reviews/{review.pk}/decide/", {"outcome": "approve", "approved_amount": "90000.00"}, follow=True)
    assert "批准金额须大于 0 且不超过申请金额" in too_much.content.decode()
    response = c.post(f"/risk/reviews/{review.pk}/decide/",
                      {"outcome": "approve", "approved_amount": "25000.00", "price_tier": "C", "confirmed": "yes"})  # fmt: skip
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.status == "approved" and review.approved_amount_fen == 2_500_000
    ops = client_for(actors, "ops")
    assert "P_DTI_REFER" in ops.get("/risk/reviews/?status=approved").content.decode()
    assert "/decide/" not in ops.get(f"/risk/reviews/{review.pk}/").content.decode()  # ops may watch, analysts decide
    assert ops.post(f"/risk/reviews/{review.pk}/decide/", {"outcome": "decline", "confirmed": "yes"}).status_code == 403
    detail = c.get(f"/risk/decisions/{result.decision_id}/").content.decode()
    assert "P_DTI_REFER" in detail and "dti_pct" in detail


def test_review_queue_filters_sorts_and_pages(actors):
    from carloop.risk import views

    small = services.decide(request(customer(), amount_fen=2_000_000, monthly_income_fen=100_000))
    large = services.decide(request(customer(), amount_fen=4_000_000, monthly_income_fen=200_000, product_kind="car_secured"))
    c = client_for(actors, "risk_analyst")
    by_amount = c.get("/risk/reviews/?sort=amount").content.decode()
    assert by_amount.index("¥40,000.00") < by_amount.index("¥20,000.00")
    smallest_first = c.get("/risk/reviews/?sort=amount_asc").content.decode()
    assert smallest_first.index("¥20,000.00") < smallest_first.index("¥40,000.00")
    only_secured = c.get("/risk/reviews/?product=car_secured").content.decode()
    assert "¥40,000.00" in only_secured and "¥20,000.00" not in only_secured
    assert "¥40,000.00" not in c.get("/risk/reviews/?status=approved").content.decode()
    assert "队列为空" in c.get("/risk/reviews/?sla=overdue").content.decode()  # both are within their SLA
    ReviewCase.objects.filter(decision_id=small.decision_id).update(due_at="2020-01-01T00:00:00Z")
    overdue = c.get("/risk/reviews/?sla=overdue").content.decode()
    assert "¥20,000.00" in overdue and "¥40,000.00" not in overdue and "已超时" in overdue
    assert large.outcome == small.outcome == "refer"
    views.REVIEWS_PER_PAGE, per_page = 1, views.REVIEWS_PER_PAGE
    try:
        first = c.get("/risk/reviews/?sort=amount").content.decode()
        second = c.get("/risk/reviews/?sort=amount&page=2").content.decode()
    finally:
        views.REVIEWS_PER_PAGE = per_page
    assert "¥40,000.00" in first and "¥20,000.00" not in first and "sort=amount&amp;page=2" in first
    assert "¥20,000.00" in second and "第 2 / 2 页" in second


def test_ring_report_page(actors):
    people = [customer() for _ in range(3)]
    for person in people:
        services.decide(request(person, device_id="ring-device-7"))
    html = client_for(actors, "risk_analyst").get("/risk/rings/").content.decode()
    assert "3 名客户" in html and "<td>设备</td>" in html and "cytoscape-3.30.2.min.js" in html
    from carloop.risk.models import GraphNode

    component = str(GraphNode.objects.get(kind="device").component)
    graphs = json.loads(html.split('<script id="ring-graphs" type="application/json">')[1].split("</script>")[0])
    elements = graphs[component]["elements"]
    nodes = [e["data"] for e in elements if "source" not in e["data"]]
    edges = [e["data"] for e in elements if "source" in e["data"]]
    customers = [n for n in nodes if n["kind"] == "customer"]
    assert len(customers) == 3 and len(edges) >= 3 and not graphs[component]["truncated"]
    assert all("*" in n["label"] for n in customers)  # masked names, never user ids
    assert {n["kind"] for n in nodes} >= {"customer", "device"}
    english = client_for(actors, "risk_analyst").get("/risk/rings/?lang=en").content.decode()
    assert "<td>Device</td>" in english and "设备" not in english


def test_rule_set_editor_what_if_and_publish(actors):
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


def test_blacklist_screen_searches_adds_with_expiry_and_removes(actors):
    from carloop.risk import selectors
    from carloop.risk.models import BlacklistEntry

    analyst = client_for(actors, "risk_analyst")
    added = analyst.post("/risk/blacklist/", {"kind": "phone", "value": "139 1234 5678", "reason": "冒用他人身份",
                                              "source": "court", "expires_on": "2099-12-31"})
    assert added.status_code == 302
    entry = BlacklistEntry.objects.get()
    assert entry.value_masked == "139****5678" and entry.source == "court" and entry.expires_at.year == 2099
    assert selectors.is_blacklisted("phone", "13912345678")
    html = analyst.post("/risk/blacklist/", {"identifier": "13912345678"}).content.decode()  # never in a URL
    assert "139****5678" in html and "法院失信名单" in html and "13912345678" not in html
    assert ">court<" not in html and "user:" not in html  # labels and names, never codes or actor ids
    assert BlacklistEntry.objects.count() == 1  # a lookup adds nothing
    assert "139****5678" not in analyst.post("/risk/blacklist/", {"identifier": "13900000000"}).content.decode()
    assert "139****5678" in analyst.get("/risk/blacklist/?q=身份").content.decode()  # the reason
    assert "139****5678" not in analyst.get("/risk/blacklist/?kind=device").content.decode()
    bad = analyst.post("/risk/blacklist/", {"kind": "phone", "value": "13700000000", "reason": "x", "expires_on": "2001-01-01"})
    assert bad.status_code == 200 and "到期日期不能早于今天" in bad.content.decode() and BlacklistEntry.objects.count() == 1
    removed = analyst.post(f"/risk/blacklist/{entry.pk}/remove/")
    assert removed.status_code == 302 and not selectors.is_blacklisted("phone", "13912345678")
    assert "139****5678" in analyst.get("/risk/blacklist/?state=inactive").content.decode()
    assert "139****5678" not in analyst.get("/risk/blacklist/").content.decode()


def test_blacklist_screen_is_read_only_for_other_operators(actors):
    from carloop.risk.models import BlacklistEntry

    services.add_to_blacklist(kind="device", value="dev-bl-1", reason="模拟器设备", actor="t")
    ops = client_for(actors, "ops")
    html = ops.get("/risk/blacklist/?lang=en").content.decode()
    assert "Device" in html and "Add to the blacklist" not in html and "/remove/" not in html
    assert ops.post("/risk/blacklist/", {"kind": "phone", "value": "13912345678", "reason": "x"}).status_code == 403
    entry = BlacklistEntry.objects.get()
    assert ops.post(f"/risk/blacklist/{entry.pk}/remove/").status_code == 403
    assert BlacklistEntry.objects.filter(active=True).count() == 1


def test_removing_an_unknown_blacklist_entry_is_a_404(actors):
    assert client_for(actors, "risk_analyst").post("/risk/blacklist/01a24253-b896-7083-bde7-905eb68ecac2/remove/").status_code == 404


def _posted_rows(html):
    """The rule editor form as the browser would post it (inputs and selected options)."""
    import re

    form = html[html.index('class="rule-form"') : html.index("</form>", html.index('class="rule-form"'))]
    data = {m[0]: m[1] for m in re.findall(r'<input (?:type="hidden" )?name="([^"]+)" value="([^"]*)"', form)}
    for name, body in re.findall(r'<select name="([^"]+)"[^>]*>(.*?)</select>', form, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected', body) or re.search(r'<option value="([^"]*)"', body)
        data[name] = chosen[1]
    for name, body in re.findall(r'<textarea name="([^"]+)"[^>]*>(.*?)</textarea>', form, re.S):
        data[name] = __import__("html").unescape(body)
    return {k: __import__("html").unescape(v) for k, v in data.items()}


def test_rule_form_adds_a_threshold_rule_keeps_input_on_error_saves_what_if_and_publish(actors):
    from carloop.risk.models import PolicyRuleSet

    services.decide(request(customer(), monthly_income_fen=300_000))
    c = client_for(actors, "risk_analyst")
    page = c.get("/risk/rules/").content.decode()
    assert 'name="r8-value" value="0.70"' in page and "月供收入比" in page and "阈值" in page  # P_DTI_HIGH as inputs
    form = _posted_rows(page)
    assert form["rows"] == "12" and form["r0-type"] == "flag" and form["r4-type"] == "limit" and form["r10-type"] == "condition"
    added = c.post("/risk/rules/", {**form, "add": "threshold", "add-rule": "1"}).content.decode()
    assert 'name="rows" value="13"' in added and PolicyRuleSet.objects.count() == 1  # adding saves nothing
    form = _posted_rows(added)
    form.update({"r12-code": "P_DTI_STRICT", "r12-action": "decline", "r12-field": "dti", "r12-op": "gt",
                 "r12-value": "zero point one", "r12-zh": "收入不足", "r12-en": "Income too low", "note": "stricter"})
    bad = c.post("/risk/rules/", {**form, "save": "1"}).content.decode()
    assert PolicyRuleSet.objects.count() == 1
    row = bad[bad.index('id="rule-12"') :]
    row = row[: row.index("</tr>")]
    assert 'value="zero point one"' in row and 'value="收入不足"' in row and 'value="P_DTI_STRICT"' in row
    assert "大小比较需要数字" in row and 'value="dti" selected' in row and 'value="stricter"' in bad
    english = c.post("/risk/rules/?lang=en", {**form, "save": "1"}).content.decode()
    assert "Ordering comparisons need a number" in english and "大小比较" not in english
    form["r12-value"] = "0.10"
    removed = _posted_rows(c.post("/risk/rules/?lang=zh-hans", {**form, "remove": "9"}).content.decode())  # P_DTI_REFER
    assert removed["rows"] == "12" and "P_DTI_REFER" not in removed.values() and removed["r11-value"] == "0.10"
    assert c.post("/risk/rules/", {**removed, "save": "1"}).status_code == 302
    draft = PolicyRuleSet.objects.get(version=2)
    assert draft.status == "draft" and draft.note == "stricter" and draft.rules[:9] == services.ensure_default_ruleset().rules[:9]
    assert draft.rules[-1] == {"code": "P_DTI_STRICT", "action": "decline", "when": {"field": "dti", "op": "gt", "value": "0.10"},
                               "zh": "收入不足", "en": "Income too low"}  # fmt: skip
    page = c.get("/risk/rules/").content.decode()
    assert "v2" in page and 'value="P_DTI_STRICT"' in page and "return confirm(" in page  # the draft is edited next
    html = c.post(f"/risk/rules/{draft.pk}/what-if/", follow=True).content.decode()
    assert "模拟结果" in html and "<td>通过</td><td>拒绝</td>" in html
    c.post(f"/risk/rules/{draft.pk}/publish/")
    draft.refresh_from_db()
    assert draft.status == "published"


def test_ops_see_the_rules_but_cannot_edit_them(actors):
    from carloop.risk import policy
    from carloop.risk.models import PolicyRuleSet

    services.ensure_default_ruleset()
    draft = services.create_ruleset(rules=policy.DEFAULT_RULES, note="copy", actor="test")
    ops = client_for(actors, "ops")
    page = ops.get("/risk/rules/").content.decode()
    assert "申请人未满 18 周岁" in page and "Applicant is under 18" not in page and "v2" in page
    assert "<select" not in page and "<textarea" not in page and "保存草稿" not in page and "/publish/" not in page
    for data in ({"rows": "0", "save": "1"}, {"rules": "[]"}):
        assert ops.post("/risk/rules/", data).status_code == 403
    assert ops.post(f"/risk/rules/{draft.pk}/publish/").status_code == 403
    assert PolicyRuleSet.objects.count() == 2 and PolicyRuleSet.objects.get(pk=draft.pk).status == "draft"
