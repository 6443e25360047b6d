from django.apps import AppConfig

from carloop.core.i18n import lt


class WebConfig(AppConfig):
    name = "carloop.web"
    label = "web"
    verbose_name = lt("网站外壳", "Web shell")

    def ready(self) -> None:
        from carloop.core import nav

        nav.register(nav.NavItem("web:home", "首页", "Home", nav.everyone, order=0))
        nav.register(nav.NavItem("web:inbox", "消息", "Inbox", nav.customers, order=80,
                                 description_zh="还款提醒、订单与贷款进度", description_en="Repayment reminders, order and loan news"))
        nav.register(nav.NavItem("admin:index", "运营后台", "Back office", nav.operators(), order=900,
                                 description_zh="Django 管理后台（敏感信息已脱敏）", description_en="Django admin (PII masked)"))
        nav.register(nav.NavItem("web:api_docs", "API 文档", "API docs", nav.everyone, order=950))
