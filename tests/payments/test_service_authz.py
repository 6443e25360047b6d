"""The cashier's back-office commands check their caller themselves (docs/conventions.md, "Authorization"): only
finance operations (``selectors.may_operate``) refund, import statements, match lines and confirm deposits; a
refund of an intent the caller cannot read is a 404 before that; a refused caller changes nothing."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest

from carloop.core.authz import ANONYMOUS, Subject
from carloop.payments import selectors, services
from carloop.payments.models import BankStatementLine, Refund
from tests.harness import operator, status_of
from tests.payments.conftest import Bills
from tests.payments.test_refunds import paid_split

pytestmark = pytest.mark.django_db



OPS, FINANCE = operator("ops"), operator("finance_ops")
CSV = "bank_txn_id,value_date,amount,reference,payer_name\nICBC-AUTHZ-1,2026-12-01,100.00,NOPE,某公司\n"



def test_refunds_are_404_to_strangers_403_to_readers_and_made_by_finance_ops(
        bills: Bills, payer: Subject, django_capture_on_commit_callbacks: Any) -> None:
    intent = paid_split(bills, payer, django_capture_on_commit_callbacks)
    refund = lambda s, reason="退款": services.refund_for(s, intent_id=intent.pk, amount_fen=100, reason=reason)  # noqa: E731
    assert status_of(lambda: refund(Subject(kind="customer", user_id=uuid.uuid4()))) == 404
    assert status_of(lambda: refund(payer)) == 403  # the payer reads the intent
    assert status_of(lambda: refund(OPS)) == 403
    assert status_of(lambda: refund(FINANCE, " ")) == 422
    assert not Refund.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        assert refund(FINANCE).amount_fen == 100


def test_bank_statements_and_deposits_are_for_finance_ops_only() -> None:
    for subject, status in ((ANONYMOUS, 401), (OPS, 403)):
        assert status_of(lambda s=subject: services.import_bank_statement_for(s, csv_text=CSV)) == status
        assert status_of(lambda s=subject: selectors.bank_lines(s)) == status
        assert status_of(lambda s=subject: services.match_bank_line_for(s, line_id=uuid.uuid4(), intent_id=uuid.uuid4())) == status
        assert status_of(lambda s=subject: services.confirm_deposit_for(s, kind="x", ref="y", bank_txn_id="z",
                                                                        value_date=date(2026, 12, 1))) == status
    assert not BankStatementLine.objects.exists()
    assert services.import_bank_statement_for(FINANCE, csv_text=CSV).imported == 1
    assert [line.bank_txn_id for line in selectors.bank_lines(FINANCE)] == ["ICBC-AUTHZ-1"]
