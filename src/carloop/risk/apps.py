from django.apps import AppConfig

from carloop.core.i18n import lt


class RiskConfig(AppConfig):
    name = "carloop.risk"
    label = "risk"
    verbose_name = lt("风控", "Risk control")

    def ready(self) -> None:
        from carloop.core import nav
        from carloop.core.events import subscribe
        from carloop.risk import selectors, subscribers

        for pattern in subscribers.PATTERNS:
            # feature-store facts and observed outcomes: no money, nothing promised to a customer
            subscribe(pattern, subscribers.on_event, relaxed_commit=True)
        pages = {"risk:dashboard": selectors.may_monitor, "risk:decision": selectors.may_monitor,
                 "risk:rules": selectors.may_monitor, "risk:blacklist": selectors.may_monitor, "risk:reviews": selectors.may_review,
                 "risk:review": selectors.may_review, "risk:rings": selectors.may_analyse}  # fmt: skip
        for url_name, may_open in pages.items():
            nav.page(url_name, may_open)
        nav.register(
            nav.NavItem(
                "risk:dashboard", "风控看板", "Risk dashboard", order=60,
                description_zh="评分分布、通过率、PSI 与账龄坏账率",
                description_en="Score distribution, approval rate, PSI and bad rate by vintage",
            )
        )  # fmt: skip
        nav.register(
            nav.NavItem(
                "risk:reviews", "人工审核", "Manual review", order=61,
                description_zh="转人工的申请及 SLA 计时", description_en="Referred applications with SLA timers",
            )
        )  # fmt: skip
        nav.register(
            nav.NavItem(
                "risk:rings", "欺诈团伙", "Fraud rings", order=62,
                description_zh="关联图谱中的可疑团伙", description_en="Suspicious rings in the entity graph",
            )
        )  # fmt: skip
