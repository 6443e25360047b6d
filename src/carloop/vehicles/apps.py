from django.apps import AppConfig


class VehiclesConfig(AppConfig):
    name = "carloop.vehicles"
    label = "vehicles"
    verbose_name = "Vehicles"

    def ready(self) -> None:
        from carloop.vehicles import catalog_cache

        catalog_cache.connect()
