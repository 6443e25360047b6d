from django.apps import AppConfig

from carloop.core.i18n import lt


class WalletConfig(AppConfig):
    name = "carloop.wallet"
    label = "wallet"
    verbose_name = lt("电子卡钱包", "E-card wallet")

    def ready(self) -> None:
        from carloop.wallet import services

        services.register()
