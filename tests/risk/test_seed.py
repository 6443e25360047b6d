import io

import pytest

from carloop.core.seeding import SeedContext
from carloop.risk import graph, platform_model, selectors, services
from carloop.risk import seed as risk_seed
from carloop.risk.models import BlacklistEntry, CreditDecision, ReviewCase

from .factories import customer


@pytest.mark.slow
@pytest.mark.django_db
def test_demo_seed_finds_rings_and_is_idempotent(monkeypatch):
    def registry_without_training(ctx):  # the LightGBM challenger training is covered elsewhere
        services.promote_model(services.register_model(platform_model.BUILTIN_DIR, actor="system"), "champion", actor="system")

    monkeypatch.setattr(risk_seed, "_registry", registry_without_training)
    ctx = SeedContext(scale="demo", stdout=io.StringIO(), quiet=True)
    for _ in range(90):  # identity's seed would make 300; risk only needs verified customers
        customer()
    risk_seed.seed(ctx)
    decisions = CreditDecision.objects.count()
    assert decisions > 80
    assert {"approve", "decline", "refer"} <= set(CreditDecision.objects.values_list("outcome", flat=True))
    rings = graph.rings(3)
    assert [r.customers for r in rings][:3] == [6, 5, 4]
    assert rings[0].blacklisted == 1
    hits = {h for d in CreditDecision.objects.all() for h in d.rule_hits}
    assert {"F_GRAPH", "F_RING", "F_GEO", "P_BLACKLIST"} <= hits
    assert ReviewCase.objects.filter(status="open").exists() and ReviewCase.objects.exclude(status="open").exists()
    assert selectors.dashboard(180)["vintages"]
    risk_seed.seed(ctx)
    assert CreditDecision.objects.count() == decisions and BlacklistEntry.objects.count() == 12
