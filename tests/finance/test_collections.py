"""Collections: finance operations work the delinquent loans as a queue (filters, sorting, paging, masked
borrowers, amount overdue), export it for Excel, and record contacts and promises to pay after a confirmation."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from carloop.core.errors import Problem
from carloop.core.models import AuditEntry
from carloop.core.timeutil import business_date
from carloop.finance import cob, services
from carloop.finance.models import CollectionNote, Loan
from carloop.identity import selectors as identity

from .conftest import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def late(world: World) -> list[Loan]:
    """Two delinquent loans (one ¥100,000, one ¥50,000) and one current loan."""
    big, small = world.loan(10_000_000), world.loan(5_000_000, kind="other_customer")
    due = big.installments.get(period=1).due_date
    cob.run(due + timedelta(days=5))
    current = world.loan(3_000_000)
    return [Loan.objects.get(pk=big.pk), Loan.objects.get(pk=small.pk), current]


def _client(world: World, kind: str) -> Client:
    client = Client()
    client.force_login(world.actors.user(kind))
    return client


def test_finance_ops_work_the_delinquent_loans_as_a_queue(world: World, late: list[Loan]) -> None:
    big, small, current = late
    client = _client(world, "finance_ops")
    page = client.get("/finance/collections/?sort=overdue").content.decode()
    assert big.contract_no in page and small.contract_no in page and current.contract_no not in page
    assert page.index(big.contract_no) < page.index(small.contract_no), "largest amount overdue first"
    phone = world.actors.user("customer").phone
    assert phone not in page and f"{phone[:3]}****{phone[-4:]}" in page, "borrowers by masked name and phone"
    owed = big.installments.get(period=1).owed_fen
    assert f"¥{owed // 100:,}.{owed % 100:02d}" in page
    later_bucket = client.get("/finance/collections/?sort=outstanding&bucket=31-60").content.decode()
    assert big.contract_no not in later_bucket and "没有符合条件的逾期贷款" in later_bucket
    assert big.contract_no in client.get("/finance/collections/?bucket=1-30").content.decode()
    assert big.contract_no in client.get(f"/finance/collections/?partner={world.partner.pk}").content.decode()
    assert big.contract_no not in client.get(f"/finance/collections/?partner={world.dealer.pk}").content.decode()
    assert big.contract_no not in client.get("/finance/collections/?product=car-secured").content.decode()
    assert "/finance/collections/" in client.get("/finance/ops/").content.decode()


def test_the_export_is_the_filtered_list_for_excel(world: World, late: list[Loan]) -> None:
    big, small, _ = late
    client = _client(world, "finance_ops")
    response = client.get("/finance/collections/export.csv?sort=overdue")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    body = response.content.decode("utf-8")
    assert body.startswith("\ufeff合同号,借款人"), "UTF-8 with a byte-order mark, so Excel reads the Chinese"
    lines = body.strip().splitlines()
    assert len(lines) == 3 and lines[1].startswith(big.contract_no) and lines[2].startswith(small.contract_no)
    assert world.actors.user("customer").phone not in body
    owed = big.installments.get(period=1).owed_fen
    assert f"{owed // 100}.{owed % 100:02d}" in lines[1]
    english = client.get("/finance/collections/export.csv?lang=en&bucket=90%2B").content.decode("utf-8")
    assert english.strip() == "\ufeffContract,Borrower,Product,Funders,DPD bucket,Days past due,Overdue (yuan)," \
        "Outstanding principal (yuan),Oldest unpaid due,Last withholding,Last contact,Last outcome"


def test_a_contact_and_a_promise_are_recorded_once_after_confirming(world: World, late: list[Loan]) -> None:
    big = late[0]
    client = _client(world, "finance_ops")
    url = f"/finance/collections/{big.pk}/"
    key = client.get(url).content.decode().split('name="key" value="')[1].split('"')[0]
    form = {"channel": "phone", "outcome": "promised", "promised_amount": "3000.00",
            "promised_on": (business_date() + timedelta(days=3)).isoformat(), "note": "客户称周五发工资后还款", "key": key}
    asked = client.post(url, form).content.decode()
    assert "确认保存这条催收记录" in asked and "¥3,000.00" in asked and not CollectionNote.objects.exists()
    for _ in range(2):  # the confirmation sent twice records once
        assert client.post(url, {**form, "confirmed": "yes"}).status_code == 302
    note = CollectionNote.objects.get()
    assert (note.outcome, note.promised_amount_fen, note.loan_id) == ("promised", 300_000, big.pk)
    assert AuditEntry.objects.filter(action="finance.collection.contact", object_id=str(big.pk)).count() == 1
    listing = client.get("/finance/collections/").content.decode()
    assert "承诺还款" in listing
    missing = client.post(url, {**form, "promised_amount": "", "key": "other", "confirmed": "yes"}).content.decode()
    assert "承诺还款须填写金额" in missing and CollectionNote.objects.count() == 1


@pytest.mark.parametrize("kind", ["ops", "risk_analyst", "customer", "lender_analyst"])
def test_others_neither_see_nor_record_collections(world: World, late: list[Loan], kind: str) -> None:
    big = late[0]
    client = _client(world, kind)
    assert client.get("/finance/collections/").status_code == 403
    assert client.get("/finance/collections/export.csv").status_code == 403
    assert client.get(f"/finance/collections/{big.pk}/").status_code == 404
    assert client.post(f"/finance/collections/{big.pk}/", {"channel": "phone", "outcome": "reached", "key": "k",
                                                          "confirmed": "yes"}).status_code == 404
    assert not CollectionNote.objects.exists()


@pytest.mark.parametrize(("kind", "status"), [("ops", 403), ("customer", 403), ("other_customer", 404), ("lender_analyst", 403)])
def test_the_service_checks_the_caller(world: World, late: list[Loan], kind: str, status: int) -> None:
    subject = identity.subject_for_user(world.actors.user(kind))
    with pytest.raises(Problem) as refused:
        services.record_collection_contact(subject, late[0].pk, channel="phone", outcome="reached", key="k",
                                           today=business_date())
    assert refused.value.status == status


def test_the_last_withholding_attempt_is_shown(world: World, django_capture_on_commit_callbacks: Any) -> None:
    from carloop.payments.simulator import SIMULATOR, Behaviour

    from .test_withholding import bound_loan, run_cob

    loan, first = bound_loan(world)
    SIMULATOR.behaviour = Behaviour(withhold="notenough")
    try:
        for k in (0, 2):  # the debit fails on the due date and again two days later
            run_cob(loan, first.due_date + timedelta(days=k), django_capture_on_commit_callbacks)
    finally:
        SIMULATOR.behaviour, SIMULATOR.held = Behaviour(), []
    client = _client(world, "finance_ops")
    page = client.get("/finance/collections/").content.decode()
    assert loan.contract_no in page and "支付失败" in page
    assert f"{first.due_date + timedelta(days=2):%Y-%m-%d}" in page
    case = client.get(f"/finance/collections/{loan.pk}/").content.decode()
    assert "最近代扣" in case and "支付失败" in case
    csv_text = client.get("/finance/collections/export.csv").content.decode("utf-8")
    assert f"{first.due_date + timedelta(days=2):%Y-%m-%d}" in csv_text and "支付失败" in csv_text
