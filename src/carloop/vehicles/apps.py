from django.apps import AppConfig


class VehiclesConfig(AppConfig):
    name = "carloop.vehicles"
    label = "vehicles"
    verbose_name = "Vehicles"
