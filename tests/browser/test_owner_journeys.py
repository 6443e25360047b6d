"""The car owner's journeys end somewhere, on a phone and on a desktop: a loan decided at once and signed after
reading the contract, a survey that keeps what was typed, a cancelled loan that asks for nothing."""

from __future__ import annotations

from typing import Any

import pytest

from carloop.commerce import services as commerce
from tests.browser.conftest import fits, shot, sign_in
from tests.browser.owner_world import OwnerWorld
from tests.commerce.factories import OPERATIONS, make_trim, pay_deposit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


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


def test_find_a_car_by_text_then_book_and_cancel_a_test_drive(sized_page: Any, owner: OwnerWorld) -> None:
    page = sized_page
    sign_in(page, owner.user)
    page.goto("/commerce/")
    page.fill("input[name=q]", owner.order.trim.series.name_zh)
    page.click("button:has-text('筛选')")
    page.wait_for_url("**q=**")
    assert page.locator("table.cards tbody tr").count() == 1
    fits(page)
    shot(page, "journey-search")
    page.goto(f"/commerce/test-drives/?series={owner.order.trim.series_id}")
    page.click("button:has-text('预约')")
    page.wait_for_selector("text=我的试驾预约")
    fits(page)
    shot(page, "journey-test-drive")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('取消预约')")
    page.wait_for_selector("text=试驾预约已取消")
    assert page.locator("text=我的试驾预约").count() == 0


def test_sent_reminders_are_in_the_inbox(sized_page: Any, owner: OwnerWorld) -> None:
    from carloop.core import notifications

    notifications.notify(f"user:{owner.user.pk}", "sms", "t-reminder", "您的贷款第 2 期将于 3 天后到期，应还 ¥3,087.25",
                         "Instalment 2 of your loan is due in 3 days: ¥3,087.25")
    notifications.send_pending()
    page = sized_page
    sign_in(page, owner.user)
    page.goto("/")
    if page.phone:
        page.click(".menu-button")
    page.click("nav.main >> text=消息")
    page.wait_for_url("**/me/inbox/")
    assert "第 2 期将于 3 天后到期" in page.inner_text("main")
    fits(page)
    shot(page, "journey-inbox")
