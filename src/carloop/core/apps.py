from django.apps import AppConfig

from carloop.core.i18n import lt


class CoreConfig(AppConfig):
    name = "carloop.core"
    label = "core"
    verbose_name = lt("平台内核", "carloop core")

    def ready(self) -> None:
        from datetime import timedelta

        from carloop.core import labels, periodic, tasks

        labels.register_model_choices()
        periodic.register(periodic.Periodic("core.redeliver_events", tasks.redeliver_pending_events,
                                            every=timedelta(minutes=5)))
