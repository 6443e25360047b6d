import pytest
from django.test import Client

from tests.commerce.factories import make_bundle, make_trim
from tests.vehicles.factories import owned_vehicle

PAGES = ["vehicles/brand", "vehicles/series", "vehicles/trim", "vehicles/vehicle", "vehicles/conditionreport",
         "commerce/bundle", "commerce/batteryplan", "commerce/swapstation", "commerce/commercepolicy",
         "commerce/testdriveslot", "commerce/carorder", "commerce/campaign"]


@pytest.mark.parametrize("page", PAGES)
def test_admin_changelists_render_without_owner_pii(admin_user, actors, page):
    make_bundle(make_trim())
    owner = actors.user("customer")
    owned_vehicle(owner)
    client = Client()
    client.force_login(admin_user)
    response = client.get(f"/admin/{page}/")
    assert response.status_code == 200
    assert owner.phone not in response.content.decode()
