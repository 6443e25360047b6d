"""Script-driven pages work in a browser (a page can answer 200 and still show empty canvases)."""

from __future__ import annotations

from typing import Any

import pytest

from carloop.identity import services as identity
from carloop.risk import services as risk
from tests.browser.conftest import screenshot
from tests.risk.factories import customer, request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_risk_dashboard_charts_have_data(page: Any) -> None:
    risk.decide(request(customer()))
    risk.decide(request(customer(), monthly_income_fen=150_000))
    identity.create_staff_user(username="analyst", password="Tr0ub4dour&3x", platform_roles=("risk_analyst",))
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/login/?next=/risk/")
    page.fill("input[name=username]", "analyst")
    page.fill("input[name=password]", "Tr0ub4dour&3x")
    page.click("button[type=submit]")
    page.wait_for_url("**/risk/")
    page.wait_for_function("() => window.Chart && Chart.getChart('daily') && Chart.getChart('scores')")
    daily = page.evaluate("() => Chart.getChart('daily').data.datasets.map(d => d.data.reduce((a, b) => a + (b || 0), 0))")
    scores = page.evaluate("() => Chart.getChart('scores').data.labels.length")
    screenshot(page, "risk-dashboard")
    assert errors == []
    assert sum(daily[:3]) == 2  # approve + refer + decline bars count both decisions
    assert scores > 0


def test_api_docs_render_without_a_cdn(page: Any) -> None:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto("/api/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=15_000)
    assert errors == []
