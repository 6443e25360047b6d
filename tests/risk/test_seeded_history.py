"""A demo story told after the fact moves its credit checks into the past, out of the velocity windows."""

from __future__ import annotations

from datetime import timedelta

import pytest

from carloop.risk import services
from carloop.risk.models import ReviewCase
from tests.risk.factories import customer, request

pytestmark = pytest.mark.django_db


def velocity_hits(result) -> set[str]:
    return {hit for hit in result.rule_hits if hit.startswith("F_VEL")}


def test_moved_decisions_no_longer_count_as_recent_applications() -> None:
    user = customer()
    services.decide(request(user, monthly_income_fen=2_000_000))
    assert {"F_VEL_ID", "F_VEL_PHONE"} <= velocity_hits(services.decide(request(user, monthly_income_fen=2_000_000)))
    review = ReviewCase.objects.get(decision__customer_user_id=user.pk)
    due = review.due_at
    assert services.move_recent_decisions_back(user.pk, by=timedelta(days=30), window=services.VELOCITY_WINDOW) == 2
    review.refresh_from_db()
    assert review.due_at == due - timedelta(days=30), "its review's SLA moves with it"
    assert velocity_hits(services.decide(request(user, monthly_income_fen=2_000_000))) == set()
