"""Credit lines (issue 15, slice 1): opening by the risk decision, spending at the cashier, refunds.

Nothing is mocked: the decision is the rules provider or the real risk app, the checkout is the cashier's with a
throwaway payable kind (``test.bill``), and the limit is read back from the ledger."""

from __future__ import annotations

from typing import Any

import pytest

from carloop.core.errors import Problem
from carloop.finance import credit_line
from carloop.finance.models import CreditLine, CreditLineApplication
from carloop.identity import selectors as identity
from carloop.ledger import selectors as ledger_q
from carloop.payments import services as payments
from carloop.payments.models import IntentState
from carloop.risk import services as risk
from tests.payments.conftest import Bills, assert_consistent, bills  # noqa: F401 - the fixture

from .credit import OPENED_ON, available, checkout, open_line

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer(actors: Any, settings: Any) -> Any:
    settings.CARLOOP_DECISION_PROVIDER = "rules"
    return identity.subject_for_user(actors.user("customer"))


def test_an_approved_application_opens_a_line_with_the_limit_in_the_ledger(customer: Any) -> None:
    line = open_line(customer, 2_000_000)
    assert line.state == CreditLine.State.ACTIVE and line.limit_fen == 2_000_000 and line.price_tier
    assert line.statement_day == OPENED_ON.day and line.application.state == CreditLineApplication.State.APPROVED
    assert ledger_q.balance(line.available_account_id).balance_fen == 2_000_000
    summary = credit_line.summary(line)
    assert (summary.available_fen, summary.owed_fen, summary.held_fen) == (2_000_000, 0, 0)
    assert line.application.decision["request"]["product_kind"] == "credit_line"


@pytest.mark.parametrize("provider", ["rules", "risk"])
def test_a_blacklisted_applicant_is_declined_with_reasons_and_gets_no_line(customer: Any, settings: Any,
                                                                           provider: str) -> None:
    settings.CARLOOP_DECISION_PROVIDER = provider
    phone, _ = identity.clear_pii(customer.user_id)
    risk.add_to_blacklist(kind="phone", value=phone, reason="fraud ring", actor="user:analyst")
    app = credit_line.apply(customer, requested_limit_fen=2_000_000, consent=True, on=OPENED_ON)
    assert app.state == CreditLineApplication.State.DECLINED and app.provider == provider
    assert {r["code"] for r in app.decline_reasons} & {"blacklisted", "P_BLACKLIST"}
    assert all(r["zh"] and r["en"] for r in app.decline_reasons)
    assert not CreditLine.objects.exists()


def test_the_risk_provider_decides_a_line_too(customer: Any, settings: Any) -> None:
    settings.CARLOOP_DECISION_PROVIDER = "risk"
    app = credit_line.apply(customer, requested_limit_fen=1_000_000, consent=True, on=OPENED_ON)
    assert app.provider == "risk" and app.state in CreditLineApplication.State.values
    if app.state == CreditLineApplication.State.APPROVED:
        assert app.line.limit_fen == app.granted_limit_fen and app.granted_limit_fen <= 1_000_000


@pytest.mark.parametrize(("limit", "consent", "slug"), [
    (99_999, True, "limit-out-of-range"), (5_000_001, True, "limit-out-of-range"), (2_000_000, False, "consent-required"),
])
def test_bad_applications_get_a_422_and_change_nothing(customer: Any, limit: int, consent: bool, slug: str) -> None:
    with pytest.raises(Problem) as exc:
        credit_line.apply(customer, requested_limit_fen=limit, consent=consent, on=OPENED_ON)
    assert (exc.value.status, exc.value.slug) == (422, slug)
    assert not CreditLineApplication.objects.exists()


def test_one_open_line_per_customer_and_only_customers_apply(customer: Any, actors: Any) -> None:
    open_line(customer)
    with pytest.raises(Problem) as exc:
        open_line(customer)
    assert (exc.value.status, exc.value.slug) == (409, "credit-line-exists")
    staff = identity.subject_for_user(actors.user("finance_ops"))
    with pytest.raises(Problem) as exc:
        credit_line.apply(staff, requested_limit_fen=2_000_000, consent=True)
    assert exc.value.status == 403
    assert CreditLine.objects.count() == 1


def test_a_purchase_draws_on_the_limit_and_a_refund_restores_it(customer: Any, bills: Bills) -> None:  # noqa: F811
    line = open_line(customer, 2_000_000)
    intent = checkout(bills, customer, 1_250_050)
    assert intent.state == IntentState.SUCCEEDED
    summary = credit_line.summary(line)
    assert (summary.available_fen, summary.owed_fen, summary.held_fen) == (749_950, 1_250_050, 0)
    assert sum(next(iter(bills.bills.values())).paid) == 1_250_050
    payments.refund(intent_id=intent.pk, amount_fen=250_050, reason="退一件", actor="user:ops")
    assert available(line) == 1_000_000 and credit_line.summary(line).owed_fen == 1_000_000
    payments.refund(intent_id=intent.pk, amount_fen=1_000_000, reason="全部退货", actor="user:ops")
    assert available(line) == 2_000_000 and credit_line.summary(line).owed_fen == 0
    assert_consistent()


def test_a_draw_over_the_available_limit_is_refused_and_changes_nothing(customer: Any, bills: Bills) -> None:  # noqa: F811
    line = open_line(customer, 1_000_000)
    checkout(bills, customer, 600_000)
    with pytest.raises(Problem) as exc:
        checkout(bills, customer, 400_001)
    assert exc.value.status == 409 and exc.value.slug == "insufficient-funds"
    assert available(line) == 400_000
    assert checkout(bills, customer, 400_000).state == IntentState.SUCCEEDED
    assert available(line) == 0
    assert_consistent()


def test_another_customers_line_or_none_is_a_404_and_a_frozen_line_a_409(customer: Any, actors: Any,
                                                                         bills: Bills) -> None:  # noqa: F811
    line = open_line(customer)
    other = identity.subject_for_user(actors.user("other_customer"))
    for subject, instrument in ((other, ""), (other, str(line.pk)), (customer, "not-the-line")):
        with pytest.raises(Problem) as exc:
            checkout(bills, subject, 10_000, instrument)
        assert exc.value.status == 404
    assert checkout(bills, customer, 10_000, str(line.pk)).state == IntentState.SUCCEEDED
    with pytest.raises(Problem) as exc:
        credit_line.freeze(customer, line.pk)
    assert exc.value.status == 403
    credit_line.freeze(identity.subject_for_user(actors.user("finance_ops")), line.pk)
    with pytest.raises(Problem) as exc:
        checkout(bills, customer, 10_000)
    assert (exc.value.status, exc.value.slug) == (409, "credit-line-frozen")
    assert available(line) == 1_990_000
