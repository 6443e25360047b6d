from django.apps import AppConfig

from carloop.core.i18n import lt


class LedgerConfig(AppConfig):
    name = "carloop.ledger"
    label = "ledger"
    verbose_name = lt("账本", "Ledger")

    def ready(self) -> None:
        from datetime import timedelta

        from carloop.core import nav, periodic
        from carloop.ledger import tasks
        from carloop.ledger.selectors import READER_ROLES

        periodic.register(periodic.Periodic("ledger.void_expired_pendings", tasks.void_expired_pendings,
                                            every=timedelta(minutes=5)))

        nav.register(nav.NavItem("ledger:accounts", "账本", "Ledger", nav.operators(*READER_ROLES), order=90,
                                 description_zh="账户余额与流水（复式记账）", description_en="Account balances and statements"))
