import json
from datetime import date
from typing import Any

import pytest
from django.test import Client

from carloop.core.errors import Problem
from carloop.core.models import Event
from carloop.identity import selectors, services
from tests.harness import SUBJECT_KINDS, Case, run_case, signup_code

VALID_ID = "11010519491231002X"  # the GB 11643 example number: born 1949-12-31, female


@pytest.mark.django_db
def test_signup_validates_phone_and_refuses_duplicates() -> None:
    with pytest.raises(Problem) as info:
        services.register_customer(phone="12345", password="Tr0ub4dour&3x")
    assert info.value.slug == "invalid-phone"
    services.register_customer(phone="13800001111", password="Tr0ub4dour&3x")
    with pytest.raises(Problem) as info:
        services.register_customer(phone="+86 138 0000 1111", password="Tr0ub4dour&3x")
    assert info.value.status == 409


@pytest.mark.django_db
def test_weak_password_is_refused_and_nothing_is_created() -> None:
    with pytest.raises(Problem):
        services.register_customer(phone="13800001112", password="12345678")
    assert selectors.subject_for_user(None).kind == "anonymous"
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.exists()


@pytest.mark.django_db
def test_kyc_derives_birth_date_gender_and_age() -> None:
    user = services.register_customer(phone="13800001113", password="Tr0ub4dour&3x")
    services.verify_kyc(user, real_name="张三", id_number=VALID_ID.lower())
    facts = selectors.customer_facts(user.pk)
    assert facts is not None and facts.kyc_verified
    assert facts.birth_date == date(1949, 12, 31) and facts.gender == "F"
    assert facts.age_on(date(2026, 11, 22)) == 76
    assert facts.id_number_masked == "1101**********002X"


@pytest.mark.django_db
def test_kyc_accepts_a_region_that_stdnum_lists_without_a_county() -> None:
    user = services.register_customer(phone="13800001117", password="Tr0ub4dour&3x")
    services.verify_kyc(user, real_name="王五", id_number="620201197511274105")  # 嘉峪关市市辖区
    facts = selectors.customer_facts(user.pk)
    assert facts is not None and facts.kyc_status == "self_declared" and facts.birth_date == date(1975, 11, 27)


@pytest.mark.django_db
@pytest.mark.parametrize("bad", ["110105194912310021", "11010519491331002X", "99010519491231002X", "1234"])
def test_kyc_rejects_invalid_id_numbers(bad: str) -> None:
    user = services.register_customer(phone="13800001114", password="Tr0ub4dour&3x")
    with pytest.raises(Problem) as info:
        services.verify_kyc(user, real_name="张三", id_number=bad)
    assert info.value.slug == "invalid-id-number"
    assert selectors.customer_facts(user.pk).kyc_verified is False  # type: ignore[union-attr]


@pytest.mark.django_db
def test_one_verified_id_number_per_account() -> None:
    a = services.register_customer(phone="13800001115", password="Tr0ub4dour&3x")
    b = services.register_customer(phone="13800001116", password="Tr0ub4dour&3x")
    services.verify_kyc(a, real_name="张三", id_number=VALID_ID)
    services.verify_kyc(b, real_name="张三", id_number=VALID_ID)
    assert selectors.customer_facts(a.pk).kyc_verified  # type: ignore[union-attr]
    assert not selectors.customer_facts(b.pk).kyc_verified  # type: ignore[union-attr]
    from carloop.identity.models import CustomerProfile

    b_profile = CustomerProfile.objects.get(user=b)
    b_profile.kyc_status = CustomerProfile.Kyc.VERIFIED
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        b_profile.save()


@pytest.mark.django_db
def test_uscc_is_validated() -> None:
    with pytest.raises(Problem) as info:
        services.create_organisation(kind="store", name="坏代码门店", uscc_code="91110000600037341X")
    assert info.value.slug == "invalid-uscc"
    org = services.create_organisation(kind="store", name="好门店", uscc_code="91110000600037341L")
    assert org.uscc == "91110000600037341L"


@pytest.mark.django_db
def test_tokens_authenticate_until_revoked(actors) -> None:  # type: ignore[no-untyped-def]
    user = actors.user("customer")
    secret, token = services.create_token(user, "script")
    client = Client(headers={"Authorization": f"Bearer {secret}"})
    me = client.get("/api/v1/identity/me").json()
    assert me["id"] == str(user.pk) and me["phone"].count("*") == 4
    assert "token_hash" not in json.dumps(client.get("/api/v1/identity/tokens").json())
    services.revoke_token(user, token.pk)
    assert client.get("/api/v1/identity/me").status_code == 401


@pytest.mark.django_db
def test_login_by_phone_and_throttling() -> None:
    services.register_customer(phone="13800001117", password="Tr0ub4dour&3x")
    client = Client()
    assert client.post("/login/", {"username": "13800001117", "password": "Tr0ub4dour&3x"}).status_code == 302
    other = Client()
    for _ in range(4):
        assert other.post("/login/", {"username": "13800001117", "password": "wrong"}).status_code == 200
    assert other.post("/login/", {"username": "13800001117", "password": "wrong"}).status_code == 429
    locked = other.post("/login/", {"username": "13800001117", "password": "Tr0ub4dour&3x"})
    assert locked.status_code == 429


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("behind_proxy", "expected"), [(False, "10.0.0.9"), (True, "203.0.113.7")])
def test_login_events_trust_x_forwarded_for_only_behind_our_proxy(settings: Any, behind_proxy: bool, expected: str) -> None:
    settings.BEHIND_PROXY = behind_proxy
    services.register_customer(phone="13800001130", password="Tr0ub4dour&3x")
    response = Client().post("/login/", {"username": "13800001130", "password": "Tr0ub4dour&3x"}, REMOTE_ADDR="10.0.0.9",
                             HTTP_X_FORWARDED_FOR="1.2.3.4, 203.0.113.7")
    assert response.status_code == 302
    assert Event.objects.get(type="identity.login").payload["ip"] == expected


@pytest.mark.django_db
@pytest.mark.parametrize("typed", ["+86 138 0013 8000", "138-0013-8000", "+8613800138000", " 13800138000 "])
def test_login_accepts_the_phone_formats_sign_up_accepts(typed: str) -> None:
    services.register_customer(phone=typed, password="Tr0ub4dour&3x")
    assert Client().post("/login/", {"username": typed, "password": "Tr0ub4dour&3x"}).status_code == 302
    assert Client().post("/login/", {"username": "13800138000", "password": "Tr0ub4dour&3x"}).status_code == 302


@pytest.mark.django_db
def test_failures_lock_the_account_whatever_identifier_was_typed() -> None:
    user = services.register_customer(phone="13800001119", password="Tr0ub4dour&3x", username="lockme")
    identifiers = ["lockme", "13800001119", "+86 138 0000 1119", "lockme", "138-0000-1119"]
    for typed in identifiers[:-1]:
        assert Client().post("/login/", {"username": typed, "password": "wrong"}).status_code == 200
    assert Client().post("/login/", {"username": identifiers[-1], "password": "wrong"}).status_code == 429
    for typed in ["lockme", "13800001119", "+86 138 0000 1119"]:
        response = Client().post("/login/", {"username": typed, "password": "Tr0ub4dour&3x"}, REMOTE_ADDR="10.9.8.7")
        assert response.status_code == 429, typed
    assert user.is_active


@pytest.mark.django_db
def test_unknown_identifiers_lock_like_accounts() -> None:
    for _ in range(4):
        assert Client().post("/login/", {"username": "+86 139 9999 0000", "password": "x"}).status_code == 200
    assert Client().post("/login/", {"username": "13999990000", "password": "x"}).status_code == 429


@pytest.mark.django_db
def test_session_api_writes_need_csrf() -> None:
    user = services.register_customer(phone="13800001118", password="Tr0ub4dour&3x")
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    response = client.post("/api/v1/identity/tokens", data="{}", content_type="application/json")
    assert response.status_code == 403 and response.json()["type"].endswith("/csrf-failed")


def _org_of(kind: str):  # type: ignore[no-untyped-def]
    return lambda actors: {"org_id": actors.org(kind).pk}


def _own_token(actors):  # type: ignore[no-untyped-def]
    return {}


SIGNUP = {"phone": "{phone}", "code": "{code}", "password": "Tr0ub4dour&3x"}


def _fresh_number(actors):  # type: ignore[no-untyped-def]
    phone = f"137{__import__('random').randrange(10**8):08d}"
    return {"phone": phone, "code": signup_code(phone)}


CASES = [
    Case("POST", "/api/v1/identity/signup/code", body={"phone": "{phone}"},
         setup=lambda a: {"phone": f"137{__import__('random').randrange(10**8):08d}"}, expect={"*": 202}),
    Case("POST", "/api/v1/identity/signup", body=SIGNUP, setup=_fresh_number, expect={"*": 201}),
    Case("GET", "/api/v1/identity/me", expect={"anonymous": 401, "*": 200}),
    Case("POST", "/api/v1/identity/me/kyc", body={"real_name": "张三", "id_number": "bad"}, expect={"anonymous": 401, "*": 422}),
    Case("POST", "/api/v1/identity/customers/{user_id}/kyc-correction",
         body={"real_name": "张三", "id_number": VALID_ID, "reason": "户籍更正"},
         setup=lambda a: {"user_id": a.user("customer").pk}, expect={"anonymous": 401, "ops": 200, "admin": 200, "*": 403}),
    Case("GET", "/api/v1/identity/organisations", expect={"anonymous": 401, "*": 200}),
    Case("GET", "/api/v1/identity/organisations/{org_id}", setup=_org_of("store_manager"),
         expect={"store_manager": 200, "ops": 200, "risk_analyst": 200, "finance_ops": 200, "admin": 200, "*": 404}),
    Case("POST", "/api/v1/identity/organisations", body={"kind": "store", "name": "测试门店", "uscc": "bad"},
         expect={"anonymous": 401, "ops": 422, "admin": 422, "*": 403}),
    Case("GET", "/api/v1/identity/tokens", expect={"anonymous": 401, "*": 200}),
    Case("POST", "/api/v1/identity/tokens", body={"name": "x"}, expect={"anonymous": 401, "*": 201}),
    Case("DELETE", "/api/v1/identity/tokens/{token_id}",
         setup=lambda a: {"token_id": services.create_token(a.user("store_manager"), "victim")[1].pk},
         expect={"store_manager": 204, "anonymous": 401, "*": 404}),
]


@pytest.mark.django_db
@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(actors, case, kind) -> None:  # type: ignore[no-untyped-def]
    run_case(actors, case, kind)
