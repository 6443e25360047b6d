"""The sign-up code throttles hold under concurrent requests (issue 10): on PostgreSQL two requests for one number
could both read "no code in the last minute" and both send one; code requests for a number, and from a client
address, are serialized."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from carloop.core import pii
from carloop.core.errors import Problem
from carloop.identity import services
from carloop.identity.models import PhoneCode


def _request_concurrently(requests: list[tuple[str, str]]) -> list[str]:
    barrier = threading.Barrier(len(requests))
    outcomes: list[str] = []

    def attempt(phone: str, client_ip: str) -> None:
        try:
            barrier.wait()
            services.send_signup_code(phone=phone, client_ip=client_ip)
            outcomes.append("sent")
        except Problem as problem:
            outcomes.append(problem.slug)
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=request) for request in requests]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_for_one_number_send_one_code() -> None:
    phone = "13655550001"
    outcomes = _request_concurrently([(phone, f"10.0.0.{n}") for n in range(8)])
    assert sorted(outcomes) == ["sent"] + ["too-many-codes"] * 7
    assert PhoneCode.objects.filter(phone_index=pii.blind_index("phone", phone)).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_from_one_address_stay_within_its_hourly_limit(settings) -> None:  # type: ignore[no-untyped-def]
    settings.SIGNUP_CODES_PER_HOUR_PER_IP = 3
    outcomes = _request_concurrently([(f"136555510{n:02d}", "10.9.9.9") for n in range(8)])
    assert sorted(outcomes) == ["sent"] * 3 + ["too-many-codes"] * 5
    assert PhoneCode.objects.filter(client_ip="10.9.9.9").count() == 3
