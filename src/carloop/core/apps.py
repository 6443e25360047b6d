from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "carloop.core"
    label = "core"
    verbose_name = "carloop core"

    def ready(self) -> None:
        from datetime import timedelta

        from carloop.core import periodic, tasks

        periodic.register(periodic.Periodic("core.redeliver_events", tasks.redeliver_pending_events,
                                            every=timedelta(minutes=5)))
