from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "carloop.core"
    label = "core"
    verbose_name = "carloop core"
