"""A car owner with something on every page of their journey: an order with the deposit paid, a decided loan
application, an active loan, a test-drive slot, a campaign and a car in the garage."""

from __future__ import annotations

from typing import Any

from carloop.finance import services
from tests.commerce.factories import make_campaign, make_plan, make_slot
from tests.finance.conftest import DISBURSED_ON, World
from tests.vehicles.factories import owned_vehicle


class OwnerWorld(World):
    def __init__(self, actors: Any) -> None:
        super().__init__(actors)
        self.user = actors.user("customer")
        subject = self.customer()
        make_plan()
        self.order, self.application = self.order_with_offer(subject)
        self.loan = self.loan()
        self.slot = make_slot(actors.org("store_manager"), self.order.trim.series_id, capacity=3)
        self.campaign = make_campaign(actors.org("manufacturer_analyst"))
        self.vehicle = owned_vehicle(self.user)

    def sign_offer(self) -> Any:
        """The owner signs the offer for the order's balance: the loan pays it."""
        return services.accept_offer(self.customer(), self.application.pk, agree=True, on=DISBURSED_ON)

    def pages(self) -> dict[str, str]:
        """The owner's journey, page by page (name → path)."""
        return {
            "home": "/", "catalog": "/commerce/", "configure": f"/commerce/configure/{self.order.trim_id}/",
            "compare": f"/commerce/compare/?trim={self.order.trim_id}", "orders": "/commerce/orders/",
            "order": f"/commerce/orders/{self.order.pk}/", "test-drives": "/commerce/test-drives/",
            "garage": "/commerce/garage/", "campaigns": "/commerce/campaigns/",
            "questionnaire": f"/commerce/campaigns/{self.campaign.pk}/", "finance": "/finance/",
            "calculator": "/finance/calculator/?principal=100000&annual_rate=6&term=36&method=equal_installment",
            "apply": "/finance/apply/?product=car-purchase", "application": f"/finance/applications/{self.application.pk}/",
            "loan": f"/finance/loans/{self.loan.pk}/", "contract": f"/finance/loans/{self.loan.pk}/contract/",
            "checkout": f"/payments/checkout/?kind=commerce.balance&ref={self.order.ref}", "profile": "/me/", "inbox": "/me/inbox/",
        }
