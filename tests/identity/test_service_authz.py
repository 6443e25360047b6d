"""Identity's commands check their caller themselves (docs/conventions.md, "Authorization"): the API, the
pages and the CLI reach the same check, and a refused caller changes nothing."""

import pytest

from carloop.core import audit
from carloop.core.authz import ANONYMOUS
from carloop.identity import selectors, services
from carloop.identity.models import Organisation
from tests.harness import status_of

pytestmark = pytest.mark.django_db
VALID_USCC = "91110000600037341L"



def who(actors, kind):
    return selectors.subject_for_user(actors.user(kind))


def test_only_operations_correct_an_identity_and_the_audit_names_them(actors):
    customer = actors.user("customer")
    correct = lambda subject: services.correct_kyc(subject, customer.pk, real_name="李四", id_number="31010419900307123X",  # noqa: E731
                                                   reason="户籍更正")
    assert status_of(lambda: correct(ANONYMOUS)) == 401
    for kind in ("customer", "risk_analyst", "finance_ops", "store_manager"):
        assert status_of(lambda k=kind: correct(who(actors, k))) == 403, kind
    assert not [e for e in audit.history("identity.customer", customer.pk) if e.action == "kyc.corrected"]
    correct(who(actors, "admin"))
    entry = [e for e in audit.history("identity.customer", customer.pk) if e.action == "kyc.corrected"][-1]
    assert entry.actor == f"user:{actors.user('admin').pk}"


def test_only_operations_register_an_organisation(actors):
    register = lambda subject: services.register_organisation(subject, kind="store", name="好门店", uscc_code=VALID_USCC)  # noqa: E731
    assert status_of(lambda: register(ANONYMOUS)) == 401
    assert status_of(lambda: register(who(actors, "finance_ops"))) == 403
    assert status_of(lambda: register(who(actors, "store_manager"))) == 403
    assert not Organisation.objects.filter(uscc=VALID_USCC).exists()
    assert register(who(actors, "ops")).name == "好门店"
