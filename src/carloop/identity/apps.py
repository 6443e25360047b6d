from django.apps import AppConfig


class IdentityConfig(AppConfig):
    name = "carloop.identity"
    label = "identity"
    verbose_name = "Identity"

    def ready(self) -> None:
        from carloop.core.http import set_token_authenticator
        from carloop.identity import signals  # noqa: F401 - connects login signals
        from carloop.identity.services import authenticate_token

        set_token_authenticator(authenticate_token)
