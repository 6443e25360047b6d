"""Never show a link its viewer cannot open: signed in as each of the demo's logins, every page in the
navigation, every same-site link on those pages and every link on the pages those lead to answers without a
403, 404 or 500 (and never sends a signed-in viewer back to the sign-in page)."""

from __future__ import annotations

import io
from collections.abc import Iterator

import pytest
from django.core.management import call_command
from django.test import Client

from carloop.finance import ledger_accounts
from carloop.identity.models import User
from carloop.risk.models import ModelVersion
from tests.web.crawl import DEMO_LOGINS, Fetched, walk

DEPTH = 2  # links on the navigation's pages, and links on the pages those lead to


@pytest.fixture(scope="module")
def demo(django_db_setup: None, django_db_blocker: pytest.FixtureRequest) -> Iterator[None]:
    """`carloop seed --scale demo` once for the module; the database is emptied again afterwards."""
    with django_db_blocker.unblock():  # type: ignore[attr-defined]
        # A registered GBM model stands in for the challenger the risk seed would train (40 s of LightGBM).
        ModelVersion.objects.create(version="gbm-stand-in", kind="gbm", artifact_path="", data_sha256="", registered_by="test")
        call_command("seed", "--scale", "demo", stdout=io.StringIO())
        yield
        call_command("flush", "--no-input", verbosity=0)
        ledger_accounts.clear_cache()


def _walk(login: str, lang: str) -> list[Fetched]:
    client = Client(raise_request_exception=False)
    client.force_login(User.objects.get(username=login))
    return list(walk(client, lang, depth=DEPTH))


@pytest.mark.slow
@pytest.mark.django_db
@pytest.mark.usefixtures("demo")
def test_no_page_links_to_a_page_its_viewer_cannot_open() -> None:
    failures, pages = [], 0
    for login in DEMO_LOGINS:
        for fetched in _walk(login, "zh-hans"):
            pages += 1
            if fetched.status >= 400 or fetched.final.startswith("/login/"):
                failures.append(f"{login}: {fetched.url} answers {fetched.status} (linked from {fetched.found_on or 'nowhere'})")
    assert pages > 20 * len(DEMO_LOGINS)
    assert not failures, "\n".join(failures)
