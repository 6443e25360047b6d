"""Risk's commands and operator lists check the caller themselves (docs/conventions.md, "Authorization"): the API
and the pages reach one predicate (may_monitor, may_review, may_analyse); a refused caller changes nothing."""

import uuid

import pytest

from carloop.core.authz import ANONYMOUS, Subject
from carloop.risk import policy, selectors, services
from carloop.risk.models import BlacklistEntry, PolicyRuleSet, ReviewCase
from tests.harness import operator, status_of

from .factories import customer, request

pytestmark = pytest.mark.django_db



OPS, FINANCE, ANALYST = operator("ops"), operator("finance_ops"), operator("risk_analyst")
CUSTOMER = Subject(kind="customer", user_id=uuid.uuid4())



def test_the_predicates_say_who_uses_what():
    assert [selectors.may_monitor(s) for s in (OPS, FINANCE, ANALYST, CUSTOMER)] == [True, True, True, False]
    assert [selectors.may_review(s) for s in (OPS, FINANCE, ANALYST, CUSTOMER)] == [True, False, True, False]
    assert [selectors.may_analyse(s) for s in (OPS, FINANCE, ANALYST, operator("admin"))] == [False, False, True, True]


def test_lists_are_403_for_callers_who_may_not_read_them():
    for read in (selectors.decision_log, selectors.blacklist_entries, selectors.ruleset_versions, selectors.model_registry,
                 selectors.monitoring_for):
        assert status_of(lambda r=read: r(ANONYMOUS)) == 401
        assert status_of(lambda r=read: r(CUSTOMER)) == 403
        r = read(FINANCE)
        assert r is not None
    assert status_of(lambda: selectors.review_queue(FINANCE)) == 403
    assert status_of(lambda: selectors.fraud_rings(OPS)) == 403
    assert status_of(lambda: selectors.features_of(OPS, uuid.uuid4())) == 403
    assert status_of(lambda: selectors.features_of(ANALYST, uuid.uuid4())) == 404
    assert status_of(lambda: selectors.blacklist_check(CUSTOMER, "device", "d")) == 403


def test_only_analysts_keep_the_blacklist_and_rule_sets():
    add = lambda s: services.add_to_blacklist_for(s, kind="device", value="dev-authz", reason="测试")  # noqa: E731
    assert status_of(lambda: add(OPS)) == 403 and not BlacklistEntry.objects.exists()
    entry = add(ANALYST)
    assert entry.created_by == ANALYST.ref
    assert status_of(lambda: services.remove_from_blacklist_for(FINANCE, entry.pk)) == 403
    assert status_of(lambda: services.remove_from_blacklist_for(ANALYST, uuid.uuid4())) == 404
    assert not services.remove_from_blacklist_for(ANALYST, entry.pk).active
    assert status_of(lambda: services.create_ruleset_for(OPS, rules=policy.DEFAULT_RULES)) == 403
    assert not PolicyRuleSet.objects.exists()
    draft = services.create_ruleset_for(ANALYST, rules=policy.DEFAULT_RULES)
    assert status_of(lambda: services.publish_ruleset_for(OPS, draft.pk)) == 403
    assert status_of(lambda: services.what_if_for(OPS, draft.pk)) == 403
    assert services.publish_ruleset_for(ANALYST, draft.pk).published_by == ANALYST.ref


def test_decisions_are_asked_by_internal_operators_and_referrals_decided_by_analysts():
    assert status_of(lambda: services.decide_for(CUSTOMER, request(customer()))) == 403
    result = services.decide_for(FINANCE, request(customer(), monthly_income_fen=150_000))
    review = ReviewCase.objects.get(decision_id=result.decision_id)
    decide = lambda s: services.decide_review_for(s, review.pk, outcome="decline", approved_amount_fen=None,  # noqa: E731
                                                  price_tier=None, note="")
    assert status_of(lambda: decide(OPS)) == 403  # ops read the queue but do not decide
    assert ReviewCase.objects.get(pk=review.pk).status == ReviewCase.Status.OPEN
    assert decide(ANALYST).decided_by == ANALYST.ref
    assert status_of(lambda: services.replay_for(OPS, result.decision_id)) == 403
    assert status_of(lambda: services.replay_for(ANALYST, uuid.uuid4())) == 404
