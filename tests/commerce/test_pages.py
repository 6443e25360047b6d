import re

from django.test import Client

from carloop.commerce import services
from carloop.commerce.models import CampaignResponse, CarOrder, OrderState
from tests.commerce.factories import as_subject, make_bundle, make_campaign, make_plan, make_slot, make_trim, pay_deposit
from tests.commerce.test_api import ANSWERS
from tests.vehicles.factories import owned_vehicle


def logged_in(actors, kind):
    client = Client()
    client.force_login(actors.user(kind))
    return client


def test_catalog_compare_and_configurator_render(actors):
    trim = make_trim(msrp_yuan=101_800, swap=True, battery_yuan=36_000)
    make_bundle(trim)
    plan = make_plan()
    client = Client()
    page = client.get("/commerce/?swap=1")
    assert page.status_code == 200 and str(trim.pk) in page.content.decode()
    assert client.get(f"/commerce/compare/?trim={trim.pk}&trim=nonsense").status_code == 200
    assert client.get(f"/commerce/configure/{trim.pk}/?lang=en").status_code == 200
    partial = client.get(f"/commerce/configure/{trim.pk}/price/", {
        "colour_code": "green", "battery_mode": "subscription", "battery_plan_id": str(plan.pk)})
    assert partial.status_code == 200
    assert "¥67,800.00" in partial.content.decode()
    bad = Client().get(f"/commerce/configure/{trim.pk}/price/", {"colour_code": "purple"})
    assert "颜色" in bad.content.decode()


def test_order_through_pages(actors):
    trim = make_trim()
    client = logged_in(actors, "customer")
    response = client.post(f"/commerce/configure/{trim.pk}/order/", {"colour_code": "white", "deposit_kind": "binding"})
    order = CarOrder.objects.get()
    assert response.status_code == 302 and response.url == f"/commerce/orders/{order.pk}/"
    pay_deposit(order)
    assert client.get(f"/commerce/orders/{order.pk}/").status_code == 200
    assert client.get("/commerce/orders/").status_code == 200
    order.refresh_from_db()
    assert order.state == OrderState.DEPOSIT_PAID
    assert logged_in(actors, "other_customer").get(f"/commerce/orders/{order.pk}/").status_code == 404
    assert logged_in(actors, "other_customer").post(f"/commerce/orders/{order.pk}/balance/").status_code == 404
    ops = logged_in(actors, "ops")
    assert ops.post(f"/commerce/orders/{order.pk}/allocate/").status_code == 302
    order.refresh_from_db()
    assert order.state == OrderState.DEPOSIT_PAID, "illegal transition shown as a message, nothing changes"


def test_garage_and_test_drive_pages(actors):
    customer = actors.user("customer")
    vehicle = owned_vehicle(customer)
    client = logged_in(actors, "customer")
    assert client.get("/commerce/garage/").status_code == 200
    assert client.post(f"/commerce/garage/{vehicle.pk}/trade-in/").status_code == 302
    assert client.post(f"/commerce/garage/{vehicle.pk}/odometer/", {"km": "10"}).status_code == 302
    slot = make_slot(actors.org("store_manager"), make_trim().series_id, capacity=1)
    assert Client().get("/commerce/test-drives/").status_code == 200
    assert client.post("/commerce/test-drives/", {"slot_id": str(slot.pk)}).status_code == 302
    slot.refresh_from_db()
    assert slot.booked == 1


def test_questionnaire_and_report_pages(actors):
    campaign = make_campaign(actors.org("manufacturer_analyst"))
    client = logged_in(actors, "customer")
    assert client.get(f"/commerce/campaigns/{campaign.pk}/").status_code == 200
    form = dict(ANSWERS["answers"])
    response = client.post(f"/commerce/campaigns/{campaign.pk}/", form)
    assert response.status_code == 302 and CampaignResponse.objects.count() == 1
    analyst = logged_in(actors, "manufacturer_analyst")
    assert analyst.get("/commerce/campaigns/").status_code == 200
    assert analyst.get(f"/commerce/campaigns/{campaign.pk}/report/?lang=en").status_code == 200
    assert analyst.get(f"/commerce/campaigns/{campaign.pk}/report.csv").status_code == 200
    assert client.get(f"/commerce/campaigns/{campaign.pk}/report/").status_code == 404


def test_report_page_with_enough_answers_renders_charts_data(actors):
    from carloop.identity import services as identity

    campaign = make_campaign(actors.org("manufacturer_analyst"))
    for i in range(12):
        user = identity.register_customer(phone=f"1360000{i:04d}", password="Tr0ub4dour&3x")
        answers = {**ANSWERS["answers"], "exterior": "sporty" if i % 3 else "retro"}
        CampaignResponse.objects.create(campaign=campaign, respondent=user, answers={
            k: (int(v) * 100 if k.startswith(("vw_", "price")) else v) for k, v in answers.items()})
    page = logged_in(actors, "manufacturer_analyst").get(f"/commerce/campaigns/{campaign.pk}/report/")
    body = page.content.decode()
    assert page.status_code == 200 and "report-data" in body and "OPP" in body
    services.close_campaign(as_subject(actors.user("manufacturer_analyst")), campaign_id=campaign.pk)
    assert logged_in(actors, "customer").get(f"/commerce/campaigns/{campaign.pk}/").status_code == 404


def test_questionnaire_price_order_error_is_shown_once_and_keeps_the_answers(actors):
    campaign = make_campaign(actors.org("manufacturer_analyst"))
    client = logged_in(actors, "customer")
    form = {**ANSWERS["answers"], "vw_too_cheap": "95000"}  # above "expensive": the four prices do not ascend
    response = client.post(f"/commerce/campaigns/{campaign.pk}/", form)
    body = response.content.decode()
    assert response.status_code == 422 and not CampaignResponse.objects.exists()
    assert body.count("四个价格应从低到高") == 1
    assert 'value="95000"' in body and 'value="79800"' in body, "what the person typed stays in the form"
    assert re.search(r'value="retro"\s+checked', body) and re.search(r'value="adas"\s+checked', body)


def test_the_battery_plan_chosen_while_configuring_is_in_the_order(actors):
    trim = make_trim(msrp_yuan=101_800, swap=True, battery_yuan=36_000)
    plan = make_plan(monthly_yuan=299)
    client = logged_in(actors, "customer")
    client.post(f"/commerce/configure/{trim.pk}/order/", {"colour_code": "white", "deposit_kind": "binding",
                                                           "battery_mode": "subscription", "battery_plan_id": str(plan.pk)})
    order = CarOrder.objects.get()
    page = client.get(f"/commerce/orders/{order.pk}/").content.decode()
    assert "电池租用" in page and "¥299.00/月" in page


def test_catalog_text_search(actors):
    wanted, other = make_trim(), make_trim()
    page = Client().get("/commerce/", {"q": f" 车系{wanted.series.name_zh[2:]} "}).content.decode()
    assert str(wanted.pk) in page and str(other.pk) not in page
    english = Client().get("/commerce/", {"q": f"{wanted.series.brand.name} 2025"}).content.decode()
    assert str(wanted.pk) in english and str(other.pk) not in english
    assert "没有符合条件的车型" in Client().get("/commerce/", {"q": "no-such-car"}).content.decode()


def test_test_drive_slots_filter_by_city_and_day_page_and_my_bookings_cancel(actors):
    import datetime as dt

    from django.utils import timezone

    from carloop.commerce.models import TestDriveSlot
    from carloop.core.seeding import SeedContext, fake_uscc
    from carloop.core.timeutil import business_date
    from carloop.identity import services as identity_services

    ctx = SeedContext(scale="demo", stdout=None, quiet=True, seed=3)
    beijing = identity_services.create_organisation(kind="store", name="北京店", uscc_code=fake_uscc(ctx), city="北京市")
    chengdu = identity_services.create_organisation(kind="store", name="成都店", uscc_code=fake_uscc(ctx), city="成都市")
    series_id = make_trim().series_id
    for store in (beijing, chengdu):
        for day in range(1, 16):
            TestDriveSlot.objects.create(store=store, series_id=series_id, capacity=2,
                                         starts_at=timezone.now() + dt.timedelta(days=day, hours=1))
    client = logged_in(actors, "customer")
    first = client.get("/commerce/test-drives/").content.decode()
    assert first.count('name="slot_id"') == 20 and "1 / 2" in first and "page=2" in first, "30 slots, 20 a page"
    chengdu_page = client.get("/commerce/test-drives/", {"city": "成都市"}).content.decode()
    assert chengdu_page.count('name="slot_id"') == 15 and "北京店" not in chengdu_page.split("<table")[-1]
    day = (business_date() + dt.timedelta(days=3)).isoformat()
    one_day = client.get("/commerce/test-drives/", {"city": "成都市", "date": day}).content.decode()
    assert one_day.count('name="slot_id"') <= 1
    slot = TestDriveSlot.objects.filter(store=chengdu).order_by("starts_at").first()
    assert client.post("/commerce/test-drives/?city=成都市", {"slot_id": str(slot.pk)}).status_code == 302
    mine = client.get("/commerce/test-drives/").content.decode()
    assert "我的试驾预约" in mine and "取消预约" in mine
    booking = slot.bookings.get()
    assert logged_in(actors, "other_customer").post(f"/commerce/test-drives/bookings/{booking.pk}/cancel/").status_code == 404
    assert client.post(f"/commerce/test-drives/bookings/{booking.pk}/cancel/").status_code == 302
    booking.refresh_from_db()
    slot.refresh_from_db()
    assert booking.status == "cancelled" and slot.booked == 0
    assert "我的试驾预约" not in client.get("/commerce/test-drives/").content.decode()
