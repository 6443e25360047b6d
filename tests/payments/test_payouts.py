"""Payouts: finance operations prepare a batch of unpaid statements, another operator approves it (four-eyes), each
payout's money is held and posted only on the payout provider's verified word, or returned when it failed. Every
test ends with the ledger's invariants, every payout's transfers equal to its state, and each merchant's settlement
account equal to what its statements still owe."""

from __future__ import annotations

import io
import threading
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.core.timeutil import business_date
from carloop.identity import selectors as identity
from carloop.identity import services as identity_services
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.payments import payouts, positions, selectors, settlement
from carloop.payments.models import (
    NotificationOutcome,
    Payout,
    PayoutBatch,
    ProviderNotification,
    SettlementStatement,
    SimulatorPayout,
)
from carloop.payments.simulator import PAYOUT_SIMULATOR, Behaviour
from tests.harness import SUBJECT_KINDS, Actors, Case, run_case
from tests.payments.conftest import assert_consistent

pytestmark = pytest.mark.django_db

TOMORROW = business_date() + timedelta(days=1)
NOW = timedelta(0)


@pytest.fixture(autouse=True)
def payout_provider() -> Any:
    PAYOUT_SIMULATOR.behaviour, PAYOUT_SIMULATOR.held = Behaviour(), []
    yield PAYOUT_SIMULATOR
    PAYOUT_SIMULATOR.behaviour, PAYOUT_SIMULATOR.held = Behaviour(), []


def finops(name: str = "") -> Subject:
    return identity.subject_for_user(finops_user(name))


def finops_user(name: str = "") -> Any:
    return identity_services.create_staff_user(username=name or f"fo-{uuid.uuid4().hex[:6]}", password="Tr0ub4dour&3x",
                                               platform_roles=("finance_ops",))


def finops_browser() -> Client:
    client = Client()
    client.force_login(finops_user())
    return client


def owed(merchant_id: uuid.UUID, amount_fen: int, *, bps: int = 100, minimum_fen: int = 0) -> SettlementStatement:
    """A merchant with a contract and a settled statement of ``amount_fen`` less commission."""
    if not selectors.contracts_readable_by(finops()).filter(merchant_id=merchant_id).exists():
        settlement.set_contract(finops(), merchant_id=merchant_id, commission_bps=bps, cycle_days=1,
                                minimum_payout_fen=minimum_fen)
    acct = ledger.open_account(key=f"test:merchant:{merchant_id}:settlement", name="dealer", code=2300,
                               owner=f"org:{merchant_id}").id
    ledger.transfer(id=uuid.uuid4(), debit=ledger.system_account("external").id, credit=acct, amount_fen=amount_fen,
                    code=2101, memo="loan disbursement")
    before = set(SettlementStatement.objects.filter(merchant_id=merchant_id).values_list("pk", flat=True))
    day = TOMORROW + timedelta(days=len(before))
    statement = settlement.settle_merchant(merchant_id=merchant_id, run_date=day, actor="t")
    assert statement is not None and statement.pk not in before
    return statement


def consistent(*merchants: uuid.UUID) -> None:
    assert_consistent()
    for payout in Payout.objects.all():
        assert selectors.payout_discrepancies(payout) == []
    for merchant in merchants:
        assert positions.merchant_discrepancies(merchant) == []


def external_balance() -> int:
    return ledger_q.balance(ledger.system_account("external").id).balance_fen


def pay_batch(capture: Any, preparer: Subject | None = None, approver: Subject | None = None) -> PayoutBatch:
    batch = payouts.prepare(preparer or finops())
    with capture(execute=True):
        payouts.approve(approver or finops(), batch_id=batch.pk)
    batch.refresh_from_db()
    return batch


def test_an_approved_payout_is_held_then_posted_on_the_providers_word(
        actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    first, second = owed(dealer.pk, 100_000), owed(dealer.pk, 50_000)
    account = settlement.merchant_account(dealer.pk)
    outside = external_balance()
    batch = payouts.prepare(finops())
    payout = batch.payouts.get()
    assert payout.amount_fen == 99_000 + 49_500 and batch.total_fen == payout.amount_fen
    assert set(SettlementStatement.objects.values_list("state", flat=True)) == {"in_payout"}
    assert positions.merchant(dealer.pk).owed_fen == 148_500
    consistent(dealer.pk)

    PAYOUT_SIMULATOR.behaviour = Behaviour(notify="never")  # look between approval and the provider's word
    with django_capture_on_commit_callbacks(execute=True):
        batch = payouts.approve(finops(), batch_id=batch.pk)
    payout.refresh_from_db()
    assert batch.state == "processing" and payout.state == "processing" and payout.sent_at is not None
    held = ledger_q.balance(account)
    assert (held.balance_fen, held.debits_pending) == (148_500, 148_500)
    consistent(dealer.pk)

    ok = PAYOUT_SIMULATOR.deliver(*PAYOUT_SIMULATOR.notification(payout.payout_no))
    assert ok[0] == 200
    payout.refresh_from_db()
    batch.refresh_from_db()
    assert payout.state == "paid" and batch.state == "completed"
    assert {first.pk, second.pk} == set(SettlementStatement.objects.filter(state="paid").values_list("pk", flat=True))
    assert ledger_q.balance(account).balance_fen == 0 and ledger_q.balance(account).debits_pending == 0
    assert external_balance() == outside + 148_500  # the money left carloop
    assert positions.merchant(dealer.pk).owed_fen == 0
    consistent(dealer.pk)


def test_a_failed_payout_returns_the_money_and_the_statements_are_batched_again(
        actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    statement = owed(dealer.pk, 20_000)
    account = settlement.merchant_account(dealer.pk)
    PAYOUT_SIMULATOR.behaviour = Behaviour(payouts="fail")
    batch = pay_batch(django_capture_on_commit_callbacks)
    payout = batch.payouts.get()
    assert payout.state == "failed" and "mismatch" in payout.failure and batch.state == "completed"
    statement.refresh_from_db()
    assert statement.state == "unpaid"
    assert ledger_q.balance(account).balance_fen == 19_800 and ledger_q.balance(account).debits_pending == 0
    assert ledger_q.get_transfer(payouts.hold_id(payout, "void")) is not None
    consistent(dealer.pk)

    PAYOUT_SIMULATOR.behaviour = Behaviour()
    again = pay_batch(django_capture_on_commit_callbacks)
    assert again.pk != batch.pk and again.payouts.get().state == "paid"
    statement.refresh_from_db()
    assert statement.state == "paid" and ledger_q.balance(account).balance_fen == 0
    consistent(dealer.pk)


def test_duplicate_late_and_forged_notifications_book_once(
        actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 30_000)
    PAYOUT_SIMULATOR.behaviour = Behaviour(notify="bad_signature")
    batch = pay_batch(django_capture_on_commit_callbacks)
    payout = batch.payouts.get()
    assert payout.state == "processing"  # the forged word moves nothing
    assert ProviderNotification.objects.get().outcome == NotificationOutcome.BAD_SIGNATURE
    consistent(dealer.pk)

    forged_fail = PAYOUT_SIMULATOR.notification(payout.payout_no)
    body = forged_fail[0].replace(b"PAYOUT.SUCCESS", b"PAYOUT.FAILED")
    assert PAYOUT_SIMULATOR.deliver(body, forged_fail[1])[0] == 400  # signed over the other body
    payout.refresh_from_db()
    assert payout.state == "processing"

    PAYOUT_SIMULATOR.behaviour = Behaviour(notify="late")
    PAYOUT_SIMULATOR.send(PAYOUT_SIMULATOR.notification(payout.payout_no))
    PAYOUT_SIMULATOR.held[:] = PAYOUT_SIMULATOR.held * 2  # late, and twice
    assert PAYOUT_SIMULATOR.flush() == 2
    payout.refresh_from_db()
    assert payout.state == "paid"
    outcomes = list(ProviderNotification.objects.order_by("created_at").values_list("outcome", flat=True))
    assert outcomes == ["bad_signature", "bad_signature", "payout_paid", "duplicate"]
    consistent(dealer.pk)


def test_a_notification_that_never_comes_is_recovered_by_the_query_job(
        actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer, store = actors.org("dealer_staff"), actors.org("store_manager")
    owed(dealer.pk, 10_000)
    owed(store.pk, 40_000)
    PAYOUT_SIMULATOR.behaviour = Behaviour(notify="never")
    batch = pay_batch(django_capture_on_commit_callbacks)
    assert set(batch.payouts.values_list("state", flat=True)) == {"processing"}
    assert payouts.recover() == 0  # younger than two minutes: not asked yet
    with django_capture_on_commit_callbacks(execute=True):
        assert payouts.recover(older_than=NOW) == 2
    assert set(batch.payouts.values_list("state", flat=True)) == {"paid"}
    batch.refresh_from_db()
    assert batch.state == "completed" and payouts.recover(older_than=NOW) == 0
    consistent(dealer.pk, store.pk)


def test_a_payout_the_provider_never_received_is_sent_again(
        actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    PAYOUT_SIMULATOR.behaviour = Behaviour(reachable=False)
    batch = pay_batch(django_capture_on_commit_callbacks)
    payout = batch.payouts.get()
    assert payout.state == "processing" and payout.sent_at is None and not SimulatorPayout.objects.exists()
    assert payouts.recover(older_than=NOW) == 0  # still unreachable
    PAYOUT_SIMULATOR.behaviour = Behaviour()
    with django_capture_on_commit_callbacks(execute=True):
        payouts.recover(older_than=NOW)  # unknown there: sent again, and it notifies
    payout.refresh_from_db()
    assert payout.state == "paid" and SimulatorPayout.objects.get().payout_no == payout.payout_no
    consistent(dealer.pk)


def test_four_eyes_the_preparer_cannot_approve(actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    preparer = finops()
    batch = payouts.prepare(preparer)
    with pytest.raises(Problem) as exc:
        payouts.approve(preparer, batch_id=batch.pk)
    assert (exc.value.status, exc.value.slug) == (403, "four-eyes")
    assert not selectors.may_approve(preparer, batch)
    batch.refresh_from_db()
    assert batch.state == "prepared" and ledger_q.get_transfer(payouts.hold_id(batch.payouts.get())) is None
    with django_capture_on_commit_callbacks(execute=True):
        payouts.approve(finops(), batch_id=batch.pk)
    with pytest.raises(Problem) as exc:
        payouts.approve(finops(), batch_id=batch.pk)
    assert (exc.value.status, exc.value.slug) == (409, "batch-not-prepared")
    consistent(dealer.pk)


def test_a_batch_sent_back_pays_nothing_and_its_statements_are_batched_again(
        actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    statement = owed(dealer.pk, 10_000)
    batch = payouts.prepare(finops())
    reviewer = finops()
    with pytest.raises(Problem) as exc:
        payouts.reject(reviewer, batch_id=batch.pk, reason="  ")
    assert (exc.value.status, exc.value.slug) == (422, "reason-required")
    for who, status in (("ops", 403), ("dealer_staff", 404)):
        with pytest.raises(Problem) as exc:
            payouts.reject(identity.subject_for_user(actors.user(who)), batch_id=batch.pk, reason="no")
        assert exc.value.status == status
    batch = payouts.reject(reviewer, batch_id=batch.pk, reason="金额需核对")
    assert (batch.state, batch.rejection) == ("rejected", "金额需核对")
    assert batch.payouts.get().state == "cancelled"
    statement.refresh_from_db()
    assert statement.state == "unpaid"
    assert ledger_q.get_transfer(payouts.hold_id(batch.payouts.get())) is None
    with pytest.raises(Problem) as exc:
        payouts.approve(reviewer, batch_id=batch.pk)
    assert exc.value.slug == "batch-not-prepared"
    consistent(dealer.pk)
    again = pay_batch(django_capture_on_commit_callbacks)
    assert again.payouts.get().state == "paid"
    statement.refresh_from_db()
    assert statement.state == "paid"
    consistent(dealer.pk)


def test_prepare_takes_what_is_owed_at_least_the_minimum_once(actors: Actors) -> None:
    dealer, store = actors.org("dealer_staff"), actors.org("store_manager")
    owed(dealer.pk, 10_000, minimum_fen=50_000)  # 9,900 owed: below the minimum, waits
    owed(store.pk, 10_000)
    batch = payouts.prepare(finops())
    assert list(batch.payouts.values_list("merchant_id", flat=True)) == [store.pk]
    with pytest.raises(Problem) as exc:
        payouts.prepare(finops())  # the store's statement is in payout, the dealer's still short
    assert (exc.value.status, exc.value.slug) == (409, "nothing-to-pay")
    owed(dealer.pk, 50_000)
    second = payouts.prepare(finops())
    assert second.payouts.get().amount_fen == 9_900 + 49_500
    for who in ("dealer_staff", "ops"):
        with pytest.raises(Problem) as exc:
            payouts.prepare(identity.subject_for_user(actors.user(who)))
        assert exc.value.status == 403
    consistent(dealer.pk, store.pk)


def test_a_repeated_prepare_request_returns_its_batch(actors: Actors) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    subject = finops()
    batch = payouts.prepare(subject, key="idem:abc")
    assert payouts.prepare(subject, key="idem:abc") == batch
    assert PayoutBatch.objects.count() == 1


def test_staff_read_only_their_own_merchants_payouts(actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    payout = pay_batch(django_capture_on_commit_callbacks).payouts.get()
    own = actors.client("dealer_staff")
    listed = own.get("/api/v1/payments/payouts").json()
    assert [p["id"] for p in listed] == [str(payout.pk)] and listed[0]["merchant"] == dealer.name
    assert own.get(f"/api/v1/payments/payouts/{payout.pk}").json()["state"] == "paid"
    stranger = Actors().client("dealer_staff")
    assert stranger.get(f"/api/v1/payments/payouts/{payout.pk}").status_code == 404
    assert stranger.get("/api/v1/payments/payouts").json() == []
    assert own.get(f"/api/v1/payments/payouts/batches/{payout.batch_id}").status_code == 404
    browser = Client()
    browser.force_login(actors.user("dealer_staff"))
    page = browser.get("/payments/payouts/?lang=en").content.decode()
    assert "Paid" in page and "Prepare a payout batch" not in page


def test_the_api_prepares_and_a_second_operator_approves(actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    first, second = finops_browser(), finops_browser()
    made = first.post("/api/v1/payments/payouts/batches", {}, content_type="application/json",
                      headers={"Idempotency-Key": "prep-1"})
    assert made.status_code == 201 and made.json()["payouts"][0]["amount"] == "99.00"
    replay = first.post("/api/v1/payments/payouts/batches", {}, content_type="application/json",
                        headers={"Idempotency-Key": "prep-1"})
    assert replay.json()["id"] == made.json()["id"] and PayoutBatch.objects.count() == 1
    url = f"/api/v1/payments/payouts/batches/{made.json()['id']}/approve"
    refused = first.post(url, {}, content_type="application/json", headers={"Accept-Language": "en"})
    assert refused.status_code == 403 and refused.json()["type"].endswith("/four-eyes")
    with django_capture_on_commit_callbacks(execute=True):
        approved = second.post(url, {}, content_type="application/json", headers={"Idempotency-Key": "appr-1"})
    assert approved.status_code == 200 and approved.json()["state"] == "processing"
    assert second.get(f"/api/v1/payments/payouts/batches/{made.json()['id']}").json()["state"] == "completed"
    consistent(dealer.pk)


def test_the_payout_notification_endpoint_verifies_signatures(
        actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    PAYOUT_SIMULATOR.behaviour = Behaviour(notify="never")
    payout = pay_batch(django_capture_on_commit_callbacks).payouts.get()
    body, headers = PAYOUT_SIMULATOR.notification(payout.payout_no)
    anonymous = Client()
    forged = anonymous.post("/api/v1/payments/payouts/notify/simulator", body, content_type="application/json",
                            headers={**headers, "Sim-Signature": "f" * 64})
    assert forged.status_code == 400
    payout.refresh_from_db()
    assert payout.state == "processing"
    answered = anonymous.post("/api/v1/payments/payouts/notify/simulator", body, content_type="application/json",
                              headers=headers)
    assert answered.status_code == 200 and answered.json()["code"] == "SUCCESS"
    payout.refresh_from_db()
    assert payout.state == "paid"
    assert anonymous.post("/api/v1/payments/payouts/notify/nobody", body, content_type="application/json").status_code == 404
    consistent(dealer.pk)


def test_the_page_sends_a_batch_back(actors: Actors) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    batch = payouts.prepare(finops())
    reviewer = finops_browser()
    reviewer.post(f"/payments/payouts/{batch.pk}/", {"action": "reject", "reason": ""})
    batch.refresh_from_db()
    assert batch.state == "prepared"  # a reason is required
    reviewer.post(f"/payments/payouts/{batch.pk}/", {"action": "reject", "reason": "户名待核实"})
    page = reviewer.get(f"/payments/payouts/{batch.pk}/?lang=en").content.decode()
    assert "户名待核实" in page and "Sent back" in page and "Approve and pay out" not in page
    consistent(dealer.pk)


def test_finance_ops_pages_prepare_and_approve(actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    first, second = finops_browser(), finops_browser()
    listing = first.get("/payments/payouts/?lang=en").content.decode()
    assert "Prepare a payout batch" in listing
    key = listing.split('name="key" value="')[1].split('"')[0]
    made = first.post("/payments/payouts/", {"key": key})
    batch = PayoutBatch.objects.get()
    assert made.status_code == 302 and made["Location"].endswith(f"/payments/payouts/{batch.pk}/")
    first.post("/payments/payouts/", {"key": key})  # a resubmitted form makes nothing more
    assert PayoutBatch.objects.count() == 1
    own = first.get(f"/payments/payouts/{batch.pk}/?lang=en").content.decode()
    assert dealer.name in own and "Approve and pay out" not in own and "another finance operator" in own
    other = second.get(f"/payments/payouts/{batch.pk}/?lang=en").content.decode()
    assert "Approve and pay out" in other and "confirm(" in other
    assert "Send back" in own and "Send back" in other
    with django_capture_on_commit_callbacks(execute=True):
        second.post(f"/payments/payouts/{batch.pk}/")
    assert ">Paid<" in second.get(f"/payments/payouts/{batch.pk}/?lang=en").content.decode()
    consistent(dealer.pk)


def test_the_demo_seed_pays_the_settled_dealer_with_four_eyes(actors: Actors) -> None:
    from carloop.core.seeding import SeedContext
    from carloop.payments import seed

    preparer, approver = finops("finops"), finops("finops2")
    dealer = actors.org("dealer_staff")
    acct = ledger.open_account(key=f"test:merchant:{dealer.pk}:settlement", name="dealer", code=2300,
                               owner=f"org:{dealer.pk}").id
    ledger.transfer(id=uuid.uuid4(), debit=ledger.system_account("external").id, credit=acct, amount_fen=200_000_00,
                    code=2101, memo="loan disbursement")
    for _ in range(2):  # idempotent
        seed.seed(SeedContext(scale="demo", stdout=io.StringIO(), quiet=True))
    batch = PayoutBatch.objects.get()
    assert (batch.state, batch.prepared_by_id, batch.approved_by_id) == ("completed", preparer.user_id, approver.user_id)
    assert batch.payouts.get().state == "paid" and batch.total_fen == 200_000_00 - 160_000
    assert SettlementStatement.objects.get(merchant_id=dealer.pk).state == "paid"
    consistent(dealer.pk)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_pay_once(actors: Actors) -> None:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 100_000)
    outside = external_balance()
    batch = payouts.prepare(finops())
    approvers = [finops() for _ in range(2)]
    results: list[str] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(approvers))

    def approve(subject: Subject) -> None:
        try:
            barrier.wait()
            payouts.approve(subject, batch_id=batch.pk)
            results.append("approved")
        except Problem as exc:
            results.append(exc.slug)
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=approve, args=(subject,)) for subject in approvers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(results) == ["approved", "batch-not-prepared"]
    assert SimulatorPayout.objects.count() == 1
    payout = batch.payouts.get()
    assert payout.state == "paid"
    assert external_balance() == outside + 99_000
    consistent(dealer.pk)


def _owed(actors: Actors) -> dict[str, Any]:
    owed(actors.org("dealer_staff").pk, 10_000)
    return {}


def _batch(actors: Actors) -> dict[str, Any]:
    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    batch = payouts.prepare(finops())
    return {"batch": batch.pk, "payout": batch.payouts.get().pk}


STAFF_OWN = {"finance_ops": 200, "admin": 200, "ops": 200, "dealer_staff": 200, "anonymous": 401, "*": 404}
OPERATORS = {"finance_ops": 200, "admin": 200, "ops": 200, "anonymous": 401, "*": 404}
CASES = [
    Case("GET", "/api/v1/payments/payouts/batches", expect={"anonymous": 401, "*": 200}),
    Case("POST", "/api/v1/payments/payouts/batches", setup=_owed, body={},
         expect={"finance_ops": 201, "admin": 201, "anonymous": 401, "*": 403}),
    Case("GET", "/api/v1/payments/payouts/batches/{batch}", setup=_batch, expect=OPERATORS),
    Case("POST", "/api/v1/payments/payouts/batches/{batch}/approve", setup=_batch, body={},
         expect={"finance_ops": 200, "admin": 200, "ops": 403, "anonymous": 401, "*": 404}),
    Case("POST", "/api/v1/payments/payouts/batches/{batch}/reject", setup=_batch, body={"reason": "金额需核对"},
         expect={"finance_ops": 200, "admin": 200, "ops": 403, "anonymous": 401, "*": 404}),
    Case("GET", "/api/v1/payments/payouts", expect={"anonymous": 401, "*": 200}),
    Case("GET", "/api/v1/payments/payouts/{payout}", setup=_batch, expect=STAFF_OWN),
    Case("POST", "/api/v1/payments/payouts/notify/simulator", body={"event_type": "PAYOUT.SUCCESS"},
         expect={"*": 400}),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(actors: Any, case: Case, kind: str) -> None:
    run_case(actors, case, kind)


def test_the_cli_prepares_and_a_second_login_approves(
        actors: Actors, capsys: Any, django_capture_on_commit_callbacks: Any) -> None:
    from django.core.management import CommandError, call_command

    dealer = actors.org("dealer_staff")
    owed(dealer.pk, 10_000)
    finops("cli-a"), finops("cli-b")
    call_command("payments", "payouts", "prepare", "--user", "cli-a")
    batch = PayoutBatch.objects.get()
    assert f"batch {batch.pk} prepared: 99.00" in capsys.readouterr().out
    with pytest.raises(CommandError) as exc:
        call_command("payments", "payouts", "approve", str(batch.pk), "--user", "cli-a")
    assert "four-eyes" in str(exc.value)
    with pytest.raises(CommandError):
        call_command("payments", "payouts", "approve", str(batch.pk), "--user", "nobody")
    with django_capture_on_commit_callbacks(execute=True):
        call_command("payments", "payouts", "approve", str(batch.pk), "--user", "cli-b")
    assert batch.payouts.get().state == "paid"
    call_command("payments", "payouts", "recover")
    assert "payouts concluded: 0" in capsys.readouterr().out
    consistent(dealer.pk)
