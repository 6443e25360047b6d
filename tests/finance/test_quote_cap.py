"""A quote is an offer to a customer: above the APR cap (the named product's, else the platform's) it is refused."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from carloop.finance import services
from carloop.finance.models import PLATFORM_APR_CAP

QUOTE = {"principal": "100000.00", "annual_rate": "0.06", "term": 36, "method": "equal_installment"}


@pytest.fixture
def capped(db: Any) -> str:
    services.create_product(
        "capped",
        kind="car_secured",
        name_zh="低息贷",
        name_en="Low-rate loan",
        method="equal_installment",
        min_amount_fen=1_000_000,
        max_amount_fen=50_000_000,
        min_term=12,
        max_term=36,
        terms=[12, 36],
        rate_table={"B": "0.08"},
        penalty_rate=Decimal("0.10"),
        apr_cap=Decimal("0.10"),
    )
    return "capped"


def _post(client: Any, **change: Any) -> Any:
    body = json.dumps(QUOTE | change)
    return client.post("/api/v1/finance/quotes", data=body, content_type="application/json")


@pytest.mark.parametrize(
    "change",
    [
        {"annual_rate": "0.36"},
        {"annual_rate": "0.2401"},
        {"method": "monthly_fee", "annual_rate": None, "monthly_fee_rate": "0.03"},  # the fee makes the APR ~ 63 %
    ],
)
def test_the_api_refuses_a_quote_above_the_platform_cap(client: Any, change: dict[str, Any]) -> None:
    response = _post(client, **change)
    assert response.status_code == 422, response.content
    assert response["Content-Type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["type"].endswith("/apr-above-cap")
    assert Decimal(problem["apr"]) > PLATFORM_APR_CAP and problem["apr_cap"] == str(PLATFORM_APR_CAP)


def test_a_quote_at_the_cap_is_given(client: Any) -> None:
    response = _post(client, annual_rate=str(PLATFORM_APR_CAP))
    assert response.status_code == 200 and response.json()["apr"] == "0.240000"


def test_a_named_product_caps_the_quote_at_its_own_cap(client: Any, capped: str) -> None:
    assert _post(client, annual_rate="0.12").status_code == 200  # within the platform cap
    refused = _post(client, annual_rate="0.12", product=capped)
    assert refused.status_code == 422 and refused.json()["apr_cap"] == "0.10000000"
    assert _post(client, annual_rate="0.09", product=capped).status_code == 200


def test_an_unknown_product_is_a_clear_422(client: Any, db: Any) -> None:
    response = _post(client, product="no-such-product")
    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "/product"


def _quote(*args: str) -> Any:
    out, err = StringIO(), StringIO()
    call_command(
        "finance",
        "quote",
        "--principal",
        "100000.00",
        "--term",
        "36",
        "--method",
        "equal_installment",
        *args,
        "--json",
        stdout=out,
        stderr=err,
    )
    return json.loads(out.getvalue())


def test_the_cli_exits_non_zero_above_the_cap(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(CommandError) as failed:
        call_command(
            "finance",
            "quote",
            "--principal",
            "100000.00",
            "--annual-rate",
            "0.36",
            "--term",
            "36",
            "--method",
            "equal_installment",
            "--json",
            stdout=StringIO(),
        )
    assert failed.value.returncode == 2 and "APR" in str(failed.value)
    assert json.loads(capsys.readouterr().err)["type"].endswith("/apr-above-cap")


def test_the_cli_caps_a_named_product(capped: str) -> None:
    assert _quote("--annual-rate", "0.12")["apr"] == "0.120000"
    with pytest.raises(CommandError) as failed:
        _quote("--annual-rate", "0.12", "--product", capped)
    assert failed.value.returncode == 2
