"""The partner's daily statement carries its balances from day to day: the pool's cash and, beside it, the
principal its borrowers owe it (the receivable); the demo's seeded book is yesterday's story."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from carloop.core.timeutil import business_date
from carloop.finance import selectors
from carloop.finance.seed import _history_until_yesterday
from tests.finance import cashier

from .conftest import World

pytestmark = pytest.mark.django_db


def _loan_repaid_once(world: World) -> Any:
    loan = world.loan()
    first = loan.installments.get(period=1)
    cashier.repay(world.customer(), loan.pk, amount_fen=first.owed_fen, on=first.due_date)
    return loan


def test_a_day_without_movements_carries_both_balances_over(world: World) -> None:
    _loan_repaid_once(world)
    today = selectors.daily_statement(world.partner.pk, business_date())
    outstanding = selectors.portfolio(world.partner.pk).outstanding_fen
    assert today.receivable_opening_fen == 0 and today.receivable_closing_fen == outstanding > 0
    assert today.receivable_moves == {"lent": 7_000_000, "repaid": today.ledger["principal"], "written_off": 0}
    for later in (1, 5):
        quiet = selectors.daily_statement(world.partner.pk, business_date() + timedelta(days=later))
        assert quiet.opening_fen == quiet.closing_fen == today.closing_fen > 0
        assert quiet.receivable_opening_fen == quiet.receivable_closing_fen == outstanding
        assert quiet.reconciled and not quiet.lines and not any(quiet.ledger.values())
    before = selectors.daily_statement(world.partner.pk, business_date() - timedelta(days=1))
    assert before.opening_fen == before.closing_fen == 0 and before.receivable_closing_fen == 0


def test_the_seeded_book_is_yesterdays_story_and_today_opens_where_it_closed(world: World) -> None:
    _loan_repaid_once(world)
    _history_until_yesterday()
    yesterday = selectors.daily_statement(world.partner.pk, business_date() - timedelta(days=1))
    assert yesterday.reconciled, (yesterday.ledger, yesterday.loans)
    assert yesterday.ledger["capital"] > 0 and yesterday.ledger["disbursed"] == 7_000_000
    assert yesterday.ledger["principal"] == yesterday.loans["principal"] > 0
    assert yesterday.receivable_closing_fen == selectors.portfolio(world.partner.pk).outstanding_fen > 0
    today = selectors.daily_statement(world.partner.pk, business_date())
    assert today.opening_fen == today.closing_fen == yesterday.closing_fen
    assert today.receivable_opening_fen == yesterday.receivable_closing_fen and today.reconciled


def test_the_partner_page_shows_the_receivable_beside_the_pool(world: World, actors: Any) -> None:
    _loan_repaid_once(world)
    client = Client()
    client.force_login(actors.user("lender_analyst"))
    page = client.get(f"/finance/partners/{world.partner.pk}/?day={business_date().isoformat()}").content.decode()
    outstanding = selectors.portfolio(world.partner.pk).outstanding_fen
    assert "应收本金" in page and f"¥{outstanding // 100:,}.{outstanding % 100:02d}" in page
    assert "放款" in page and ">disbursed<" not in page, "movements are labelled, not shown as codes"
