from django.apps import AppConfig


class LedgerConfig(AppConfig):
    name = "carloop.ledger"
    label = "ledger"
    verbose_name = "Ledger"
