"""The car owner's pages on a phone (390×844) and a desktop: nothing overflows sideways, controls are big enough to
tap, the menu opens from a button and tables become cards."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import fits, shot, sign_in
from tests.browser.owner_world import OwnerWorld

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_every_owner_page_fits(sized_page: Any, owner: OwnerWorld) -> None:
    sign_in(sized_page, owner.user)
    for name, path in owner.pages().items():
        response = sized_page.goto(path)
        assert response.status == 200, f"{path} answered {response.status}"
        fits(sized_page)
        shot(sized_page, name)


def test_phone_header_is_a_menu_and_tables_are_cards(sized_page: Any, owner: OwnerWorld) -> None:
    sign_in(sized_page, owner.user)
    sized_page.goto("/commerce/orders/")
    nav = sized_page.locator("nav.main")
    if not sized_page.phone:
        assert nav.is_visible() and not sized_page.locator(".menu-button").is_visible()
        return
    assert not nav.is_visible(), "the navigation is folded away on a phone"
    assert sized_page.locator("header.top").bounding_box()["height"] <= 60
    sized_page.click(".menu-button")
    assert nav.is_visible()
    sized_page.click("nav.main >> text=车辆订单")
    sized_page.wait_for_url("**/commerce/orders/")
    cell = sized_page.locator("table.cards tbody td").first
    assert cell.get_attribute("data-label") == "下单时间"
    assert sized_page.locator("table.cards thead").is_hidden()
