from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "carloop.ledger"
    label = "ledger"
    verbose_name = "Ledger"

    def ready(self) -> None:
        from carloop.core import nav
        from carloop.ledger.selectors import READER_ROLES

        nav.register(nav.NavItem("ledger:accounts", "账本", "Ledger", nav.operators(*READER_ROLES), order=90,
                                 description_zh="账户余额与流水（复式记账）", description_en="Account balances and statements"))
