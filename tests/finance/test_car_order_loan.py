"""The loop from a car order to a purchase instalment: the loan's disbursement pays the order's balance."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest

from carloop.commerce import services as commerce
from carloop.commerce.models import OrderState
from carloop.core.errors import Problem
from carloop.finance import services
from carloop.finance.models import Application
from tests.commerce.factories import make_trim, pay_balance, pay_deposit
from tests.finance.conftest import DISBURSED_ON
from tests.finance.test_pages import login


def test_purchase_instalment_for_an_order_pays_its_balance(world: Any, django_capture_on_commit_callbacks: Any) -> None:
    subject = world.customer()
    order, app = world.order_with_offer(subject)
    loan_fen = order.total_fen * 8 // 10  # the product's 20 % minimum down payment
    with django_capture_on_commit_callbacks(execute=True):
        loan = services.accept_offer(subject, app.pk, agree=True, on=DISBURSED_ON)
    order.refresh_from_db()
    assert (order.state, order.balance_method, order.balance_reference) == (OrderState.DEPOSIT_PAID, "loan", str(loan.pk))
    assert order.balance_loan_fen == loan_fen
    pay_balance(order)  # the down payment, at the cashier
    assert (order.state, order.balance_held_fen) == (OrderState.BALANCE_PAID, order.balance_due_fen - loan_fen)


def test_order_page_links_to_a_filled_in_application(world: Any, actors: Any) -> None:
    subject = world.customer()
    order = commerce.create_order(subject, trim_id=make_trim(msrp_yuan=150_000).pk, colour_code="white")
    pay_deposit(order)
    client = login(actors, "customer")
    page = client.get(f"/commerce/orders/{order.pk}/").content.decode()
    link = re.search(r'href="(/finance/apply/\?[^"]+)"', page)
    assert link is not None
    form = client.get(html.unescape(link.group(1))).content.decode()
    assert f'value="{order.ref}"' in form and 'value="120000.00"' in form  # 80 % of ¥150,000
    assert f'value="{world.dealer.pk}" selected' in form


def test_a_loan_for_a_platform_order_must_match_the_order(world: Any, actors: Any) -> None:
    subject = world.customer()
    order = commerce.create_order(subject, trim_id=make_trim(msrp_yuan=150_000).pk, colour_code="white")

    def attempt(who: Any = subject, **changes: Any) -> str:
        fields = {"product": "car-purchase", "amount_fen": 10_000_000, "term": 36, "consent": True,
                  "order_ref": order.ref, "merchant_org_id": world.dealer.pk, "car_price_fen": order.total_fen} | changes
        with pytest.raises(Problem) as info:
            services.apply(who, services.ApplicationInput(**fields), on=DISBURSED_ON)
        return info.value.slug

    assert attempt() == "invalid-application"  # the deposit is not paid yet: no balance to fund
    pay_deposit(order)
    order.refresh_from_db()
    assert attempt(who=world.customer("other_customer")) == "invalid-application"
    assert attempt(car_price_fen=order.total_fen * 2, amount_fen=order.total_fen) == "invalid-application"  # inflated
    assert Application.objects.count() == 0
