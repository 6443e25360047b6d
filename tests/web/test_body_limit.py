"""A page POST larger than the upload limit is answered 413 with our own page (issue 10), never a 400 or 500."""

from typing import Any

import pytest
from django.test import Client


@pytest.fixture
def small_limit(settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000


@pytest.mark.django_db
@pytest.mark.usefixtures("small_limit")
def test_a_form_post_over_the_limit_is_a_413_page_in_the_callers_language() -> None:
    client = Client(enforce_csrf_checks=True)
    client.get("/login/")  # sets the CSRF cookie, so the CSRF check has to read the body
    token = client.cookies["csrftoken"].value
    response = client.post("/login/", {"username": "x" * 3000, "password": "y", "csrfmiddlewaretoken": token})
    assert response.status_code == 413
    assert response["Content-Type"].startswith("text/html")
    assert "提交的内容过大" in response.content.decode()
    english = client.post("/login/?lang=en", {"username": "x" * 3000, "csrfmiddlewaretoken": token})
    assert english.status_code == 413 and "too large" in english.content.decode()


@pytest.mark.django_db
@pytest.mark.usefixtures("small_limit")
def test_a_signed_in_callers_413_page_keeps_their_shell(actors) -> None:  # type: ignore[no-untyped-def]
    client = Client()
    client.force_login(actors.user("customer"))
    response = client.post("/me/", {"real_name": "张" * 1000, "id_number": "11010519491231002X"})
    assert response.status_code == 413
    assert "退出" in response.content.decode()  # the signed-in header, not a bare error page


@pytest.mark.django_db
@pytest.mark.usefixtures("small_limit")
def test_a_post_within_the_limit_still_reaches_the_page() -> None:
    response = Client().post("/login/", {"username": "nobody", "password": "wrong"})
    assert response.status_code == 200


@pytest.mark.django_db
@pytest.mark.usefixtures("small_limit")
def test_the_api_keeps_its_problem_answer() -> None:
    response = Client().post("/api/v1/finance/quotes", data="{" + '"a": "' + "x" * 2000 + '"}',
                             content_type="application/json")
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
