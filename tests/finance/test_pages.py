"""Finance pages render for each role, and the customer journey works end to end through the forms."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client

from carloop.finance.models import Application, Loan

from .conftest import World

pytestmark = pytest.mark.django_db


def login(actors: Any, kind: str) -> Client:
    client = Client()
    client.force_login(actors.user(kind))
    return client


def test_calculator_is_public_and_shows_the_apr(client: Client) -> None:
    page = client.get("/finance/calculator/?principal=100000.00&annual_rate=6&term=36&method=equal_installment")
    assert page.status_code == 200
    body = page.content.decode()
    assert "6.0000%" in body and "3042.19" in body, "the rate is typed as a percentage"
    assert "3042.19" in client.get("/finance/calculator/?principal=100000.00&annual_rate=6%25&term=36"
                                   "&method=equal_installment").content.decode()
    typo = client.get("/finance/calculator/?principal=100000.00&annual_rate=six&term=36&method=equal_installment")
    assert "年利率请填百分数" in typo.content.decode()
    bad = client.get("/finance/calculator/?principal=-1&annual_rate=6&term=36&method=equal_installment",
                     headers={"HX-Request": "true"})
    assert bad.status_code == 200 and "金额" in bad.content.decode()


def test_customer_journey_through_the_pages(world: World, actors: Any) -> None:
    client = login(actors, "customer")
    index = client.get("/finance/").content.decode()
    assert "A 4.99% · B 6.99% · C 9.99%" in index and "0.0499" not in index  # rates read as percentages
    form = client.get("/finance/apply/?product=car-purchase&order_ref=ORD-9&car_price=120000.00&amount=80000.00"
                      "&term=24").content.decode()
    assert 'type="hidden" name="order_ref" value="ORD-9"' in form, "the order reference is not a field to edit"
    assert 'name="monthly_income"' in form
    assert "预计月供" in form and "¥3,509.35 – ¥3,691.22" in form, "the payment over the A–C tier rates"
    preview = client.get("/finance/apply/preview/?product=car-purchase&amount=80000.00&term=24").content.decode()
    assert "¥3,509.35 – ¥3,691.22" in preview
    assert client.get("/finance/apply/preview/?product=car-purchase&amount=lots").content.decode().strip() == ""
    apply = {"product": "car-purchase", "amount": "80000.00", "term": "24", "order_ref": "ORD-9",
             "merchant": str(world.dealer.pk), "car_price": "120000.00", "consent": "on"}
    missing = client.post("/finance/apply/", apply)
    assert missing.status_code == 200 and "请填写月收入" in missing.content.decode() and not Application.objects.exists()
    response = client.post("/finance/apply/", {**apply, "monthly_income": "20000.00"})
    app = Application.objects.get()
    assert response.status_code == 302 and app.state == Application.State.APPROVED
    assert app.monthly_income_fen == 2_000_000
    offer_page = client.get(f"/finance/applications/{app.pk}/").content.decode()
    assert "6.9900%" in offer_page  # the APR, shown before the monthly rate
    assert offer_page.index("6.9900%") < offer_page.index("0.5825%")
    assert f'href="/finance/applications/{app.pk}/contract/"' in offer_page, "I have read the contract: it links to it"
    draft = client.get(f"/finance/applications/{app.pk}/contract/").content.decode()
    assert "汽车消费借款合同" in draft and "尚未签署" in draft and "¥80,000.00" in draft and "6.9900%" in draft
    assert login(actors, "other_customer").get(f"/finance/applications/{app.pk}/contract/").status_code == 404
    client.post(f"/finance/applications/{app.pk}/", {"agree": "on"})
    loan = Loan.objects.get()
    assert loan.state == Loan.State.ACTIVE
    page = client.get(f"/finance/loans/{loan.pk}/")
    assert page.status_code == 200
    contract = client.get(f"/finance/loans/{loan.pk}/contract/?download=1")
    assert contract.status_code == 200 and loan.contract_no in contract.content.decode()
    assert "attachment" in contract["Content-Disposition"]
    to_cashier = client.post(f"/finance/loans/{loan.pk}/", {"action": "repay", "amount": "100.00"})
    ref = f"finance:loan:{loan.pk}:amount:10000"
    assert to_cashier.status_code == 302 and to_cashier["Location"] == f"/payments/checkout/?{urlencode({'kind': 'finance.repayment', 'ref': ref})}"
    assert "¥100.00" in client.get(to_cashier["Location"]).content.decode()
    assert loan.repayments.count() == 0  # credited only when the provider confirms the money
    other = login(actors, "other_customer")
    assert other.get(f"/finance/loans/{loan.pk}/").status_code == 404


def test_operator_and_partner_pages(world: World, actors: Any) -> None:
    world.loan()
    assert login(actors, "finance_ops").get("/finance/ops/").status_code == 200
    assert login(actors, "finance_ops").get("/finance/").status_code == 302
    partner = login(actors, "lender_analyst")
    page = partner.get(f"/finance/partners/{world.partner.pk}/")
    assert page.status_code == 200
    assert login(actors, "store_manager").get(f"/finance/partners/{world.partner.pk}/").status_code == 404
    assert login(actors, "customer").get("/finance/ops/").status_code == 403


def test_back_office_lists_loans(world: World, actors: Any) -> None:
    from carloop.identity import services as identity_services

    loan = world.loan()
    admin = identity_services.create_staff_user(username="fin-admin", password="Tr0ub4dour&3x", platform_roles=("admin",))
    admin.is_staff = admin.is_superuser = True
    admin.save()
    client = Client()
    client.force_login(admin)
    assert loan.contract_no in client.get("/admin/finance/loan/").content.decode()
    assert client.get(f"/admin/finance/loan/{loan.pk}/change/").status_code == 200


def test_partner_menu_leads_each_analyst_to_their_own_portfolio(world: World, actors: Any) -> None:
    response = login(actors, "lender_analyst").get("/finance/partners/")
    assert response.status_code == 302 and response["Location"] == f"/finance/partners/{world.partner.pk}/"
    listing = login(actors, "finance_ops").get("/finance/partners/").content.decode()
    assert f"/finance/partners/{world.partner.pk}/" in listing
    assert login(actors, "customer").get("/finance/partners/").status_code == 404
