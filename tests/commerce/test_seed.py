import io

from carloop.commerce import seed as commerce_seed
from carloop.commerce import selectors
from carloop.commerce.models import Bundle, Campaign, CarOrder, OrderState, TestDriveSlot
from carloop.core import seeding
from carloop.core.seeding import SeedContext
from carloop.identity import seed as identity_seed
from carloop.payments.models import PaymentIntent
from carloop.vehicles import seed as vehicles_seed
from carloop.vehicles.models import Brand, Trim, Vehicle


def test_seed_is_realistic_and_idempotent(db, monkeypatch):
    monkeypatch.setitem(seeding.SCALES, "demo", {"customers": 40, "stores": 6, "orgs": 12})
    ctx = SeedContext(scale="demo", stdout=io.StringIO(), quiet=True)
    for _ in range(2):
        identity_seed.seed(ctx)
        vehicles_seed.seed(ctx)
        commerce_seed.seed(ctx)
    assert Brand.objects.count() >= 8 and Trim.objects.count() >= 30
    hatch = Trim.objects.filter(series__slug="aion-ut")
    assert min(t.msrp_fen for t in hatch) == 6_980_000 and max(t.msrp_fen for t in hatch) == 10_180_000
    assert hatch.filter(battery_swap_capable=True).exists()
    assert Bundle.objects.filter(kind="maintenance").count() == Trim.objects.count()
    assert CarOrder.objects.filter(state=OrderState.DELIVERED).exists()
    assert CarOrder.objects.filter(state=OrderState.REFUNDED).exists()
    assert Vehicle.objects.filter(status=Vehicle.Status.OWNED).exists()
    assert TestDriveSlot.objects.exists()
    owner_orders = CarOrder.objects.filter(customer__username="owner")
    assert [o.state for o in owner_orders] == [OrderState.DEPOSIT_PAID]  # ready to pay the balance, also by loan
    assert PaymentIntent.objects.filter(ref=owner_orders[0].ref, state="succeeded").count() == 1  # paid at the cashier
    report = selectors.demand_report(Campaign.objects.get())
    assert report["respondents"] and report["price_points"]
