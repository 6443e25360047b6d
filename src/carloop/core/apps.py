from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "carloop.core"
    label = "core"
    verbose_name = "carloop core"

    def ready(self) -> None:
        from datetime import timedelta

        from carloop.core import schedule, tasks

        schedule.register(schedule.Periodic("core.redeliver_events", tasks.redeliver_pending_events,
                                            every=timedelta(minutes=5)))
