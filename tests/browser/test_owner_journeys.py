"""The car owner's journeys end somewhere, on a phone and on a desktop: a loan decided at once and signed after
reading the contract, a survey that keeps what was typed, a cancelled loan that asks for nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from carloop.commerce import services as commerce
from carloop.finance import ledger_accounts
from tests.browser.conftest import fits, shot, sign_in
from tests.browser.owner_world import OwnerWorld
from tests.commerce.factories import OPERATIONS, make_trim, pay_deposit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


@pytest.fixture
def owner(actors: Any, settings: Any) -> Iterator[OwnerWorld]:
    settings.CARLOOP_DECISION_PROVIDER = "rules"
    ledger_accounts.clear_cache()  # each test's database is new: cached account ids are not
    yield OwnerWorld(actors)
    ledger_accounts.clear_cache()


def test_a_purchase_loan_is_decided_at_once_and_signed_after_reading_the_contract(sized_page: Any, owner: OwnerWorld) -> None:
    page = sized_page
    order = commerce.create_order(owner.customer(), trim_id=make_trim(msrp_yuan=150_000).pk, colour_code="white")
    pay_deposit(order)
    sign_in(page, owner.user)
    page.goto(f"/commerce/orders/{order.pk}/")
    page.click("text=申请购车分期支付尾款")
    page.wait_for_url("**/finance/apply/**")
    assert page.locator("input[name=order_ref]").get_attribute("type") == "hidden"
    assert "预计月供" in page.inner_text("#preview")
    fits(page)
    shot(page, "journey-apply")
    page.fill("input[name=monthly_income]", "30000")
    page.check("input[name=consent]")
    page.click("button:has-text('提交申请')")
    page.wait_for_url("**/finance/applications/**")
    assert "已批准" in page.inner_text("h1"), "decided at once, not referred"
    fits(page)
    shot(page, "journey-offer")
    with page.expect_popup() as popup:
        page.click("a.button:has-text('阅读借款合同')")
    contract = popup.value
    contract.wait_for_load_state()
    assert "汽车消费借款合同" in contract.content() and "尚未签署" in contract.content()
    contract.close()
    page.check("input[name=agree]")
    page.click("button:has-text('电子签约并放款')")
    page.wait_for_url("**/finance/loans/**")
    assert "签约成功" in page.content() and "当期应还" in page.content()
    fits(page)
    shot(page, "journey-loan")


def test_the_survey_keeps_what_was_typed_when_the_prices_do_not_ascend(sized_page: Any, owner: OwnerWorld) -> None:
    page = sized_page
    sign_in(page, owner.user)
    page.goto(f"/commerce/campaigns/{owner.campaign.pk}/")
    for name in ("exterior", "colour", "range"):
        page.locator(f"input[name={name}]").first.check()
    page.locator("input[name=features]").first.check()
    for name, value in (("price", "79800"), ("vw_too_cheap", "95000"), ("vw_cheap", "65000"), ("vw_expensive", "90000"),
                        ("vw_too_expensive", "110000")):
        page.fill(f"input[name={name}]", value)
    page.click("button:has-text('提交')")
    page.wait_for_selector("[role=alert]")
    assert page.locator("text=四个价格应从低到高").count() == 1
    assert page.input_value("input[name=vw_too_cheap]") == "95000" and page.input_value("input[name=price]") == "79800"
    assert page.locator("input[name=exterior]").first.is_checked()
    fits(page)
    shot(page, "journey-survey-error")


def test_a_cancelled_loan_asks_for_nothing(sized_page: Any, owner: OwnerWorld, django_capture_on_commit_callbacks: Any) -> None:
    page = sized_page
    with django_capture_on_commit_callbacks(execute=True):
        loan = owner.sign_offer()
    with django_capture_on_commit_callbacks(execute=True):
        commerce.seller_cannot_deliver(OPERATIONS, order_id=owner.order.pk, reason="停产")
    sign_in(page, owner.user)
    page.goto(f"/finance/loans/{loan.pk}/")
    text = page.inner_text("main")
    assert "无需继续还款" in text and "当期应还" not in text and "未还" not in text
    fits(page)
