from django.apps import AppConfig

from carloop.core.i18n import lt


class PaymentsConfig(AppConfig):
    name = "carloop.payments"
    label = "payments"
    verbose_name = lt("收银台", "Payments")

    def ready(self) -> None:
        import functools
        from datetime import time, timedelta

        from carloop.core import authz, nav, payables, periodic
        from carloop.payments import payouts, selectors, services, tasks, withholding  # noqa: F401 - payouts registers its provider

        payables.register_cashier(payables.Cashier(
            confirm_deposit=lambda **kw: services.confirm_deposit(**kw).pk,
            sign_withholding=withholding.sign_agreement, withhold=withholding.withhold,
            refund_paid=functools.partial(services.refund, by_owner=True), last_withholdings=withholding.last_withholdings))
        periodic.register(periodic.Periodic("payments.expire_intents", tasks.expire_intents, every=timedelta(minutes=1)))
        periodic.register(periodic.Periodic("payments.recover_notifications", tasks.recover_notifications,
                                            every=timedelta(minutes=5)))
        periodic.register(periodic.Periodic("payments.reconcile", tasks.reconcile_yesterday, at=time(10, 0)))
        periodic.register(periodic.Periodic("payments.settle", tasks.settle_merchants, at=time(2, 0)))
        merchant_staff = nav.org_members(authz.DEALER_STAFF, authz.STORE_MANAGER, authz.SUPPLIER_STAFF)
        nav.register(nav.NavItem("payments:settlement", "商户结算", "Merchant settlement",
                                 lambda s: nav.operators("finance_ops", "ops")(s) or merchant_staff(s), order=46,
                                 description_zh="结算合同、结算单与下载", description_en="Contracts, statements, downloads"))
        nav.register(nav.NavItem("payments:payouts", "商户付款", "Merchant payouts",
                                 lambda s: nav.operators("finance_ops", "ops")(s) or merchant_staff(s), order=47,
                                 description_zh="付款批次的准备与复核、付款结果", description_en="Payout batches: prepare, approve, results"))
        nav.page("payments:reconciliation", selectors.may_operate)
        nav.page("payments:payout_batch", selectors.reads_batches)
        nav.register(nav.NavItem("payments:reconciliation", "对账总览", "Reconciliation", nav.operators("finance_ops"),
                                 order=48, description_zh="清算与待结算账户对应付、当日资金流、通道对账差异",
                                 description_en="Clearing and settlement accounts against what is owed, the day's flows, provider differences"))
        nav.register(nav.NavItem("payments:ops", "收银台运营", "Payments ops", nav.operators("finance_ops"), order=45,
                                 description_zh="支付单、退款、对公转账匹配", description_en="Intents, refunds, bank-transfer matching"))
