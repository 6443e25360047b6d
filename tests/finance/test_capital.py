"""A funder's capital enters its pool only through the cashier: a capital call that finance operations confirm
as a bank transfer (or that a statement line matches), never on finance's own word."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from carloop.core.errors import Problem
from carloop.finance import ledger_accounts, services
from carloop.finance.models import CAPITAL_KIND, CapitalCall
from carloop.ledger import selectors as ledger_q
from carloop.payments import services as payments
from carloop.payments.models import PaymentIntent
from tests.payments.conftest import assert_consistent


def _pool() -> int:
    return ledger_q.balance(ledger_accounts.pool(ledger_accounts.PLATFORM).id).balance_fen


def test_capital_is_booked_when_finance_operations_confirm_the_bank_transfer(world: Any) -> None:
    before = _pool()
    call = services.call_capital(None, 5_000_000, "top-up")
    assert services.call_capital(None, 5_000_000, "top-up") == call  # idempotent by key
    assert _pool() == before  # called, not yet paid
    intent = payments.confirm_deposit(kind=CAPITAL_KIND, ref=call.ref, bank_txn_id="ICBC-1", value_date=date.today(),
                                      actor="finops")
    call.refresh_from_db()
    assert intent.state == "succeeded" and intent.method == "bank_transfer"
    assert call.state == CapitalCall.State.RECEIVED and call.reference == f"payments:intent:{intent.pk}"
    assert _pool() == before + 5_000_000
    for again in ("ICBC-1", "ICBC-2"):  # the same bank line, or another one for a call already paid
        with pytest.raises(Problem) as info:
            payments.confirm_deposit(kind=CAPITAL_KIND, ref=call.ref, bank_txn_id=again, value_date=date.today(), actor="finops")
        assert info.value.status == 409
    with pytest.raises(Problem) as info:
        payments.refund(intent_id=intent.pk, amount_fen=1, reason="x", actor="finops")
    assert info.value.slug == "refund-through-owner"
    assert _pool() == before + 5_000_000
    assert_consistent()


def test_a_statement_line_with_the_reference_pays_the_capital_call(world: Any) -> None:
    before = _pool()
    call = services.call_capital(None, 3_000_000, "by-statement")
    intent = payments.open_bank_transfer(kind=CAPITAL_KIND, ref=call.ref, actor="finops")
    assert intent.reference and intent.state == "processing"
    result = payments.import_bank_statement(
        csv_text=f"bank_txn_id,value_date,amount,reference,payer_name\nB-1,{date.today()},30000.00,注资 {intent.reference},平台\n",
        actor="finops")
    assert result.matched == 1
    assert PaymentIntent.objects.get(pk=intent.pk).state == "succeeded"
    assert _pool() == before + 3_000_000
    assert_consistent()
