"""With DEBUG off (as the demo runs) the site answers 404, 403 and 500 with its own pages in the shell, in the
page's language only and with a way home; API paths keep problem+json."""

import uuid
from typing import Any

import pytest
from django.test import Client

HOME_LINK = 'href="/"'


@pytest.fixture(autouse=True)
def debug_off(settings: Any) -> None:
    settings.DEBUG = False
    settings.ROOT_URLCONF = "tests.web.error_urls"


def _page(response: Any) -> str:
    assert response["Content-Type"].startswith("text/html")
    return str(response.content.decode())


@pytest.mark.django_db
def test_an_unknown_page_is_our_404_in_one_language() -> None:
    client = Client()
    zh = _page(client.get("/no-such-page/"))
    assert "页面不存在" in zh and "Page not found" not in zh and HOME_LINK in zh
    assert "urlpatterns" not in zh and "Using the URLconf" not in zh  # not Django's technical page
    response = client.get("/no-such-page/?lang=en")
    en = _page(response)
    assert response.status_code == 404 and "Page not found" in en and "页面不存在" not in en and "返回首页" not in en


@pytest.mark.django_db
def test_a_page_the_viewer_may_not_open_says_so_without_naming_roles(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(actors.user("finance_ops"))
    response = client.get("/risk/rings/")
    page = _page(response)
    assert response.status_code == 403
    assert "无权访问" in page and "风控与运营人员" not in page and HOME_LINK in page
    assert "退出" in page  # the signed-in shell, not a bare page
    en = _page(client.get("/risk/rings/?lang=en"))
    assert "No access" in en and "无权访问" not in en


@pytest.mark.django_db
def test_a_refusal_with_a_reason_gives_it(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(actors.user("ops"))
    response = client.post(f"/commerce/configure/{uuid.uuid4()}/order/")
    page = _page(response)
    assert response.status_code == 403 and "无权访问" in page and "仅限车主用户" in page


@pytest.mark.django_db
def test_permission_denied_anywhere_is_our_403_and_anonymous_callers_are_asked_to_sign_in(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(actors.user("customer"))
    response = client.get("/forbidden/")
    assert response.status_code == 403 and "无权访问" in _page(response)
    anonymous = Client().get("/forbidden/?lang=en")
    page = _page(anonymous)
    assert anonymous.status_code == 403 and "Sign in first" in page and "/login/?next=/forbidden/" in page


@pytest.mark.django_db
def test_a_stale_form_is_a_403_that_says_to_reload() -> None:
    response = Client(enforce_csrf_checks=True).post("/login/", {"username": "a", "password": "b"})
    page = _page(response)
    assert response.status_code == 403 and "表单已过期" in page and "请先登录" not in page


@pytest.mark.django_db
def test_a_bug_is_our_500_page_in_the_shell(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client(raise_request_exception=False)
    client.force_login(actors.user("customer"))
    response = client.get("/boom/")
    page = _page(response)
    assert response.status_code == 500 and "出错了" in page and HOME_LINK in page and "退出" in page
    assert "RuntimeError" not in page and "Traceback" not in page
    en = _page(client.get("/boom/?lang=en"))
    assert "Something went wrong" in en and "出错了" not in en


@pytest.mark.django_db
def test_the_500_page_survives_a_broken_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    from carloop.web import context

    def broken(request: Any) -> dict[str, Any]:
        raise RuntimeError("database gone")

    monkeypatch.setattr(context, "shell", broken)
    response = Client(raise_request_exception=False).get("/boom/?lang=en")
    page = _page(response)
    assert response.status_code == 500 and "Something went wrong" in page and "出错了" not in page


@pytest.mark.django_db
def test_api_paths_keep_problem_json(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client(raise_request_exception=False)
    missing = client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404 and missing["Content-Type"] == "application/problem+json"
    broken = client.get("/api/boom/", headers={"Accept-Language": "en"})
    assert broken.status_code == 500 and broken["Content-Type"] == "application/problem+json"
    assert broken.json()["type"].endswith("/internal-error") and broken.json()["detail"].startswith("Internal server error")
