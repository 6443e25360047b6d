from django.apps import AppConfig

from carloop.core.i18n import lt


class FinanceConfig(AppConfig):
    name = "carloop.finance"
    label = "finance"
    verbose_name = lt("金融", "Finance")

    def ready(self) -> None:
        from datetime import time

        from carloop.core import labels, nav, periodic
        from carloop.finance import credit_line, selectors, subscribers, tasks
        from carloop.finance.models import CobRun
        from carloop.finance.services import products, repayments

        subscribers.register()
        labels.register("finance.cob_state", CobRun.State)
        labels.register("finance.pool_movement", {
            "capital": ("注资", "Capital"), "disbursed": ("放款", "Disbursed"), "principal": ("回收本金", "Principal repaid"),
            "interest": ("利息", "Interest"), "unwound": ("退贷退回", "Returned on unwinding"),
            "refunded": ("退还客户", "Refunded to the customer")})
        labels.register("finance.receivable_movement", {
            "lent": ("放款入账", "Lent"), "repaid": ("还本或退贷冲回", "Repaid or unwound"), "written_off": ("核销", "Written off")})
        products.register_payables()
        repayments.register()
        credit_line.register()
        periodic.register(periodic.Periodic("finance.cob", tasks.run_cob, at=time(0, 30)))
        for url_name in ("finance:cob_runs", "finance:cob_run"):
            nav.page(url_name, selectors.runs_cob)
        for url_name in ("finance:collections", "finance:collections_export", "finance:collection_case"):
            nav.page(url_name, selectors.works_collections)

        nav.register(nav.NavItem("finance:index", "汽车金融", "Auto finance", nav.everyone, order=40,
                                 description_zh="贷款申请、报价（含年化利率）、还款", description_en="Apply, offers with APR, repay"))
        nav.register(nav.NavItem("finance:ops", "金融运营", "Finance ops", nav.operators("ops", "risk_analyst", "finance_ops"),
                                 order=41, description_zh="审核队列、贷款簿、逾期", description_en="Review queue, loan book, delinquency"))
        nav.register(nav.NavItem("finance:partners", "资金方资产", "Partner portfolio",
                                 lambda s: bool(s.org_ids("lender_analyst")) or s.has_role("finance_ops", "risk_analyst"),
                                 order=42, description_zh="联合贷款资产、Vintage 与日对账单",
                                 description_en="Joint-lending portfolio, vintages and daily statements"))
