from django.apps import AppConfig

from carloop.core.i18n import lt


class AftersalesConfig(AppConfig):
    name = "carloop.aftersales"
    label = "aftersales"
    verbose_name = lt("售后养车", "After-sales")
