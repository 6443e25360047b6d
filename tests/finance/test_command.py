"""``carloop finance quote`` and ``carloop finance cob``."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from carloop.finance.models import CobRun

from .conftest import World


def test_quote_json_is_the_published_shape() -> None:
    out = StringIO()
    call_command("finance", "quote", "--principal", "100000.00", "--annual-rate", "0.06", "--term", "36",
                 "--method", "equal_installment", "--start", "2026-01-15", "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["schedule"][0]["payment"] == "3042.19" and data["schedule"][-1]["payment"] == "3042.36"
    assert data["schedule"][0]["due_date"] == "2026-02-15"
    assert (data["principal"], data["term"], data["method"]) == ("100000.00", 36, "equal_installment")
    assert (data["total_interest"], data["total_fees"], data["total_payment"]) == ("9519.01", "0.00", "109519.01")
    assert (data["apr"], data["apr_effective"]) == ("0.060000", "0.061678")


def test_quote_monthly_fee_and_table_output() -> None:
    out = StringIO()
    call_command("finance", "quote", "--principal", "100000.00", "--term", "12", "--method", "monthly_fee",
                 "--monthly-fee-rate", "0.006", "--start", "2026-01-31", stdout=out)
    text = out.getvalue()
    assert "2026-02-28" in text and "600.00" in text and "APR" in text


@pytest.mark.parametrize("args", [
    ["--principal", "-1", "--annual-rate", "0.06", "--term", "36", "--method", "equal_installment"],
    ["--principal", "100000.00", "--annual-rate", "abc", "--term", "36", "--method", "equal_installment"],
    ["--principal", "100000.00", "--annual-rate", "0.06", "--term", "36", "--method", "balloon"],
])
def test_quote_bad_input_fails_clearly(args: list[str]) -> None:
    with pytest.raises(CommandError) as err:
        call_command("finance", "quote", *args, "--json", stdout=StringIO(), stderr=StringIO())
    assert err.value.returncode == 2


@pytest.mark.django_db
def test_cob_command_is_idempotent(world: World) -> None:
    world.loan()
    first, second = StringIO(), StringIO()
    call_command("finance", "cob", "--date", "2026-02-16", stdout=first)
    call_command("finance", "cob", "--date", "2026-02-16", stdout=second)
    assert json.loads(first.getvalue())["became_due"] == 1
    assert json.loads(second.getvalue())["replayed"] is True
    assert CobRun.objects.count() == 1
