"""Sign-up proves the mobile number with a one-time SMS code, is throttled, and tells nobody who is registered."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from carloop.core import notifications, pii
from carloop.core.models import Notification
from carloop.identity import services
from carloop.identity.models import PhoneCode, User
from tests.harness import sent_code, signup_code

PASSWORD = "Tr0ub4dour&3x"


def _post(path: str, body: dict[str, Any], **extra: Any) -> Any:
    return Client().post(f"/api/v1/identity/{path}", data=json.dumps(body), content_type="application/json", **extra)


def _age_codes(phone: str, by: timedelta) -> None:
    """Move the number's codes into the past (the throttles count by creation time)."""
    for row in PhoneCode.objects.filter(phone_index=pii.blind_index("phone", phone)):
        PhoneCode.objects.filter(pk=row.pk).update(created_at=row.created_at - by, expires_at=row.expires_at - by)


def _wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


@pytest.mark.django_db
def test_sign_up_needs_the_code_sent_to_the_number() -> None:
    assert _post("signup", {"phone": "13700000001", "password": PASSWORD})["Content-Type"] == "application/problem+json"
    assert _post("signup", {"phone": "13700000001", "password": PASSWORD, "code": "123456"}).status_code == 422
    code = signup_code("13700000001")
    response = _post("signup", {"phone": "+86 137 0000 0001", "password": PASSWORD, "code": code})
    assert response.status_code == 201 and response.json()["phone"] == "137****0001"
    again = _post("signup", {"phone": "13700000001", "password": PASSWORD, "code": code})  # single use
    assert again.status_code == 422 and again.json()["type"].endswith("/invalid-code")


@pytest.mark.django_db
def test_the_code_is_stored_hashed_and_kept_in_no_outbox() -> None:
    code = signup_code("13700000002")
    row = PhoneCode.objects.get()
    assert code not in row.code_hash and len(row.code_hash) == 64
    assert not Notification.objects.exists()  # sent at once, not left in clear in the outbox
    assert timedelta(minutes=9, seconds=59) < row.expires_at - row.created_at <= timedelta(minutes=10)


@pytest.mark.django_db
def test_a_code_allows_five_tries() -> None:
    code = signup_code("13700000003")
    for _ in range(5):
        assert _post("signup", {"phone": "13700000003", "password": PASSWORD, "code": _wrong(code)}).status_code == 422
    assert _post("signup", {"phone": "13700000003", "password": PASSWORD, "code": code}).status_code == 422
    assert not User.objects.exists()


@pytest.mark.django_db
def test_an_expired_code_is_refused() -> None:
    code = signup_code("13700000004")
    PhoneCode.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _post("signup", {"phone": "13700000004", "password": PASSWORD, "code": code}).status_code == 422


@pytest.mark.django_db
def test_a_new_code_replaces_the_old_one() -> None:
    old = signup_code("13700000005")
    _age_codes("13700000005", timedelta(minutes=2))
    new = signup_code("13700000005")
    if old != new:
        assert _post("signup", {"phone": "13700000005", "password": PASSWORD, "code": old}).status_code == 422
    assert _post("signup", {"phone": "13700000005", "password": PASSWORD, "code": new}).status_code == 201


@pytest.mark.django_db
def test_a_registered_number_is_answered_like_any_other() -> None:
    services.register_customer(phone="13700000006", password=PASSWORD)
    taken = _post("signup/code", {"phone": "13700000006"})
    free = _post("signup/code", {"phone": "13700000007"})
    code = sent_code("13700000007")
    assert taken.status_code == free.status_code == 202 and taken.json() == free.json()
    assert "If this number can be registered" in _post("signup/code", {"phone": "13700000008"}, HTTP_ACCEPT_LANGUAGE="en").json()["detail"]
    (notice,) = notifications.simulator_inbox("13700000006")  # its holder is told to sign in, and gets no code
    assert "already has an account" in notice.en and "code" not in notice.en
    guess = _post("signup", {"phone": "13700000006", "password": PASSWORD, "code": "123456"})
    wrong = _post("signup", {"phone": "13700000007", "password": PASSWORD, "code": _wrong(code)})
    assert guess.status_code == wrong.status_code == 422 and guess.json() == wrong.json()
    assert _post("signup/code", {"phone": "13700000006"}).status_code == 429  # and the throttle counts it alike


@pytest.mark.django_db
def test_codes_are_throttled_per_number_with_retry_after() -> None:
    assert _post("signup/code", {"phone": "13700000009"}).status_code == 202
    again = _post("signup/code", {"phone": "137 0000 0009"})
    assert again.status_code == 429 and again["Content-Type"] == "application/problem+json"
    assert 0 < int(again["Retry-After"]) <= 60 and again.json()["type"].endswith("/too-many-codes")
    for _ in range(4):
        _age_codes("13700000009", timedelta(minutes=2))
        assert _post("signup/code", {"phone": "13700000009"}).status_code == 202
    _age_codes("13700000009", timedelta(minutes=2))
    sixth = _post("signup/code", {"phone": "13700000009"})
    assert sixth.status_code == 429 and 2990 < int(sixth["Retry-After"]) <= 3001  # when the oldest of the hour's five turns an hour old


@pytest.mark.django_db
@pytest.mark.parametrize("behind_proxy", [False, True])
def test_codes_are_throttled_per_client_address(settings: Any, behind_proxy: bool) -> None:
    """Twenty an hour per address; a client's own X-Forwarded-For does not give it a fresh address."""
    settings.BEHIND_PROXY = behind_proxy
    for i in range(20):
        response = _post("signup/code", {"phone": f"1370001{i:04d}"}, REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR=f"192.0.2.{i}, 198.51.100.1")
        assert response.status_code == 202
    over = _post("signup/code", {"phone": "13700019999"}, REMOTE_ADDR="10.1.1.1", HTTP_X_FORWARDED_FOR="192.0.2.99, 198.51.100.1")
    assert over.status_code == 429 and int(over["Retry-After"]) > 3500
    elsewhere = {"REMOTE_ADDR": "10.1.1.2"} if not behind_proxy else {"REMOTE_ADDR": "10.1.1.1", "HTTP_X_FORWARDED_FOR": "198.51.100.2"}
    assert _post("signup/code", {"phone": "13700019999"}, **elsewhere).status_code == 202


@pytest.mark.django_db
def test_the_sign_up_page_is_throttled_with_retry_after() -> None:
    client = Client()
    assert client.post("/signup/", {"phone": "13700000010", "action": "send_code"}).status_code == 200
    response = client.post("/signup/", {"phone": "13700000010", "action": "send_code"})
    assert response.status_code == 429 and int(response["Retry-After"]) <= 60
    assert "获取验证码过于频繁" in response.content.decode()
