"""Finance commands check their caller themselves (pages, API and CLI share the check): a loan or application the
caller cannot read is a 404, one they read but may not act on a 403, and nothing changes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from carloop.core.authz import ANONYMOUS
from carloop.finance import selectors, services
from carloop.finance.models import Application, Loan
from carloop.identity import selectors as identity
from tests.finance.conftest import DISBURSED_ON, World
from tests.harness import status_of


def test_repayments_payoffs_and_write_offs(world: World, actors: Any) -> None:
    loan = world.loan()
    who = {kind: identity.subject_for_user(actors.user(kind)) for kind in
           ("other_customer", "risk_analyst", "lender_analyst", "finance_ops", "store_manager")}
    first = loan.installments.get(period=1)

    def pay(subject: Any) -> Any:
        raise services.pay_at_cashier(subject, loan.pk, amount_fen=first.owed_fen)

    assert status_of(lambda: pay(ANONYMOUS)) == 401
    assert status_of(lambda: pay(who["other_customer"])) == 404
    assert status_of(lambda: pay(who["store_manager"])) == 404
    assert status_of(lambda: pay(who["risk_analyst"])) == 403  # operators read every loan
    assert status_of(lambda: pay(who["lender_analyst"])) == 403  # the partner reads the loans it funds
    assert status_of(lambda: services.payoff_quote(who["lender_analyst"], loan.pk, first.due_date)) == 403
    assert status_of(lambda: services.write_off(world.customer(), loan.pk, "x", DISBURSED_ON + timedelta(days=200))) == 403
    assert status_of(lambda: services.write_off(who["other_customer"], loan.pk, "x", DISBURSED_ON)) == 404
    assert status_of(lambda: services.set_pledge_status(who["lender_analyst"], loan.pk, "registered")) == 403
    loan.refresh_from_db()
    assert loan.state == Loan.State.ACTIVE and not loan.repayments.exists()
    assert status_of(lambda: pay(who["finance_ops"])) == status_of(lambda: pay(world.customer())) == 409  # the cashier


def test_only_the_applicant_signs_and_only_reviewers_review(world: World, actors: Any) -> None:
    subject = world.customer()
    app = services.apply(subject, world.purchase_input(), on=DISBURSED_ON)
    assert app.state == Application.State.APPROVED
    finance_ops = identity.subject_for_user(actors.user("finance_ops"))
    assert status_of(lambda: services.accept_offer(world.customer("other_customer"), app.pk, agree=True)) == 404
    assert status_of(lambda: services.accept_offer(finance_ops, app.pk, agree=True)) == 403
    assert status_of(lambda: services.review(subject, app.pk, True)) == 403  # the applicant reads it
    assert status_of(lambda: services.review(finance_ops, app.pk, True)) == 403  # reads it, does not review
    assert status_of(lambda: services.review(world.customer("other_customer"), app.pk, True)) == 404
    assert Application.objects.get(pk=app.pk).state == Application.State.APPROVED


def test_partner_books_are_read_by_their_analysts_and_finance_staff(world: World, actors: Any) -> None:
    partner = world.partner.pk
    for kind in ("lender_analyst", "finance_ops", "risk_analyst"):
        assert selectors.readable_partner(identity.subject_for_user(actors.user(kind)), partner) == partner
    for kind in ("customer", "ops", "store_manager"):
        assert status_of(lambda k=kind: selectors.readable_partner(identity.subject_for_user(actors.user(k)), partner)) == 404
