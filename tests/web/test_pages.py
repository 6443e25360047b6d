import pytest
from django.test import Client

from carloop.identity import services
from tests.harness import SUBJECT_KINDS, sent_code


@pytest.mark.django_db
def test_home_speaks_chinese_by_default_and_english_on_request() -> None:
    client = Client()
    assert "欢迎来到 carloop" in client.get("/").content.decode()
    assert "Welcome to carloop" in client.get("/?lang=en").content.decode()
    assert "Welcome to carloop" in client.get("/").content.decode()  # remembered


@pytest.mark.django_db
def test_home_claims_only_what_is_built_and_names_roles_in_the_page_language(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    page = client.get("/").content.decode()
    assert "尚在建设中" in page and "现在可用" in page
    client.force_login(actors.user("risk_analyst"))
    assert "角色：风控分析师" in client.get("/").content.decode()
    english = client.get("/?lang=en").content.decode()
    assert "with roles: Risk analyst" in english


@pytest.mark.django_db
def test_signup_then_kyc_page_flow() -> None:
    client = Client()
    sent = client.post("/signup/", {"phone": "13600001111", "action": "send_code"})
    assert sent.status_code == 200 and "如果该手机号可以注册，验证码已发送" in sent.content.decode()
    code = sent_code("13600001111")
    response = client.post("/signup/", {"phone": "13600001111", "password": "Tr0ub4dour&3x", "display_name": "小李",
                                        "code": "000000" if code != "000000" else "111111"})
    assert response.status_code == 200 and "请输入短信收到的 6 位验证码，或重新获取" in response.content.decode()
    response = client.post("/signup/", {"phone": "13600001111", "password": "Tr0ub4dour&3x", "display_name": "小李", "code": code})
    assert response.status_code == 302 and response["Location"] == "/me/"
    page = client.post("/me/", {"real_name": "李四", "id_number": "110105194912310021"}).content.decode()
    assert "身份证号" in page and "✔ 已认证" not in page
    client.post("/me/", {"real_name": "赵六", "id_number": "31010419900307123X"})  # valid, but the provider does not know it
    page = client.get("/me/").content.decode()
    assert "自行申报（未认证）" in page and "已认证</span>" not in page and "实名核验服务未能确认" in page
    client.post("/me/", {"real_name": "张三", "id_number": "11010519491231002X"})
    page = client.get("/me/").content.decode()
    assert "✔ 已认证" in page and "1101**********002X" in page and "11010519491231002X" not in page


@pytest.mark.django_db
def test_navigation_follows_the_role(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(actors.user("ops"))
    assert "运营后台" in client.get("/").content.decode()
    customer = Client()
    customer.force_login(actors.user("customer"))
    assert "运营后台" not in customer.get("/").content.decode()


@pytest.mark.django_db
def test_admin_lists_mask_pii(actors) -> None:  # type: ignore[no-untyped-def]
    admin = services.create_staff_user(username="root", password="Tr0ub4dour&3x", platform_roles=("admin",))
    customer = actors.user("customer")
    client = Client()
    client.force_login(admin)
    page = client.get("/admin/identity/user/").content.decode()
    phone = customer.phone
    assert phone not in page and f"{phone[:3]}****{phone[-4:]}" in page


def test_healthz(db) -> None:  # type: ignore[no-untyped-def]
    assert Client().get("/healthz").json()["status"] == "ok"


@pytest.mark.django_db
def test_operators_can_view_the_back_office_but_not_change_it(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(actors.user("ops"))
    assert client.get("/admin/identity/organisation/").status_code == 200
    assert client.get("/admin/identity/organisation/add/").status_code == 403


@pytest.mark.django_db
@pytest.mark.parametrize("kind", [k for k in SUBJECT_KINDS if k != "anonymous"])
def test_every_menu_entry_opens_for_whom_it_is_shown(actors, kind: str) -> None:  # type: ignore[no-untyped-def]
    from django.urls import reverse

    from carloop.core import nav
    from carloop.identity.selectors import subject_for_user

    user = actors.user(kind)
    client = Client()
    client.force_login(user)
    for item in nav.items_for(subject_for_user(user)):
        response = client.get(reverse(item.url_name))
        assert response.status_code in (200, 302), f"{kind} sees {item.url_name} but gets {response.status_code}"
        if response.status_code == 302:
            assert "/login" not in response["Location"], f"{kind}: {item.url_name} sends to the login page"


def test_the_owner_inbox_lists_what_was_sent(actors) -> None:
    from carloop.core import notifications

    owner = actors.user("customer")
    notifications.notify(f"user:{owner.pk}", "sms", "reminder-1", "您的第 1 期还款将于 3 天后到期", "Instalment 1 is due in 3 days")
    notifications.notify(f"user:{owner.pk}", "push", "order", "订单已确认", "Order confirmed")
    notifications.notify(f"user:{actors.user('other_customer').pk}", "sms", "other", "别人的消息", "someone else's")
    notifications.send_pending()
    notifications.notify(f"user:{owner.pk}", "push", "later", "稍后发送", "sent later")
    client = Client()
    client.force_login(owner)
    page = client.get("/me/inbox/").content.decode()
    assert "您的第 1 期还款将于 3 天后到期" in page and "订单已确认" in page
    assert "别人的消息" not in page and "稍后发送" not in page, "only what was sent to this owner"
    assert 'href="/me/inbox/"' in client.get("/").content.decode()
