"""Browser tests: Playwright driving Debian's Chromium against pytest-django's live server."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

from carloop.finance import ledger_accounts
from tests.browser.owner_world import OwnerWorld

CHROMIUM = os.environ.get("CARLOOP_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SCREENSHOTS = os.environ.get("CARLOOP_SCREENSHOTS", "")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI needs Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs an event loop in this thread
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, live_server: Any) -> Iterator[Any]:
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    context.close()


def screenshot(page: Any, name: str) -> None:
    """Save a screenshot when CARLOOP_SCREENSHOTS names a directory (for looking at the pages by eye)."""
    if SCREENSHOTS:
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, f"{name}.png"), full_page=True)


PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture(params=[pytest.param(PHONE, id="phone"), pytest.param(DESKTOP, id="desktop")])
def sized_page(request: Any, browser: Any, live_server: Any) -> Iterator[Any]:
    """A page on a phone (390×844, touch) and on a desktop window; ``sized_page.phone`` says which."""
    phone = request.param is PHONE
    context = browser.new_context(base_url=live_server.url, viewport=request.param, is_mobile=phone, has_touch=phone,
                                  device_scale_factor=1)
    page = context.new_page()
    page.phone, page.base_url = phone, live_server.url
    yield page
    context.close()


@pytest.fixture
def owner(actors: Any, settings: Any) -> Iterator[OwnerWorld]:
    settings.CARLOOP_DECISION_PROVIDER = "rules"
    ledger_accounts.clear_cache()  # each test's database is new: cached account ids are not
    yield OwnerWorld(actors)
    ledger_accounts.clear_cache()


def sign_in(page: Any, user: Any) -> None:
    """Put a signed-in session for ``user`` into the page's browser context (no login form round trip)."""
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    page.context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": page.base_url}])


def fits(page: Any) -> None:
    """Nothing overflows horizontally, and on a phone every control is a tap target of at least 44 px."""
    width = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"{page.url}: {width[0]} px wide in a {width[1]} px window"
    if getattr(page, "phone", False):
        small = page.evaluate("""() => Array.from(document.querySelectorAll(
              'button, a.button, select, input:not([type=hidden]), header.top a')).map(el => {
            const target = (el.type === 'checkbox' || el.type === 'radio') ? (el.closest('label') || el) : el;
            const box = target.getBoundingClientRect();
            return box.width === 0 ? null : (box.height < 44 ? (el.outerHTML.slice(0, 80) + ' ' + box.height) : null);
          }).filter(Boolean)""")
        assert small == [], f"{page.url}: tap targets under 44 px: {small}"


def shot(page: Any, name: str) -> None:
    """Phone screenshots of the viewport (small files) into CARLOOP_SCREENSHOTS, e.g. docs/screenshots."""
    if SCREENSHOTS and getattr(page, "phone", False):
        os.makedirs(SCREENSHOTS, exist_ok=True)
        page.screenshot(path=os.path.join(SCREENSHOTS, f"owner-{name}.png"))
