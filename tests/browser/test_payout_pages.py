"""Finance operations at a desk (1280×900): one operator prepares a payout batch, a second approves it after
confirming (the first is told to ask someone else), the payout is paid on the provider's word; the reconciliation
page then shows the merchant's accounts reconciled."""

from __future__ import annotations

from typing import Any

import pytest

from carloop.identity import services as identity
from carloop.payments.models import Payout
from tests.browser.conftest import fits, screenshot, sign_in
from tests.payments.test_payouts import owed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def operator(username: str) -> Any:
    return identity.create_staff_user(username=username, password="Tr0ub4dour&3x", display_name=username,
                                      platform_roles=("finance_ops",))


def test_prepare_then_a_second_operator_approves_and_the_money_reconciles(
        browser: Any, live_server: Any, actors: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 250_000)  # 2,475.00 net at 1 %
    first, second = (browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
                     for _ in range(2))
    preparer, approver = first.new_page(), second.new_page()
    for page, name in ((preparer, "fo-prepare"), (approver, "fo-approve")):
        page.base_url = live_server.url
        sign_in(page, operator(name))

    preparer.goto("/payments/payouts/?lang=en")
    preparer.once("dialog", lambda dialog: dialog.accept())
    preparer.click("text=Prepare a payout batch >> nth=-1")
    preparer.wait_for_url("**/payments/payouts/*-*/")
    assert dealer.name in preparer.inner_text("main") and "¥2,475.00" in preparer.inner_text("main")
    assert preparer.locator("button", has_text="Approve and pay out").count() == 0
    assert "another finance operator" in preparer.inner_text("main")
    fits(preparer)

    approver.goto(preparer.url + "?lang=en")
    dismissed: list[str] = []
    approver.once("dialog", lambda dialog: (dismissed.append(dialog.message), dialog.dismiss()))
    approver.click("button:has-text('Approve and pay out')")
    assert "¥2,475.00" in dismissed[0] and Payout.objects.get().state == "pending"  # cancelled: nothing happened
    approver.once("dialog", lambda dialog: dialog.accept())
    approver.click("button:has-text('Approve and pay out')")
    approver.wait_for_selector("text=Approved: the payouts are on their way")
    assert "Paid" in approver.inner_text("table") and Payout.objects.get().state == "paid"
    screenshot(approver, "payout-batch")

    approver.goto("/payments/reconciliation/?lang=en")
    text = approver.inner_text("main")
    assert "¥2,475.00" in text and dealer.name in text  # paid out today
    assert approver.locator("td.bad").count() == 0  # clearing and the dealer reconcile
    fits(approver)
    screenshot(approver, "reconciliation")
    first.close()
    second.close()
