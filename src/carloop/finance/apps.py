from django.apps import AppConfig


class FinanceConfig(AppConfig):
    name = "carloop.finance"
    label = "finance"
    verbose_name = "Finance"
