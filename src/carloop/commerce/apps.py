from django.apps import AppConfig


class CommerceConfig(AppConfig):
    name = "carloop.commerce"
    label = "commerce"
    verbose_name = "Commerce"

    def ready(self) -> None:
        from carloop.commerce import subscribers

        subscribers.register()
