"""A blacklisted ID number or phone declines an application, whichever provider decides it.

Nothing here is monkeypatched: the entries go in through the risk app's service and finance asks the real risk
selectors (rules provider) or the real ``carloop.risk.services.decide`` (risk provider).
"""

from __future__ import annotations

from typing import Any

import pytest

from carloop.finance import services
from carloop.finance.models import Application
from carloop.identity import selectors as identity
from carloop.risk import services as risk
from tests.finance.conftest import DISBURSED_ON


@pytest.mark.parametrize("provider", ["rules", "risk"])
@pytest.mark.parametrize("kind", ["id_number", "phone"])
def test_a_blacklisted_identifier_declines_the_application(world: Any, settings: Any, provider: str, kind: str) -> None:
    settings.CARLOOP_DECISION_PROVIDER = provider
    subject = world.customer()
    phone, id_number = identity.clear_pii(subject.user_id)
    risk.add_to_blacklist(kind=kind, value=id_number if kind == "id_number" else phone, reason="fraud ring", actor="user:analyst")
    app = services.apply(subject, world.purchase_input(), on=DISBURSED_ON)
    assert app.state == Application.State.DECLINED
    assert app.decisions.get().provider == provider
    codes = {r["code"] for r in app.decline_reasons}
    assert codes & {"blacklisted", "P_BLACKLIST"}, codes


def test_the_rules_provider_approves_a_customer_who_is_not_blacklisted(world: Any) -> None:
    phone, _ = identity.clear_pii(world.customer("other_customer").user_id)
    risk.add_to_blacklist(kind="phone", value=phone, reason="fraud ring", actor="user:analyst")
    app = services.apply(world.customer(), world.purchase_input(), on=DISBURSED_ON)
    assert app.state == Application.State.APPROVED
