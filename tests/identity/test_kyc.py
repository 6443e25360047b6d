"""Real-name verification through the KYC provider adapter: self-declared until the provider says yes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.test import Client, override_settings

from carloop.core import audit
from carloop.identity import kyc, selectors, services
from carloop.identity.models import KycCheck, User

MATCHED = ("张三", "11010519491231002X")  # in the simulator's scripted test data
UNKNOWN_VALID_ID = "31010419900307123X"  # valid checksum, not in the simulated register
_phones = iter(range(10**6))


def _customer() -> User:
    return services.register_customer(phone=f"1371{next(_phones):07d}", password="Tr0ub4dour&3x")


def _facts(user: User) -> Any:
    facts = selectors.customer_facts(user.pk)
    assert facts is not None
    return facts


def _outcomes(user: User) -> list[str]:
    return list(KycCheck.objects.filter(profile__user=user).order_by("created_at").values_list("outcome", flat=True))


@pytest.mark.django_db
def test_a_valid_checksum_alone_is_only_self_declared() -> None:
    user = _customer()
    services.verify_kyc(user, real_name="赵六", id_number=UNKNOWN_VALID_ID)
    facts = _facts(user)
    assert not facts.kyc_verified and facts.kyc_status == "self_declared" and facts.kyc_check == "not_confirmed"
    assert facts.birth_date is not None  # declared facts are kept (and shown as declared)
    assert _outcomes(user) == ["no_record"]


@pytest.mark.django_db
def test_the_provider_saying_match_verifies() -> None:
    user = _customer()
    services.verify_kyc(user, real_name=MATCHED[0], id_number=MATCHED[1])
    facts = _facts(user)
    assert facts.kyc_verified and facts.kyc_status == "verified" and facts.kyc_check == "confirmed"
    assert [e.action for e in audit.history("identity.customer", user.pk)] == ["kyc.declared", "kyc.verified"]


@pytest.mark.django_db
def test_a_name_that_does_not_match_the_number_stays_self_declared() -> None:
    user = _customer()
    services.verify_kyc(user, real_name="李四", id_number=MATCHED[1])
    assert _facts(user).kyc_status == "self_declared" and _outcomes(user) == ["mismatch"]


@pytest.mark.django_db
def test_enrolled_people_match_and_other_names_do_not() -> None:
    kyc.SimulatorProvider.enrol("钱七", UNKNOWN_VALID_ID)
    wrong, right = _customer(), _customer()
    services.verify_kyc(wrong, real_name="钱八", id_number=UNKNOWN_VALID_ID)
    services.verify_kyc(right, real_name="钱七", id_number=UNKNOWN_VALID_ID)
    assert _outcomes(wrong) == ["mismatch"] and _facts(right).kyc_verified


@pytest.mark.django_db
@pytest.mark.parametrize("number", [kyc.SIMULATED_TIMEOUT, kyc.SIMULATED_NO_RESULT])
def test_a_provider_that_never_answers_leaves_the_identity_unverified(number: str) -> None:
    user = _customer()
    services.verify_kyc(user, real_name="孙八", id_number=number)
    assert _facts(user).kyc_check == "pending" and _outcomes(user) == ["pending"]
    for _ in range(10):
        services.retry_pending_kyc()
    check = KycCheck.objects.get(profile__user=user)
    assert check.outcome == "no_answer" and check.attempts == 6
    assert _facts(user).kyc_status == "self_declared" and _facts(user).kyc_check == "not_confirmed"


@pytest.mark.django_db
def test_a_late_answer_is_collected_by_the_retry() -> None:
    user = _customer()
    services.verify_kyc(user, real_name=kyc.SIMULATED_LATE[1], id_number=kyc.SIMULATED_LATE[0])
    assert _facts(user).kyc_check == "pending" and not _facts(user).kyc_verified
    assert services.retry_pending_kyc() == 1
    assert _facts(user).kyc_verified and _outcomes(user) == ["match"]


@pytest.mark.django_db
def test_a_late_answer_for_a_replaced_declaration_changes_nothing() -> None:
    user = _customer()
    services.verify_kyc(user, real_name=kyc.SIMULATED_LATE[1], id_number=kyc.SIMULATED_LATE[0])
    services.verify_kyc(user, real_name="赵六", id_number=UNKNOWN_VALID_ID)
    assert services.retry_pending_kyc() == 0
    facts = _facts(user)
    assert not facts.kyc_verified and facts.real_name == "赵六" and _outcomes(user) == ["superseded", "no_record"]


@pytest.mark.django_db
def test_without_a_provider_nobody_is_verified() -> None:
    user = _customer()
    with override_settings(KYC_PROVIDER="none"):
        services.verify_kyc(user, real_name=MATCHED[0], id_number=MATCHED[1])
    assert _facts(user).kyc_status == "self_declared"


@override_settings(PRODUCTION=True, KYC_PROVIDER="simulator")
def test_the_simulator_is_refused_in_production() -> None:
    with pytest.raises(ImproperlyConfigured):
        kyc.provider()


@pytest.mark.django_db
def test_a_number_verified_on_one_account_cannot_be_verified_on_another_and_that_is_not_told() -> None:
    first, second = _customer(), _customer()
    services.verify_kyc(first, real_name=MATCHED[0], id_number=MATCHED[1])
    services.verify_kyc(second, real_name=MATCHED[0], id_number=MATCHED[1])
    assert _facts(first).kyc_verified and not _facts(second).kyc_verified
    assert _outcomes(second) == ["duplicate"] and _facts(second).kyc_check == "not_confirmed"  # told like a mismatch


@pytest.mark.django_db
def test_a_verified_identity_is_immutable_over_the_api() -> None:
    user = _customer()
    client = Client()
    client.force_login(user)
    ok = client.post("/api/v1/identity/me/kyc", {"real_name": MATCHED[0], "id_number": MATCHED[1]}, content_type="application/json")
    assert ok.status_code == 200 and ok.json()["kyc_status"] == "verified"
    for body in ({"real_name": "张三丰", "id_number": MATCHED[1]}, {"real_name": MATCHED[0], "id_number": UNKNOWN_VALID_ID}):
        response = client.post("/api/v1/identity/me/kyc", body, content_type="application/json")
        assert response.status_code == 409 and response["Content-Type"] == "application/problem+json"
        assert response.json()["type"].endswith("/kyc-verified")
    facts = _facts(user)
    assert facts.kyc_verified and facts.real_name == MATCHED[0] and facts.id_number_masked == "1101**********002X"
    again = client.post("/api/v1/identity/me/kyc", {"real_name": MATCHED[0], "id_number": MATCHED[1].lower()}, content_type="application/json")
    assert again.status_code == 200  # the same identity again changes nothing
    squatter = _customer()  # the old number is not freed
    services.verify_kyc(squatter, real_name=MATCHED[0], id_number=MATCHED[1])
    assert not _facts(squatter).kyc_verified


@pytest.mark.django_db
def test_declarations_are_limited_per_day() -> None:
    user = _customer()
    for _ in range(5):
        services.verify_kyc(user, real_name="赵六", id_number=UNKNOWN_VALID_ID)
    client = Client()
    client.force_login(user)
    response = client.post("/api/v1/identity/me/kyc", {"real_name": MATCHED[0], "id_number": MATCHED[1]}, content_type="application/json")
    assert response.status_code == 429 and response["Content-Type"] == "application/problem+json"
    assert 86_000 < int(response["Retry-After"]) <= 86_400 and not _facts(user).kyc_verified


@pytest.mark.django_db
def test_an_operator_corrects_a_verified_identity_with_an_audit_record(actors: Any) -> None:
    user = actors.user("customer")
    before = _facts(user)
    assert before.kyc_verified
    kyc.SimulatorProvider.enrol("测试用户", UNKNOWN_VALID_ID)
    response = actors.request("ops", "POST", f"/api/v1/identity/customers/{user.pk}/kyc-correction",
                              {"real_name": "测试用户", "id_number": UNKNOWN_VALID_ID, "reason": "公安户籍更正 ticket 42"})
    assert response.status_code == 200 and response.json()["kyc_status"] == "verified"
    assert response.json()["id_number"] == "3101**********123X"
    entry = [e for e in audit.history("identity.customer", user.pk) if e.action == "kyc.corrected"][-1]
    assert entry.actor == f"user:{actors.user('ops').pk}" and entry.data["reason"] == "公安户籍更正 ticket 42"
    assert entry.data["before"]["id_number"] == before.id_number_masked and UNKNOWN_VALID_ID not in str(entry.data)
    missing = actors.request("ops", "POST", f"/api/v1/identity/customers/{user.pk}/kyc-correction",
                             {"real_name": "测试用户", "id_number": UNKNOWN_VALID_ID, "reason": " "})
    assert missing.status_code == 422


@pytest.mark.django_db
def test_the_correction_command(actors: Any) -> None:
    user = actors.user("customer")
    call_command("identity", "kyc-correct", user.username, "--real-name", MATCHED[0], "--id-number", MATCHED[1],
                 "--reason", "name change", "--operator", actors.user("admin").username)
    assert _facts(user).real_name == MATCHED[0] and _facts(user).kyc_verified
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("identity", "kyc-correct", user.username, "--real-name", "王五", "--id-number", MATCHED[1],
                     "--reason", "x", "--operator", actors.user("store_manager").username)


@pytest.mark.django_db
def test_the_seed_reverifies_owners_an_older_demo_verified_by_checksum_alone() -> None:
    from carloop.core.seeding import SeedContext
    from carloop.identity.models import CustomerProfile
    from carloop.identity.seed import _reverify_checksum_only

    old = services.register_customer(phone="13712340000", password="Tr0ub4dour&3x", username="c000007")
    visitor = services.register_customer(phone="13712340001", password="Tr0ub4dour&3x")
    for user in (old, visitor):  # as migration 0002 leaves a profile "verified" by its checksum only
        CustomerProfile.objects.filter(user=user).update(real_name="赵六", id_number=UNKNOWN_VALID_ID, kyc_status="self_declared")
    _reverify_checksum_only(SeedContext(scale="demo", stdout=None, quiet=True, seed=1))  # type: ignore[arg-type]
    assert _facts(old).kyc_verified and not _facts(visitor).kyc_verified
