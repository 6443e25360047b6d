"""Shared fixtures: the authorization harness's actors, an API client helper and the PostgreSQL marker."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import connection

from tests.harness import Actors


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: needs PostgreSQL (row locks, real concurrency); skipped on SQLite")
    config.addinivalue_line("markers", "slow: long-running; still part of the full suite")
    config.addinivalue_line("markers", "browser: drives Chromium with Playwright")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL (set CARLOOP_DATABASE_URL)")
        for item in items:
            if "postgres" in item.keywords:
                item.add_marker(skip)


@pytest.fixture(autouse=True)
def _empty_sms_inbox() -> Iterator[None]:
    """Each test reads only the messages the simulator SMS backend delivered during it."""
    from carloop.core import notifications

    notifications.SIMULATOR_INBOX.clear()
    yield


@pytest.fixture
def actors(db: None) -> Iterator[Actors]:
    """One user per subject kind, each with an API token (see tests/harness.py)."""
    yield Actors()


@pytest.fixture
def is_postgres(db: None) -> bool:
    return connection.vendor == "postgresql"
