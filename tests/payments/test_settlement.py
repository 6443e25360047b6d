"""Merchant settlement: payments and refunds that reached a merchant's settlement accounts become a statement
(gross, refunds, commission per line rounded half up, net) once per transfer, on the contract's cycle; the
ledger ends with the net in the merchant's account and the commission in income. Staff read their own only."""

from __future__ import annotations

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
from carloop.payments import selectors, services, settlement
from carloop.payments.models import SettlementLine, SettlementStatement
from carloop.payments.simulator import SIMULATOR
from tests.harness import SUBJECT_KINDS, Actors, Case, run_case
from tests.payments.conftest import KIND, Bills, assert_consistent

pytestmark = pytest.mark.django_db

TODAY = business_date()
TOMORROW = TODAY + timedelta(days=1)


def finops() -> Subject:
    user = identity_services.create_staff_user(username=f"fo-{uuid.uuid4().hex[:6]}", password="Tr0ub4dour&3x",
                                               platform_roles=("finance_ops",))
    return identity.subject_for_user(user)


def contract(merchant_id: uuid.UUID, bps: int = 250, cycle: int = 1, minimum_fen: int = 0) -> None:
    settlement.set_contract(finops(), merchant_id=merchant_id, commission_bps=bps, cycle_days=cycle,
                            minimum_payout_fen=minimum_fen)


def pay(bills: Bills, payer: Subject, merchant_id: uuid.UUID, amount_fen: int, capture: Any) -> uuid.UUID:
    """A bill paid through the simulator into the merchant's settlement account."""
    bills.destination = settlement.merchant_account(merchant_id)
    bill = bills.add(payer.user_id, amount_fen)
    intent = services.create_intent(kind=KIND, ref=bill.ref, subject=payer, actor=payer.ref)
    intent = services.confirm(intent_id=intent.pk, subject=payer, tenders=[], method="simulator", actor=payer.ref)
    with capture(execute=True):
        SIMULATOR.pay(intent.tenders.get().provider_order_no)
    return intent.pk


def disburse(merchant_id: uuid.UUID, amount_fen: int) -> uuid.UUID:
    """Money another app owes the merchant (as finance's loan disbursements to a dealer)."""
    acct = ledger.open_account(key=f"test:merchant:{merchant_id}:settlement", name="dealer", code=2300,
                               owner=f"org:{merchant_id}").id
    ledger.transfer(id=uuid.uuid4(), debit=ledger.system_account("external").id, credit=acct, amount_fen=amount_fen,
                    code=2101, memo="loan disbursement")
    return acct


def balance(account_id: uuid.UUID) -> int:
    return ledger_q.balance(account_id).balance_fen


def test_commission_is_rounded_half_up_per_line() -> None:
    assert settlement.commission_fen(1, 5000) == 1  # 0.5 fen
    assert settlement.commission_fen(3, 5000) == 2  # 1.5 fen
    assert settlement.commission_fen(33_333, 250) == 833  # 833.325
    assert settlement.commission_fen(10_001, 250) == 250  # 250.025
    assert settlement.commission_fen(19_999_99, 0) == 0


def test_statement_of_payments_refunds_and_another_apps_money(
        bills: Bills, payer: Subject, actors: Actors, django_capture_on_commit_callbacks: Any) -> None:
    dealer = actors.org("dealer_staff")
    contract(dealer.pk, bps=250)
    intent_id = pay(bills, payer, dealer.pk, 100_000, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        services.refund(intent_id=intent_id, amount_fen=10_001, reason="部分退款", actor="user:finops")
    other = disburse(dealer.pk, 33_333)

    statement = settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW, actor="system:test")
    assert statement is not None
    assert (statement.gross_fen, statement.refunds_fen, statement.fees_fen) == (133_333, 10_001, 2500 + 833 - 250)
    assert statement.net_fen == 133_333 - 10_001 - 3083
    assert statement.state == "unpaid" and statement.period_end == TODAY
    assert sorted((line.kind, line.amount_fen, line.fee_fen) for line in statement.lines.all()) == [
        ("income", 33_333, 833), ("income", 100_000, 2500), ("reversal", 10_001, 250)]
    assert balance(settlement.merchant_account(dealer.pk)) == statement.net_fen
    assert balance(other) == 0
    assert balance(settlement.commission_account()) == 3083
    assert_consistent()

    again = settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW, actor="system:test")
    assert again is not None and again.pk == statement.pk
    assert settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW + timedelta(days=1), actor="t") is None
    disburse(dealer.pk, 5_000)
    later = settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW + timedelta(days=2), actor="t")
    assert later is not None and (later.gross_fen, later.fees_fen, later.lines.count()) == (5_000, 125, 1)
    assert later.period_start == TODAY + timedelta(days=1)
    assert SettlementLine.objects.count() == 4


def test_t_plus_7_waits_seven_days(bills: Bills, actors: Actors) -> None:
    dealer = actors.org("dealer_staff")
    contract(dealer.pk, cycle=7)
    disburse(dealer.pk, 10_000)
    assert settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW, actor="t") is None
    assert settlement.settle_merchant(merchant_id=dealer.pk, run_date=TODAY + timedelta(days=6), actor="t") is None
    statement = settlement.settle_merchant(merchant_id=dealer.pk, run_date=TODAY + timedelta(days=7), actor="t")
    assert statement is not None and statement.net_fen == 10_000 - 250


def test_a_period_of_reversals_owes_the_platform_and_gives_commission_back(actors: Actors, db: None) -> None:
    dealer = actors.org("dealer_staff")
    contract(dealer.pk, bps=100)
    acct = disburse(dealer.pk, 50_000)
    settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW, actor="t")
    ledger.transfer(id=uuid.uuid4(), debit=acct, credit=ledger.system_account("external").id, amount_fen=20_000,
                    code=2105, memo="loan unwound")
    assert settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW, actor="t").net_fen == 49_500
    # the unwind came after today's statement: the next statement takes it (a transfer is never left behind)
    statement = settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW + timedelta(days=1), actor="t")
    assert statement is not None
    assert (statement.gross_fen, statement.refunds_fen, statement.fees_fen) == (0, 20_000, -200)
    assert statement.net_fen == -19_800 and statement.state == "unpaid"
    assert balance(settlement.merchant_account(dealer.pk)) == 49_500 - 19_800
    assert balance(settlement.commission_account()) == 500 - 200


def test_contract_terms_are_checked(actors: Actors, db: None) -> None:
    dealer = actors.org("dealer_staff")
    with pytest.raises(Problem) as exc:
        settlement.set_contract(finops(), merchant_id=actors.org("enterprise_admin").pk, commission_bps=10,
                                cycle_days=1, minimum_payout_fen=0)
    assert exc.value.status == 422 and exc.value.slug == "not-a-merchant"
    with pytest.raises(Problem) as exc:
        settlement.set_contract(finops(), merchant_id=dealer.pk, commission_bps=10_001, cycle_days=3,
                                minimum_payout_fen=-1)
    assert exc.value.status == 422 and len(exc.value.errors) == 3
    staff = identity.subject_for_user(actors.user("dealer_staff"))
    with pytest.raises(Problem) as exc:
        settlement.set_contract(staff, merchant_id=dealer.pk, commission_bps=10, cycle_days=1, minimum_payout_fen=0)
    assert exc.value.status == 403
    with pytest.raises(Problem) as exc:
        settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW, actor="t")
    assert exc.value.slug == "no-settlement-contract"


def test_staff_read_their_own_statements_and_download_csv(actors: Actors, db: None) -> None:
    dealer = actors.org("dealer_staff")
    contract(dealer.pk, bps=250)
    disburse(dealer.pk, 12_345)
    statement = settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW, actor="t")
    assert statement is not None
    staff = identity.subject_for_user(actors.user("dealer_staff"))
    assert list(selectors.statements_readable_by(staff)) == [statement]
    other_dealer = Actors()  # another dealer's staff
    response = actors.client("dealer_staff").get(f"/api/v1/payments/settlement/statements/{statement.pk}/csv?lang=en")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = response.content.decode("utf-8-sig")
    assert text.splitlines()[0] == "Time,Type,Memo,Amount,Commission,Net"
    assert "123.45,3.09,120.36" in text and "Net due,,,120.36" in text
    stranger = other_dealer.client("dealer_staff")
    assert stranger.get(f"/api/v1/payments/settlement/statements/{statement.pk}").status_code == 404
    browser, own = Client(), Client()
    browser.force_login(other_dealer.user("dealer_staff"))
    own.force_login(actors.user("dealer_staff"))
    assert browser.get(f"/payments/settlement/{statement.pk}/").status_code == 404
    page = own.get(f"/payments/settlement/{statement.pk}/?lang=en")
    assert page.status_code == 200 and "120.36" in page.content.decode()
    assert "Net due" in own.get("/payments/settlement/?lang=en").content.decode()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_runs_settle_each_transfer_once(actors: Actors) -> None:
    dealer = actors.org("dealer_staff")
    contract(dealer.pk, bps=250)
    for _ in range(20):
        disburse(dealer.pk, 1_000)
    made: list[Any] = []
    errors: list[BaseException] = []

    def run(day: int) -> None:
        try:
            made.append(settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW + timedelta(days=day),
                                                   actor="t"))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i % 2,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert SettlementLine.objects.count() == 20
    statements = list(SettlementStatement.objects.filter(merchant_id=dealer.pk))
    assert sum(s.net_fen for s in statements) == 20 * (1_000 - 25)
    assert balance(settlement.merchant_account(dealer.pk)) == 20 * 975
    assert_consistent()


def _statement(actors: Actors) -> dict[str, Any]:
    dealer = actors.org("dealer_staff")
    contract(dealer.pk)
    disburse(dealer.pk, 10_000)
    statement = settlement.settle_merchant(merchant_id=dealer.pk, run_date=TOMORROW, actor="t")
    assert statement is not None
    return {"statement": statement.pk, "merchant": dealer.pk}


def _merchant(actors: Actors) -> dict[str, Any]:
    return {"merchant": actors.org("dealer_staff").pk}


OWN = {"finance_ops": 200, "admin": 200, "ops": 200, "dealer_staff": 200, "anonymous": 401, "*": 404}
CASES = [
    Case("PUT", "/api/v1/payments/settlement/contracts", setup=_merchant,
         body={"merchant_id": "{merchant}", "commission_bps": 250, "cycle_days": 1, "minimum_payout": "100.00"},
         expect={"finance_ops": 200, "admin": 200, "anonymous": 401, "*": 403}),
    Case("GET", "/api/v1/payments/settlement/contracts", expect={"anonymous": 401, "*": 200}),
    Case("POST", "/api/v1/payments/settlement/runs", setup=_statement,
         body={"run_date": str(TOMORROW), "merchant_id": "{merchant}"},
         expect={"finance_ops": 201, "admin": 201, "anonymous": 401, "*": 403}),
    Case("GET", "/api/v1/payments/settlement/statements", expect={"anonymous": 401, "*": 200}),
    Case("GET", "/api/v1/payments/settlement/statements/{statement}", setup=_statement, expect=OWN),
    Case("GET", "/api/v1/payments/settlement/statements/{statement}/csv", setup=_statement, expect=OWN),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(bills: Bills, actors: Any, case: Case, kind: str) -> None:
    run_case(actors, case, kind)
