"""A referred application is settled by the risk analyst's decision (event ``risk.review.decided``)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import pytest

from carloop.core.events import publish
from carloop.finance import decisions, services
from carloop.finance.models import Application
from tests.finance.conftest import DISBURSED_ON


@pytest.fixture
def referred(world: Any, monkeypatch: pytest.MonkeyPatch) -> Application:
    def refer(request: Any, observed: Any = None) -> Any:
        result = decisions.rules_decide(request, observed)
        return "risk", dataclasses.replace(result, outcome="refer", approved_amount_fen=None, price_tier=None)

    monkeypatch.setattr(decisions, "decide", refer)
    app = services.apply(world.customer(), world.purchase_input(amount_fen=10_000_000), on=DISBURSED_ON)
    assert app.state == Application.State.REFERRED
    return app


def decided(app: Application, capture: Any, **payload: Any) -> Application:
    with capture(execute=True):
        publish("risk.review.decided", "risk:decision:x", {"application_ref": f"finance:application:{app.pk}", **payload},
                actor="user:analyst")
    app.refresh_from_db()
    return app


def test_analyst_approval_makes_the_offer_at_the_amount_and_tier_approved(referred: Application,
                                                                           django_capture_on_commit_callbacks: Any) -> None:
    app = decided(referred, django_capture_on_commit_callbacks, outcome="approve", approved_amount_fen=8_000_000,
                  price_tier="C")
    assert app.state == Application.State.APPROVED
    assert (app.offer_amount_fen, app.offer_rate) == (8_000_000, Decimal("0.0999"))
    again = decided(app, django_capture_on_commit_callbacks, outcome="decline")  # a replayed or late event
    assert again.state == Application.State.APPROVED
    assert app.decisions.filter(provider="risk-review").count() == 1


def test_analyst_decline_declines_with_a_reason(referred: Application, django_capture_on_commit_callbacks: Any) -> None:
    app = decided(referred, django_capture_on_commit_callbacks, outcome="decline", approved_amount_fen=None)
    assert app.state == Application.State.DECLINED
    assert [r["code"] for r in app.decline_reasons] == ["manual_review"]


def test_a_tier_the_product_lacks_is_priced_at_its_highest_rate(referred: Application,
                                                                 django_capture_on_commit_callbacks: Any) -> None:
    app = decided(referred, django_capture_on_commit_callbacks, outcome="approve", approved_amount_fen=None, price_tier="E")
    assert (app.offer_amount_fen, app.offer_rate) == (10_000_000, Decimal("0.0999"))
