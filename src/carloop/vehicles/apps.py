from django.apps import AppConfig

from carloop.core.i18n import lt


class VehiclesConfig(AppConfig):
    name = "carloop.vehicles"
    label = "vehicles"
    verbose_name = lt("车辆", "Vehicles")

    def ready(self) -> None:
        from carloop.vehicles import catalog_cache

        catalog_cache.connect()
