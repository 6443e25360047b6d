"""The ledger's caller-facing commands and reads check the caller themselves (docs/conventions.md,
"Authorization"): only finance operations move money or open accounts by hand, and only those who read every
account see a transfer; a refused caller changes nothing and learns nothing about their input."""

import uuid

import pytest

from carloop.core.authz import ANONYMOUS, Subject
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import TransferSpec
from tests.harness import operator, status_of

pytestmark = pytest.mark.django_db



CUSTOMER = Subject(kind="customer", user_id=uuid.uuid4())
FINANCE = operator("finance_ops")



def test_only_finance_ops_move_money_by_hand_and_the_specs_are_not_read_before_the_check():
    world = ledger.system_account("external").id
    till = ledger.open_account(key="test:till", name="till", code=1999).id
    read: list[str] = []

    def specs(ref: str):
        read.append(ref)
        yield TransferSpec(id=f"manual:{ref}", debit=world, credit=till, amount_fen=100, code=1, actor=ref)

    for subject in (ANONYMOUS, CUSTOMER, operator("ops"), operator("risk_analyst")):
        assert status_of(lambda s=subject: ledger.manual_transfers(s, specs(s.ref))) in (401, 403)
    assert read == [] and ledger_q.balance(till).credits_posted == 0
    [result] = ledger.manual_transfers(FINANCE, specs(FINANCE.ref))
    assert result.actor == FINANCE.ref and ledger_q.balance(till).credits_posted == 100
    other = operator("finance_ops")
    assert status_of(lambda: ledger.manual_transfers(other, specs(FINANCE.ref))) == 409  # another caller's id


def test_only_finance_ops_open_accounts_by_hand():
    assert status_of(lambda: ledger.open_account_for(operator("ops"), key="test:by-hand", name="x", code=1)) == 403
    assert ledger_q.account_by_key("test:by-hand") is None
    assert ledger.open_account_for(operator("admin"), key="test:by-hand", name="x", code=1).key == "test:by-hand"


def test_a_transfer_is_read_by_those_who_read_every_account():
    world = ledger.system_account("external").id
    till = ledger.open_account(key="test:till", name="till", code=1999, owner=f"user:{CUSTOMER.user_id}").id
    ledger.transfer(id="seen", debit=world, credit=till, amount_fen=1, code=1)
    assert status_of(lambda: ledger_q.transfer_readable_by(CUSTOMER, "seen")) == 404  # even for the owner's account
    assert ledger_q.transfer_readable_by(operator("ops"), "seen").amount_fen == 1
    assert status_of(lambda: ledger_q.transfer_readable_by(operator("ops"), "unseen")) == 404
    assert ledger_q.reads_every_account(operator("admin")) and not ledger_q.reads_every_account(CUSTOMER)
