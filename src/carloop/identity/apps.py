from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "carloop.identity"
    label = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from carloop.identity import signals  # noqa: F401 - connects login signals
