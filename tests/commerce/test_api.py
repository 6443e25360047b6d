import datetime as dt
import json

import pytest
from django.utils import timezone

from carloop.commerce import services
from carloop.commerce.models import BatterySubscription, CarOrder, OrderState
from tests.commerce.factories import (
    OPERATIONS,
    as_subject,
    make_bundle,
    make_campaign,
    make_plan,
    make_slot,
    make_station,
    make_trim,
    pay_balance,
    pay_deposit,
)
from tests.harness import SUBJECT_KINDS, Case, run_case
from tests.vehicles.factories import owned_vehicle

PUBLIC = {"*": 200}
OPERATORS = {"ops", "risk_analyst", "finance_ops", "admin"}
OPS_ONLY = {"anonymous": 401, "ops": 200, "admin": 200, "risk_analyst": 403, "finance_ops": 403, "customer": 403, "*": 404}
OWNER_ACTS = {"anonymous": 401, "customer": 200, **dict.fromkeys(OPERATORS, 403), "*": 404}


def trim_setup(actors):
    trim = make_trim(swap=True, battery_yuan=36_000)
    bundle = make_bundle(trim)
    plan = make_plan()
    return {"trim_id": str(trim.pk), "bundle_id": str(bundle.pk), "plan_id": str(plan.pk)}


def order_in_state(actors, state):
    customer = actors.user("customer")
    order = services.create_order(as_subject(customer), trim_id=make_trim().pk, colour_code="white")
    steps = [(OrderState.DEPOSIT_PAID, lambda: pay_deposit(order)),
             (OrderState.BALANCE_PAID, lambda: pay_balance(order)),
             (OrderState.VEHICLE_ALLOCATED, lambda: services.allocate_vehicle(OPERATIONS, order_id=order.pk)),
             (OrderState.DELIVERY_SCHEDULED, lambda: services.schedule_delivery(
                 OPERATIONS, order_id=order.pk, store_id=actors.org("store_manager").pk, delivery_date=dt.date.today()))]
    for target, step in steps:
        if order.state == state:
            break
        step()
        order.refresh_from_db()
        assert order.state == target
    return {"order_id": order.pk, "store_id": str(actors.org("store_manager").pk)}


def subscription_setup(actors):
    customer = actors.user("customer")
    trim = make_trim(swap=True, battery_yuan=36_000)
    vehicle = owned_vehicle(customer, trim=trim)
    plan, other = make_plan(), make_plan("plus", 599)
    sub = BatterySubscription.objects.create(customer=customer, vehicle=vehicle, plan=plan, cycle_start=dt.date.today())
    return {"subscription_id": sub.pk, "plan_id": str(other.pk), "station_id": str(make_station().pk)}


def quote_setup(actors):
    customer = actors.user("customer")
    vehicle = owned_vehicle(customer)
    quote = services.quote_trade_in(as_subject(customer), vehicle_id=vehicle.pk)
    return {"vehicle_id": str(vehicle.pk), "quote_id": quote.pk}


def slot_setup(actors):
    trim = make_trim()
    slot = make_slot(actors.org("store_manager"), trim.series_id)
    return {"slot_id": slot.pk}


def booking_setup(actors):
    values = slot_setup(actors)
    booking = services.book_test_drive(as_subject(actors.user("customer")), slot_id=values["slot_id"])
    return {"booking_id": booking.pk}


def campaign_setup(actors):
    return {"campaign_id": make_campaign(actors.org("manufacturer_analyst")).pk}


ANSWERS = {"answers": {"exterior": "retro", "colour": "green", "features": ["adas", "swap"], "range": "400",
                       "price": "79800", "vw_too_cheap": "50000", "vw_cheap": "65000", "vw_expensive": "90000",
                       "vw_too_expensive": "110000"}}
REPORT = {"anonymous": 401, "manufacturer_analyst": 200, **dict.fromkeys(OPERATORS, 200), "*": 404}

CASES = [
    Case("POST", "/api/v1/commerce/configurator/price", setup=trim_setup, expect=PUBLIC,
         body={"trim_id": "{trim_id}", "colour_code": "green", "option_codes": ["adas"], "bundle_id": "{bundle_id}",
               "battery_mode": "subscription", "battery_plan_id": "{plan_id}"}),
    Case("GET", "/api/v1/commerce/bundles?trim_id={trim_id}", setup=trim_setup, expect=PUBLIC),
    Case("GET", "/api/v1/commerce/battery-plans", expect=PUBLIC),
    Case("GET", "/api/v1/commerce/swap-stations", expect=PUBLIC),
    Case("GET", "/api/v1/commerce/battery-subscriptions", expect={"anonymous": 401, "*": 200}),
    Case("POST", "/api/v1/commerce/battery-subscriptions/{subscription_id}/plan", setup=subscription_setup,
         body={"plan_id": "{plan_id}"}, expect={"anonymous": 401, "customer": 200, "ops": 403, "admin": 403, "*": 404}),
    Case("GET", "/api/v1/commerce/battery-subscriptions/{subscription_id}/swaps", setup=subscription_setup,
         expect={"anonymous": 401, "customer": 200, "ops": 200, "admin": 200, "*": 404}),
    Case("POST", "/api/v1/commerce/battery-subscriptions/{subscription_id}/swaps", setup=subscription_setup,
         body={"station_id": "{station_id}", "odometer_km": 40_000},
         expect={"anonymous": 401, "ops": 201, "admin": 201, "customer": 403, "*": 404}),
    Case("POST", "/api/v1/commerce/orders", setup=trim_setup, body={"trim_id": "{trim_id}", "colour_code": "white"},
         expect={"anonymous": 401, "customer": 201, "other_customer": 201, "*": 403}),
    Case("GET", "/api/v1/commerce/orders", expect={"anonymous": 401, "*": 200}),
    Case("GET", "/api/v1/commerce/orders/{order_id}", setup=lambda a: order_in_state(a, OrderState.CREATED),
         expect={"anonymous": 401, "customer": 200, **dict.fromkeys(OPERATORS, 200), "*": 404}),
    Case("POST", "/api/v1/commerce/orders/{order_id}/cancel", setup=lambda a: order_in_state(a, OrderState.DEPOSIT_PAID),
         expect=OWNER_ACTS),
    Case("POST", "/api/v1/commerce/orders/{order_id}/allocate",
         setup=lambda a: order_in_state(a, OrderState.BALANCE_PAID), expect=OPS_ONLY),
    Case("POST", "/api/v1/commerce/orders/{order_id}/schedule-delivery",
         setup=lambda a: order_in_state(a, OrderState.VEHICLE_ALLOCATED),
         body={"store_id": "{store_id}", "delivery_date": (dt.date.today() + dt.timedelta(days=3)).isoformat()},
         expect=OPS_ONLY),
    Case("POST", "/api/v1/commerce/orders/{order_id}/deliver",
         setup=lambda a: order_in_state(a, OrderState.DELIVERY_SCHEDULED), expect={**OPS_ONLY, "store_manager": 200}),
    Case("POST", "/api/v1/commerce/orders/{order_id}/seller-default",
         setup=lambda a: order_in_state(a, OrderState.DEPOSIT_PAID), body={"reason": "factory delay"}, expect=OPS_ONLY),
    Case("POST", "/api/v1/commerce/trade-in/quotes", setup=quote_setup, body={"vehicle_id": "{vehicle_id}"},
         expect={"anonymous": 401, "customer": 201, "other_customer": 404, "*": 403}),
    Case("GET", "/api/v1/commerce/trade-in/quotes/{quote_id}", setup=quote_setup,
         expect={"anonymous": 401, "customer": 200, **dict.fromkeys(OPERATORS, 200), "*": 404}),
    Case("GET", "/api/v1/commerce/test-drives/slots", setup=slot_setup, expect=PUBLIC),
    Case("POST", "/api/v1/commerce/test-drives/slots/{slot_id}/bookings", setup=slot_setup,
         expect={"anonymous": 401, "customer": 201, "other_customer": 201, "*": 403}),
    Case("POST", "/api/v1/commerce/test-drives/bookings/{booking_id}/cancel", setup=booking_setup,
         expect={"anonymous": 401, "customer": 200, "*": 404}),
    Case("POST", "/api/v1/commerce/campaigns", expect={"anonymous": 401, "manufacturer_analyst": 201, "*": 403},
         body={"title": "Compact BEV", "title_zh": "小型纯电",
               "closes_at": (timezone.now() + dt.timedelta(days=10)).isoformat()}),
    Case("GET", "/api/v1/commerce/campaigns", setup=campaign_setup, expect=PUBLIC),
    Case("GET", "/api/v1/commerce/campaigns/{campaign_id}", setup=campaign_setup,
         expect={"customer": 200, "other_customer": 200, "manufacturer_analyst": 200, **dict.fromkeys(OPERATORS, 200),
                 "*": 404}),
    Case("PUT", "/api/v1/commerce/campaigns/{campaign_id}/response", setup=campaign_setup, body=ANSWERS,
         expect={"anonymous": 401, "customer": 200, "other_customer": 200, "manufacturer_analyst": 403,
                 **dict.fromkeys(OPERATORS, 403), "*": 404}),
    Case("POST", "/api/v1/commerce/campaigns/{campaign_id}/close", setup=campaign_setup,
         expect={**REPORT, "customer": 403, "other_customer": 403}),
    Case("GET", "/api/v1/commerce/campaigns/{campaign_id}/report", setup=campaign_setup, expect=REPORT),
    Case("GET", "/api/v1/commerce/campaigns/{campaign_id}/report.csv", setup=campaign_setup, expect=REPORT),
]


@pytest.mark.parametrize("case", CASES, ids=str)
@pytest.mark.parametrize("kind", SUBJECT_KINDS)
def test_authorization(actors, case, kind):
    run_case(actors, case, kind)


def post(client, url, body=None, **headers):
    return client.post(url, json.dumps(body or {}), content_type="application/json", headers=headers)


def test_a_buyer_saying_paid_books_nothing(actors):
    """Money enters only on the provider's word at the cashier: there is no "I paid" call on an order."""
    from django.test import Client
    from django.urls import reverse

    from carloop.commerce.ledger_flows import account_id
    from carloop.ledger import selectors as ledger_q

    values = order_in_state(actors, OrderState.CREATED)
    client = actors.client("customer")
    for step in ("deposit", "balance"):
        answer = post(client, f"/api/v1/commerce/orders/{values['order_id']}/{step}", {"method": "full"})
        assert answer.status_code == 404
        page = Client()
        page.force_login(actors.user("customer"))
        assert page.post(reverse("commerce:order_action", args=[values["order_id"], step])).status_code == 404
    assert CarOrder.objects.get(pk=values["order_id"]).state == OrderState.CREATED
    assert ledger_q.balance(account_id("deposits_held")).credits_posted == 0


def test_bad_amount_in_answers_is_422_and_changes_nothing(actors):
    campaign_id = campaign_setup(actors)["campaign_id"]
    client = actors.client("customer")
    bad = {"answers": {**ANSWERS["answers"], "vw_cheap": "12.345"}}
    response = client.put(f"/api/v1/commerce/campaigns/{campaign_id}/response", json.dumps(bad),
                          content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/answers/vw_cheap"
    number = {"answers": {**ANSWERS["answers"], "vw_cheap": 120000}}
    response = client.put(f"/api/v1/commerce/campaigns/{campaign_id}/response", json.dumps(number),
                          content_type="application/json")
    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "/answers/vw_cheap"
    reversed_prices = {"answers": {**ANSWERS["answers"], "vw_too_cheap": "120000"}}
    response = client.put(f"/api/v1/commerce/campaigns/{campaign_id}/response", json.dumps(reversed_prices),
                          content_type="application/json")
    assert response.status_code == 422
    from carloop.commerce.models import CampaignResponse

    assert not CampaignResponse.objects.exists()


def test_answer_once_editable_until_close(actors):
    campaign_id = campaign_setup(actors)["campaign_id"]
    client = actors.client("customer")
    url = f"/api/v1/commerce/campaigns/{campaign_id}/response"
    assert client.put(url, json.dumps(ANSWERS), content_type="application/json").status_code == 200
    edited = {"answers": {**ANSWERS["answers"], "colour": "pink"}}
    assert client.put(url, json.dumps(edited), content_type="application/json").json()["answers"]["colour"] == "pink"
    from carloop.commerce.models import CampaignResponse

    assert CampaignResponse.objects.filter(campaign_id=campaign_id).count() == 1
    services.close_campaign(as_subject(actors.user("manufacturer_analyst")), campaign_id=campaign_id)
    from carloop.core.errors import Problem

    with pytest.raises(Problem) as info:
        services.answer_campaign(as_subject(actors.user("customer")), campaign_id=campaign_id, answers=ANSWERS["answers"])
    assert info.value.status == 404  # a closed campaign is no longer readable by customers: the page and API agree
    assert client.put(url, json.dumps(ANSWERS), content_type="application/json").status_code == 404


def test_other_manufacturer_gets_404_for_report(actors):
    from carloop.core.seeding import SeedContext, fake_uscc
    from carloop.identity import services as identity

    rival = identity.create_organisation(kind="manufacturer", name="Rival Motors", uscc_code=fake_uscc(
        SeedContext(scale="demo", stdout=None, quiet=True, seed=7)))
    campaign = make_campaign(rival)
    client = actors.client("manufacturer_analyst")
    assert client.get(f"/api/v1/commerce/campaigns/{campaign.pk}/report").status_code == 404
    assert client.get(f"/api/v1/commerce/campaigns/{campaign.pk}").status_code == 404


def test_report_exports_aggregates_only(actors):
    from carloop.commerce.models import CampaignResponse

    campaign = make_campaign(actors.org("manufacturer_analyst"))
    customer = actors.user("customer")
    from carloop.identity import services as identity

    users = [customer] + [identity.register_customer(phone=f"1390000{i:04d}", password="Tr0ub4dour&3x") for i in range(11)]
    for i, user in enumerate(users):
        answers = {**ANSWERS["answers"], "colour": "green" if i % 2 else "white"}
        CampaignResponse.objects.create(campaign=campaign, respondent=user,
                                        answers={k: (int(v) * 100 if k.startswith(("vw_", "price")) else v)
                                                 for k, v in answers.items()})
    client = actors.client("manufacturer_analyst")
    report = client.get(f"/api/v1/commerce/campaigns/{campaign.pk}/report").json()
    assert report["respondents"] == 12
    colours = {c["option"]: c for c in report["questions"]["colour"]["options"]}
    assert colours["green"]["count"] == 6 and colours["pink"]["suppressed"]
    assert report["price_points"]["pmc_fen"] > 0
    csv_text = client.get(f"/api/v1/commerce/campaigns/{campaign.pk}/report.csv").content.decode("utf-8-sig")
    assert "van_westendorp" in csv_text and str(customer.pk) not in csv_text and customer.username not in csv_text
