from django.apps import AppConfig

from carloop.core.i18n import lt


class PartsConfig(AppConfig):
    name = "carloop.parts"
    label = "parts"
    verbose_name = lt("汽配供应链", "Parts supply")
