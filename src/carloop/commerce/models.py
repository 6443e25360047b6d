"""Commerce tables: bundles, battery plans and subscriptions, swap stations, car orders with their state
machine, trade-in quotes, test-drive slots and co-creation campaigns."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from carloop.core.i18n import lt
from carloop.core.models import Entity


class CommercePolicy(Entity):
    """Operator-configured rules; one row per ``key`` (``default`` is used)."""

    key = models.CharField(max_length=30, unique=True, default="default")
    cooling_off_hours = models.PositiveIntegerField(default=72)
    binding_deposit_fen = models.BigIntegerField(default=500_000)
    intention_deposit_fen = models.BigIntegerField(default=50_000)
    trade_in_quote_days = models.PositiveIntegerField(default=7)

    class Meta:
        verbose_name = lt("交易政策", "commerce policy")
        verbose_name_plural = lt("交易政策", "commerce policies")


class Bundle(Entity):
    class Kind(models.TextChoices):
        WRAP = "wrap", lt("车衣定制版", "Custom wrap edition")
        ACCESSORIES = "accessories", lt("车品配装版", "Accessories edition")
        MAINTENANCE = "maintenance", lt("养护加持版", "Maintenance edition")
        CUSTOM = "custom", lt("运营自定义", "Custom bundle")

    trim = models.ForeignKey("vehicles.Trim", on_delete=models.CASCADE, related_name="+")
    code = models.SlugField(max_length=60)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100)
    price_fen = models.BigIntegerField()
    is_active = models.BooleanField(default=True)

    class Meta:
        verbose_name = lt("套餐", "bundle")
        verbose_name_plural = lt("套餐", "bundles")
        constraints = [models.UniqueConstraint(fields=["trim", "code"], name="commerce_bundle_unique"),
                       models.CheckConstraint(condition=models.Q(price_fen__gte=0), name="commerce_bundle_price_nonneg")]


class BundleItem(Entity):
    class Kind(models.TextChoices):
        ACCESSORY = "accessory", lt("车品（含安装）", "Accessory with installation")
        MAINTENANCE = "maintenance", lt("预付保养权益", "Prepaid maintenance entitlement")

    bundle = models.ForeignKey(Bundle, on_delete=models.CASCADE, related_name="items")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100)
    standalone_price_fen = models.BigIntegerField()
    quantity = models.PositiveIntegerField(default=1)
    entitlement_code = models.CharField(max_length=40, blank=True)
    valid_months = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        verbose_name = lt("套餐项目", "bundle item")
        verbose_name_plural = lt("套餐项目", "bundle items")


class BatteryPlan(Entity):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    name_zh = models.CharField(max_length=100)
    min_kwh = models.DecimalField(max_digits=6, decimal_places=1)
    max_kwh = models.DecimalField(max_digits=6, decimal_places=1)
    monthly_km_limit = models.PositiveIntegerField(null=True, blank=True)
    monthly_fen = models.BigIntegerField()

    class Meta:
        verbose_name = lt("电池租用方案", "battery plan")
        verbose_name_plural = lt("电池租用方案", "battery plans")
        ordering = ["monthly_fen"]


class SwapStation(Entity):
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    city = models.CharField(max_length=50, db_index=True)
    address = models.CharField(max_length=200, blank=True)
    capacity = models.PositiveIntegerField(help_text="Batteries held")

    class Meta:
        verbose_name = lt("换电站", "swap station")
        verbose_name_plural = lt("换电站", "swap stations")


class TradeInQuote(Entity):
    class Status(models.TextChoices):
        OPEN = "open", lt("待使用", "Open")
        APPLIED = "applied", lt("已用于订单", "Applied to an order")
        HANDED_OVER = "handed_over", lt("已交车", "Car handed over")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.PROTECT, related_name="+")
    value_fen = models.BigIntegerField()
    low_fen = models.BigIntegerField()
    high_fen = models.BigIntegerField()
    factors = models.JSONField(default=dict)
    valid_until = models.DateField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    handover_odometer_km = models.PositiveIntegerField(null=True, blank=True)


class OrderState(models.TextChoices):
    CREATED = "created", lt("已创建", "Created")
    DEPOSIT_PAID = "deposit_paid", lt("已付定金", "Deposit paid")
    BALANCE_PAID = "balance_paid", lt("已付尾款", "Balance paid")
    VEHICLE_ALLOCATED = "vehicle_allocated", lt("已配车", "Vehicle allocated")
    DELIVERY_SCHEDULED = "delivery_scheduled", lt("待交付", "Delivery scheduled")
    DELIVERED = "delivered", lt("已交付", "Delivered")
    CANCELLED = "cancelled", lt("已取消", "Cancelled")
    REFUNDED = "refunded", lt("已退款", "Refunded")


PAID_STATES = [OrderState.DEPOSIT_PAID, OrderState.BALANCE_PAID, OrderState.VEHICLE_ALLOCATED,
               OrderState.DELIVERY_SCHEDULED]


ORDER_REF_PREFIX = "commerce:order:"  # how other apps refer to an order (finance loans, payments)
DEPOSIT_KIND = "commerce.deposit"  # the cashier's payable kinds (commerce.payables)
BALANCE_KIND = "commerce.balance"


class CarOrder(Entity):
    class DepositKind(models.TextChoices):
        BINDING = "binding", lt("定金", "Binding deposit")
        INTENTION = "intention", lt("意向金（可退）", "Refundable intention payment")

    class BatteryMode(models.TextChoices):
        OWNED = "owned", lt("含电池", "With battery")
        SUBSCRIPTION = "subscription", lt("电池租用（BaaS）", "Battery subscription (BaaS)")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    trim = models.ForeignKey("vehicles.Trim", on_delete=models.PROTECT, related_name="+")
    colour_code = models.CharField(max_length=40)
    option_codes = models.JSONField(default=list)
    bundle = models.ForeignKey(Bundle, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    battery_mode = models.CharField(max_length=12, choices=BatteryMode.choices, default=BatteryMode.OWNED)
    battery_plan = models.ForeignKey(BatteryPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    price_lines = models.JSONField(default=list)
    total_fen = models.BigIntegerField()
    trade_in = models.OneToOneField(TradeInQuote, null=True, blank=True, on_delete=models.PROTECT, related_name="order")
    trade_in_credit_fen = models.BigIntegerField(default=0)
    deposit_kind = models.CharField(max_length=10, choices=DepositKind.choices)
    deposit_fen = models.BigIntegerField()
    state = FSMField(default=OrderState.CREATED, choices=OrderState.choices, db_index=True)
    deposit_paid_at = models.DateTimeField(null=True, blank=True)
    contract_signed_at = models.DateTimeField(null=True, blank=True)
    cooling_off_until = models.DateTimeField(null=True, blank=True)
    balance_paid_at = models.DateTimeField(null=True, blank=True)
    balance_method = models.CharField(max_length=20, blank=True)
    balance_reference = models.CharField(max_length=100, blank=True)
    balance_held_fen = models.BigIntegerField(default=0, help_text="Balance held in commerce's ledger account")
    balance_loan_fen = models.BigIntegerField(default=0, help_text="The part of the balance a disbursed loan paid to the seller")
    vehicle = models.ForeignKey("vehicles.Vehicle", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    delivery_store = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                       related_name="+")
    servicing_store = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.PROTECT,
                                        related_name="+")
    delivery_date = models.DateField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    closed_reason = models.CharField(max_length=30, blank=True)
    deposit_refund_fen = models.BigIntegerField(default=0)
    deposit_forfeit_fen = models.BigIntegerField(default=0)
    penalty_fen = models.BigIntegerField(default=0)
    balance_refund_fen = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = lt("购车订单", "car order")
        verbose_name_plural = lt("购车订单", "car orders")
        indexes = [models.Index(fields=["customer", "-created_at"]), models.Index(fields=["delivery_store", "state"])]
        constraints = [models.CheckConstraint(condition=models.Q(total_fen__gt=0) & models.Q(deposit_fen__gt=0),
                                              name="commerce_order_amounts_positive")]

    @property
    def ref(self) -> str:
        return f"{ORDER_REF_PREFIX}{self.pk}"

    @property
    def balance_due_fen(self) -> int:
        return self.total_fen - self.deposit_fen - self.trade_in_credit_fen

    @property
    def balance_owed_fen(self) -> int:
        """What the buyer pays at the cashier for the balance: all of it, or the down payment beside a loan."""
        return self.balance_due_fen - self.balance_loan_fen

    @transition(field=state, source=OrderState.CREATED, target=OrderState.DEPOSIT_PAID)
    def mark_deposit_paid(self) -> None:
        """Deposit received."""

    @transition(field=state, source=OrderState.DEPOSIT_PAID, target=OrderState.BALANCE_PAID)
    def mark_balance_paid(self) -> None:
        """Balance received (full payment, loan, or a payments-app method)."""

    @transition(field=state, source=OrderState.BALANCE_PAID, target=OrderState.VEHICLE_ALLOCATED)
    def mark_allocated(self) -> None:
        """A VIN from stock is reserved for the order."""

    @transition(field=state, source=OrderState.VEHICLE_ALLOCATED, target=OrderState.DELIVERY_SCHEDULED)
    def mark_delivery_scheduled(self) -> None:
        """Delivery store and date fixed."""

    @transition(field=state, source=OrderState.DELIVERY_SCHEDULED, target=OrderState.DELIVERED)
    def mark_delivered(self) -> None:
        """Handed over to the buyer."""

    @transition(field=state, source=OrderState.CREATED, target=OrderState.CANCELLED)
    def mark_cancelled(self) -> None:
        """Cancelled before any money moved."""

    @transition(field=state, source=PAID_STATES, target=OrderState.REFUNDED)
    def mark_refunded(self) -> None:
        """Closed after money moved: refunds, forfeiture or double return recorded on the order."""


class TestDriveSlot(Entity):
    __test__ = False  # not a pytest class
    store = models.ForeignKey("identity.Organisation", on_delete=models.CASCADE, related_name="+")
    series = models.ForeignKey("vehicles.Series", on_delete=models.CASCADE, related_name="+")
    starts_at = models.DateTimeField()
    capacity = models.PositiveSmallIntegerField()
    booked = models.PositiveSmallIntegerField(default=0)

    class Meta:
        verbose_name = lt("试驾时段", "test-drive slot")
        verbose_name_plural = lt("试驾时段", "test-drive slots")
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["series", "starts_at"])]
        constraints = [
            models.UniqueConstraint(fields=["store", "series", "starts_at"], name="commerce_slot_unique"),
            models.CheckConstraint(condition=models.Q(booked__lte=models.F("capacity")), name="commerce_slot_not_overbooked"),
        ]


class TestDriveBooking(Entity):
    __test__ = False  # not a pytest class
    class Status(models.TextChoices):
        BOOKED = "booked", lt("已预约", "Booked")
        CANCELLED = "cancelled", lt("已取消", "Cancelled")

    slot = models.ForeignKey(TestDriveSlot, on_delete=models.CASCADE, related_name="bookings")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.BOOKED)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["slot", "customer"], condition=models.Q(status="booked"),
                                               name="commerce_one_booking_per_slot")]


class BatterySubscription(Entity):
    class Status(models.TextChoices):
        ACTIVE = "active", lt("生效中", "Active")
        ENDED = "ended", lt("已结束", "Ended")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    vehicle = models.ForeignKey("vehicles.Vehicle", on_delete=models.PROTECT, related_name="+")
    order = models.OneToOneField(CarOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="battery_subscription")
    plan = models.ForeignKey(BatteryPlan, on_delete=models.PROTECT, related_name="+")
    next_plan = models.ForeignKey(BatteryPlan, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    cycle_start = models.DateField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.ACTIVE)


class SwapRecord(Entity):
    subscription = models.ForeignKey(BatterySubscription, on_delete=models.CASCADE, related_name="swaps")
    station = models.ForeignKey(SwapStation, on_delete=models.PROTECT, related_name="swaps")
    swapped_at = models.DateTimeField()
    odometer_km = models.PositiveIntegerField()

    class Meta:
        indexes = [models.Index(fields=["subscription", "-swapped_at"])]


class Campaign(Entity):
    class Status(models.TextChoices):
        DRAFT = "draft", lt("草稿", "Draft")
        OPEN = "open", lt("进行中", "Open")
        CLOSED = "closed", lt("已结束", "Closed")

    manufacturer = models.ForeignKey("identity.Organisation", on_delete=models.PROTECT, related_name="+")
    title = models.CharField(max_length=200)
    title_zh = models.CharField(max_length=200)
    description_zh = models.TextField(blank=True)
    questions = models.JSONField(default=list)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    closes_at = models.DateTimeField()

    class Meta:
        verbose_name = lt("共创活动", "co-creation campaign")
        verbose_name_plural = lt("共创活动", "co-creation campaigns")


class CampaignResponse(Entity):
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="responses")
    respondent = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    answers = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["campaign", "respondent"], name="commerce_one_response")]
