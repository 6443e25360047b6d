from django.apps import AppConfig

from carloop.core.i18n import lt


class IdentityConfig(AppConfig):
    name = "carloop.identity"
    label = "identity"
    verbose_name = lt("身份与机构", "Identity")

    def ready(self) -> None:
        from datetime import timedelta

        from carloop.core import periodic
        from carloop.core.http import set_token_authenticator
        from carloop.identity import signals, tasks  # noqa: F401 - signals connects the login signals
        from carloop.identity.services import authenticate_token

        set_token_authenticator(authenticate_token)
        periodic.register(periodic.Periodic("identity.retry_pending_kyc", tasks.retry_pending_kyc, every=timedelta(minutes=5)))
