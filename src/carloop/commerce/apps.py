from django.apps import AppConfig

from carloop.core.i18n import lt


class CommerceConfig(AppConfig):
    name = "carloop.commerce"
    label = "commerce"
    verbose_name = lt("交易", "Commerce")

    def ready(self) -> None:
        from datetime import time

        from carloop.commerce import payables, selectors, subscribers, tasks
        from carloop.commerce.models import ORDER_REF_PREFIX
        from carloop.core import nav, orders, periodic

        subscribers.register()
        payables.register()
        orders.register(ORDER_REF_PREFIX, selectors.order_terms)
        periodic.register(periodic.Periodic("commerce.battery_cycles", tasks.roll_battery_cycles, at=time(0, 10)))
        nav.register(nav.NavItem("commerce:catalog", "选车购车", "Buy a car", nav.everyone, order=20,
                                 description_zh="车型浏览、对比、配置与下单", description_en="Browse, compare, configure and order"))
        nav.register(nav.NavItem("commerce:test_drives", "预约试驾", "Test drives", nav.everyone, order=21))
        nav.register(nav.NavItem("commerce:orders", "车辆订单", "Car orders",
                                 lambda s: nav.customers(s) or s.has_role("ops"), order=22))
        nav.register(nav.NavItem("commerce:garage", "我的车库", "My garage", nav.customers, order=23,
                                 description_zh="车辆、里程、估值与置换", description_en="Vehicles, odometer, value and trade-in"))
        nav.register(nav.NavItem("commerce:campaigns", "产品共创", "Co-creation", nav.everyone, order=24,
                                 description_zh="参与新车定义 / 主机厂需求报告", description_en="Shape new cars / manufacturer demand reports"))
