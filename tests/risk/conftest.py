import pytest


@pytest.fixture(autouse=True)
def _fresh_risk_config():
    """Each test starts without the per-process registry / rule set cache of the previous one."""
    from carloop.risk import services

    services.clear_config_cache()
    yield
    services.clear_config_cache()
