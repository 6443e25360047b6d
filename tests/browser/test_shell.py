"""Walk through the site shell as a person would: sign up, verify, switch language, sign out and in."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import screenshot
from tests.harness import sent_code

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_sign_up_verify_and_switch_language(page: Any) -> None:
    page.goto("/")
    assert "欢迎来到 carloop" in page.content()
    page.click("text=注册")
    page.fill("input[name=phone]", "13700137000")
    page.click("button:has-text('获取验证码')")
    page.wait_for_selector("text=验证码已发送")
    page.fill("input[name=code]", sent_code("13700137000"))
    page.fill("input[name=display_name]", "陈晨")
    page.fill("input[name=password]", "Tr0ub4dour&3x")
    page.click("button:has-text('注册')")
    page.wait_for_url("**/me/")
    page.fill("input[name=real_name]", "陈晨")
    page.fill("input[name=id_number]", "11010519491231002X")
    page.click("button:has-text('提交认证')")
    page.wait_for_selector("text=已认证")
    assert "1101**********002X" in page.content()
    screenshot(page, "profile-zh")
    page.click("text=English")
    page.wait_for_selector("text=Verified")
    screenshot(page, "profile-en")
    page.click("button:has-text('Sign out')")
    page.click("text=Sign in")
    page.fill("input[name=username]", "13700137000")
    page.fill("input[name=password]", "Tr0ub4dour&3x")
    page.click("button[type=submit]")
    page.wait_for_selector("text=Hello, 陈晨")
    screenshot(page, "home-customer-en")


def test_wrong_password_is_refused_politely(page: Any) -> None:
    page.goto("/login/")
    page.fill("input[name=username]", "nobody")
    page.fill("input[name=password]", "wrong-password")
    page.click("button[type=submit]")
    assert page.locator(".errorlist").inner_text() == "用户名/手机号或密码不正确"
