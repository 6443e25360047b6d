"""The demand report is analysed once per campaign version: a new or edited answer, or a changed campaign, makes
the next report analyse again; until then every view of it is served from the cache."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from carloop.commerce import selectors, services
from carloop.commerce.models import Campaign
from tests.commerce.factories import as_subject, make_campaign
from tests.commerce.test_api import ANSWERS

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    cache.clear()
    calls: list[int] = []
    analyse = selectors.analysis.demand_report

    def counting(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return analyse(*args, **kwargs)

    monkeypatch.setattr(selectors.analysis, "demand_report", counting)
    return calls


def _answer(campaign: Campaign, user: Any, **change: Any) -> None:
    services.answer_campaign(as_subject(user), campaign_id=campaign.pk, answers={**ANSWERS["answers"], **change})


def test_the_report_is_analysed_once_per_version(actors: Any, analyses: list[int]) -> None:
    campaign = make_campaign(actors.org("manufacturer_analyst"))
    _answer(campaign, actors.user("customer"))
    first = selectors.demand_report(campaign)
    assert selectors.demand_report(Campaign.objects.get(pk=campaign.pk)) == first
    assert len(analyses) == 1
    _answer(campaign, actors.user("other_customer"))  # a new answer
    selectors.demand_report(campaign)
    assert len(analyses) == 2
    _answer(campaign, actors.user("customer"), colour="pink")  # an edited answer
    selectors.demand_report(campaign)
    assert len(analyses) == 3
    selectors.demand_report(campaign)
    assert len(analyses) == 3


def test_a_changed_campaign_is_analysed_again(actors: Any, analyses: list[int]) -> None:
    campaign = make_campaign(actors.org("manufacturer_analyst"))
    _answer(campaign, actors.user("customer"))
    selectors.demand_report(campaign)
    closed = services.close_campaign(as_subject(actors.user("manufacturer_analyst")), campaign_id=campaign.pk)
    assert selectors.demand_report(closed)["status"] == "closed"
    assert len(analyses) == 2
