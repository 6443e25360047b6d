"""Finance tables: products (versioned) and funding plans, applications with their decisions, loans with their
instalments, repayments and daily close-of-business runs, and consumer credit lines with their applications (a
line's limit lives in the ledger; see ``carloop.finance.credit_line``). Amounts are integer fen; rates are Decimal
fractions."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from carloop.core.i18n import lt
from carloop.core.models import Entity


def rate_field(**options: Any) -> Any:
    """A rate as a decimal fraction with eight places (0.06990000)."""
    return models.DecimalField(max_digits=12, decimal_places=8, **options)


PLATFORM_APR_CAP = Decimal("0.24")  # a product's default APR cap, and the cap of a quote that names no product


class ProductKind(models.TextChoices):
    PURCHASE = "purchase_installment", lt("购车分期", "Purchase instalment")
    CAR_SECURED = "car_secured", lt("车抵贷", "Car-secured loan")
    TRADE_IN = "trade_in", lt("置换金融", "Trade-in finance")


class FundingPlan(Entity):
    """Who funds a product's loans: partner shares in basis points; the platform funds the remainder."""

    code = models.CharField(max_length=40, unique=True)
    name = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.code

    class Meta:
        verbose_name = lt("出资方案", "funding plan")
        verbose_name_plural = lt("出资方案", "funding plans")


class FundingShare(Entity):
    plan = models.ForeignKey(FundingPlan, on_delete=models.CASCADE, related_name="shares")
    partner = models.ForeignKey("identity.Organisation", on_delete=models.PROTECT, related_name="+")
    share_bp = models.PositiveIntegerField(help_text="share of principal in basis points (7000 = 70%)")
    partner_rate = rate_field(help_text="annual rate the partner earns on its share")

    class Meta:
        verbose_name = lt("出资份额", "funding share")
        verbose_name_plural = lt("出资份额", "funding shares")
        constraints = [models.UniqueConstraint(fields=["plan", "partner"], name="finance_share_unique")]


class LoanProduct(Entity):
    """One version of a loan product; a new version is a new row, and loans keep the row they were signed on."""

    code = models.CharField(max_length=40)
    version = models.PositiveIntegerField(default=1)
    is_current = models.BooleanField(default=True)
    kind = models.CharField(max_length=30, choices=ProductKind.choices)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    method = models.CharField(max_length=20, default="equal_installment")
    min_amount_fen = models.BigIntegerField()
    max_amount_fen = models.BigIntegerField()
    min_term = models.PositiveIntegerField(default=6)
    max_term = models.PositiveIntegerField(default=60)
    terms = models.JSONField(default=list, help_text="allowed terms in months, e.g. [12, 24, 36]")
    rate_table = models.JSONField(default=dict, help_text='annual rate by risk tier, e.g. {"A": "0.0599"}')
    monthly_fee_rate = rate_field(default=Decimal(0))
    upfront_fee_rate = rate_field(default=Decimal(0), help_text="fraction of the principal")
    min_down_payment = rate_field(default=Decimal(0), help_text="fraction of the car price")
    max_ltv = rate_field(default=Decimal(1), help_text="loan-to-value maximum")
    grace_days = models.PositiveIntegerField(default=3)
    penalty_rate = rate_field(default=Decimal("0.18"), help_text="annual; daily = annual / 360")
    prepayment_fee_rate = rate_field(default=Decimal(0), help_text="fraction of prepaid principal")
    min_months_before_prepayment = models.PositiveIntegerField(default=0)
    apr_cap = rate_field(default=PLATFORM_APR_CAP)
    funding_plan = models.ForeignKey(FundingPlan, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        verbose_name = lt("贷款产品", "loan product")
        verbose_name_plural = lt("贷款产品", "loan products")
        constraints = [models.UniqueConstraint(fields=["code", "version"], name="finance_product_version")]
        ordering = ["code", "-version"]

    def __str__(self) -> str:
        return f"{self.code} v{self.version}"


class Application(Entity):
    class State(models.TextChoices):
        SUBMITTED = "submitted", lt("已提交", "Submitted")
        REFERRED = "referred", lt("人工审核", "Referred")
        APPROVED = "approved", lt("已批准", "Approved")
        DECLINED = "declined", lt("已拒绝", "Declined")
        ACCEPTED = "accepted", lt("已签约", "Accepted")
        DISBURSED = "disbursed", lt("已放款", "Disbursed")
        CANCELLED = "cancelled", lt("已取消", "Cancelled")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="applications")
    amount_fen = models.BigIntegerField()
    term = models.PositiveIntegerField()
    state = FSMField(default=State.SUBMITTED, choices=State.choices)
    order_ref = models.CharField(max_length=100, blank=True, help_text="opaque commerce order reference")
    merchant = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    car_price_fen = models.BigIntegerField(null=True, blank=True)
    vehicle_id = models.UUIDField(null=True, blank=True)
    collateral_value_fen = models.BigIntegerField(null=True, blank=True)
    monthly_income_fen = models.BigIntegerField(null=True, blank=True)
    consent_text = models.TextField(help_text="the consent the customer agreed to, verbatim")
    consent_at = models.DateTimeField()
    consent_ip = models.CharField(max_length=45, blank=True)
    # the offer (set on approval)
    price_tier = models.CharField(max_length=5, blank=True)
    offer_amount_fen = models.BigIntegerField(null=True, blank=True)
    offer_term = models.PositiveIntegerField(null=True, blank=True)
    offer_rate = rate_field(null=True, blank=True)
    offer_apr = rate_field(null=True, blank=True)
    offer_apr_effective = rate_field(null=True, blank=True)
    offer_expires_on = models.DateField(null=True, blank=True)
    decline_reasons = models.JSONField(default=list)

    class Meta:
        verbose_name = lt("贷款申请", "loan application")
        verbose_name_plural = lt("贷款申请", "loan applications")
        indexes = [models.Index(fields=["customer", "created_at"]), models.Index(fields=["state", "created_at"])]
        ordering = ["-created_at"]

    @transition(field=state, source=State.SUBMITTED, target=State.APPROVED)
    def approve(self) -> None: ...

    @transition(field=state, source=State.SUBMITTED, target=State.DECLINED)
    def decline(self) -> None: ...

    @transition(field=state, source=State.SUBMITTED, target=State.REFERRED)
    def refer(self) -> None: ...

    @transition(field=state, source=State.REFERRED, target=State.APPROVED)
    def approve_manually(self) -> None: ...

    @transition(field=state, source=State.REFERRED, target=State.DECLINED)
    def decline_manually(self) -> None: ...

    @transition(field=state, source=State.APPROVED, target=State.ACCEPTED)
    def accept(self) -> None: ...

    @transition(field=state, source=State.ACCEPTED, target=State.DISBURSED)
    def mark_disbursed(self) -> None: ...

    @transition(field=state, source=[State.SUBMITTED, State.REFERRED, State.APPROVED], target=State.CANCELLED)
    def cancel(self) -> None: ...


class ApplicationDecision(Entity):
    """A decision and every input it saw, stored for replay."""

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="decisions")
    provider = models.CharField(max_length=20)
    outcome = models.CharField(max_length=10)
    request = models.JSONField()
    result = models.JSONField()
    actor = models.CharField(max_length=200, default="system")


class Loan(Entity):
    class State(models.TextChoices):
        SIGNED = "signed", lt("已签约待放款", "Signed")
        ACTIVE = "active", lt("还款中", "Active")
        CLOSED = "closed", lt("已结清", "Closed")
        WRITTEN_OFF = "written_off", lt("已核销", "Written off")
        UNWOUND = "unwound", lt("已退车退贷", "Unwound")

    class Pledge(models.TextChoices):
        NONE = "none", lt("无", "None")
        PENDING = "pending", lt("待登记", "Pending")
        REGISTERED = "registered", lt("已登记", "Registered")
        RELEASED = "released", lt("已解押", "Released")

    contract_no = models.CharField(max_length=32, unique=True)
    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="loan")
    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    product = models.ForeignKey(LoanProduct, on_delete=models.PROTECT, related_name="loans")
    state = FSMField(default=State.SIGNED, choices=State.choices)
    principal_fen = models.BigIntegerField()
    term = models.PositiveIntegerField()
    method = models.CharField(max_length=20)
    annual_rate = rate_field()
    monthly_fee_rate = rate_field(default=Decimal(0))
    upfront_fee_fen = models.BigIntegerField(default=0)
    penalty_rate = rate_field()
    apr = rate_field()
    apr_effective = rate_field()
    start_date = models.DateField(null=True, blank=True, help_text="disbursement date: instalments fall on its day")
    outstanding_principal_fen = models.BigIntegerField()
    oldest_unpaid_due = models.DateField(null=True, blank=True)
    bucket = models.CharField(max_length=8, default="current", help_text="current, 1-30, 31-60, 61-90, 90+")
    cob_through = models.DateField(null=True, blank=True, help_text="the last business date COB closed this loan for")
    pledge_status = models.CharField(max_length=12, choices=Pledge.choices, default=Pledge.NONE)
    vehicle_id = models.UUIDField(null=True, blank=True)
    merchant = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    order_ref = models.CharField(max_length=100, blank=True)
    signed_at = models.DateTimeField()
    signature = models.JSONField(help_text="e-signature consent record: who, when, from where, document hash")
    closed_on = models.DateField(null=True, blank=True)
    write_off_reason = models.TextField(blank=True)
    written_off_fen = models.BigIntegerField(default=0)
    unwound_at = models.DateTimeField(null=True, blank=True)
    unwind = models.JSONField(default=dict, blank=True,
                              help_text="the order was refunded: per funder money returned and refunded, customer refund")
    debit_agreement_no = models.CharField(max_length=40, blank=True,
                                          help_text="the borrower's withholding agreement (代扣协议) at the cashier's provider")
    debit_card_masked = models.CharField(max_length=32, blank=True, help_text="the bound card, masked")

    class Meta:
        verbose_name = lt("贷款", "loan")
        verbose_name_plural = lt("贷款", "loans")
        indexes = [
            models.Index(fields=["customer", "created_at"]),
            models.Index(fields=["state", "bucket"]),
        ]
        ordering = ["-created_at"]

    @transition(field=state, source=State.SIGNED, target=State.ACTIVE)
    def disburse(self) -> None: ...

    @transition(field=state, source=State.ACTIVE, target=State.CLOSED)
    def close(self) -> None: ...

    @transition(field=state, source=State.ACTIVE, target=State.WRITTEN_OFF)
    def write_off(self) -> None: ...

    @transition(field=state, source=[State.ACTIVE, State.CLOSED], target=State.UNWOUND)
    def unwind_purchase(self) -> None:
        """The car order the loan paid was refunded (退车退贷)."""


class LoanFunding(Entity):
    """One funder's part of a loan: the platform (``partner`` empty) or a partner institution."""

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="funding")
    partner = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    share_bp = models.PositiveIntegerField()
    rate = rate_field(help_text="annual rate the funder earns")
    principal_fen = models.BigIntegerField()
    outstanding_fen = models.BigIntegerField()

    class Meta:
        indexes = [models.Index(fields=["partner", "loan"])]


class Installment(Entity):
    class Status(models.TextChoices):
        PENDING = "pending", lt("未到期", "Pending")
        DUE = "due", lt("已到期", "Due")
        OVERDUE = "overdue", lt("逾期", "Overdue")
        PAID = "paid", lt("已还清", "Paid")
        CANCELLED = "cancelled", lt("已取消", "Cancelled")

    loan = models.ForeignKey(Loan, on_delete=models.CASCADE, related_name="installments")
    period = models.PositiveIntegerField()
    due_date = models.DateField()
    principal_fen = models.BigIntegerField()
    interest_fen = models.BigIntegerField()
    fee_fen = models.BigIntegerField(default=0)
    penalty_fen = models.BigIntegerField(default=0)
    paid_principal_fen = models.BigIntegerField(default=0)
    paid_interest_fen = models.BigIntegerField(default=0)
    paid_fee_fen = models.BigIntegerField(default=0)
    paid_penalty_fen = models.BigIntegerField(default=0)
    penalty_through = models.DateField(null=True, blank=True, help_text="penalty interest charged up to this day")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    paid_on = models.DateField(null=True, blank=True)

    class Meta:
        verbose_name = lt("还款期", "instalment")
        verbose_name_plural = lt("还款期", "instalments")
        constraints = [models.UniqueConstraint(fields=["loan", "period"], name="finance_installment_period")]
        indexes = [
            models.Index(fields=["status", "due_date"]),
            models.Index(fields=["due_date"]),
        ]
        ordering = ["loan", "period"]

    @property
    def owed_fen(self) -> int:
        return (self.principal_fen - self.paid_principal_fen + self.interest_fen - self.paid_interest_fen
                + self.fee_fen - self.paid_fee_fen + self.penalty_fen - self.paid_penalty_fen)


class Repayment(Entity):
    class Kind(models.TextChoices):
        REGULAR = "regular", lt("按期还款", "Regular")
        PREPAYMENT = "prepayment", lt("部分提前还款", "Partial prepayment")
        PAYOFF = "payoff", lt("提前结清", "Payoff")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="repayments")
    key = models.CharField(max_length=200, help_text="idempotency key (client-chosen)")
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.REGULAR)
    amount_fen = models.BigIntegerField()
    penalty_fen = models.BigIntegerField(default=0)
    fee_fen = models.BigIntegerField(default=0)
    interest_fen = models.BigIntegerField(default=0)
    principal_fen = models.BigIntegerField(default=0)
    prepayment_fee_fen = models.BigIntegerField(default=0)
    prepayment_option = models.CharField(max_length=20, blank=True)
    business_date = models.DateField()
    request_hash = models.CharField(max_length=64)
    days_past_due = models.PositiveIntegerField(default=0)
    split = models.JSONField(default=dict, help_text="per funder: principal and interest paid to its pool")

    class Meta:
        verbose_name = lt("还款", "repayment")
        verbose_name_plural = lt("还款", "repayments")
        constraints = [models.UniqueConstraint(fields=["loan", "key"], name="finance_repayment_key")]
        ordering = ["-created_at"]


class CobRun(Entity):
    """One business date's close of business. ``failures`` lists the chunks that failed, each ``{"at", "first_loan_id",
    "last_loan_id", "loans", "error", "resolved_at"}``; a later pass over the date retries them (``resolved_at``)."""

    class State(models.TextChoices):
        FINISHED = "finished", lt("已完成", "Finished")
        FAILED = "failed", lt("部分失败", "Failed chunks")
        UNFINISHED = "unfinished", lt("未完成", "Unfinished")

    business_date = models.DateField(unique=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    stats = models.JSONField(default=dict)
    failures = models.JSONField(default=list)
    passes = models.PositiveIntegerField(default=0, help_text="how many times the date was run (the first run and reruns)")

    @property
    def open_failures(self) -> list[dict[str, Any]]:
        return [f for f in self.failures if not f.get("resolved_at")]

    @property
    def failure_rows(self) -> list[dict[str, Any]]:
        """The failures with their moments as datetimes (for pages)."""
        return [{**f, "at": datetime.fromisoformat(f["at"])} for f in self.failures]

    @property
    def state(self) -> str:
        if self.finished_at is not None:
            return self.State.FINISHED
        return self.State.FAILED if self.open_failures else self.State.UNFINISHED

    @property
    def duration(self) -> timedelta | None:
        return self.finished_at - self.created_at if self.finished_at else None

    class Meta:
        verbose_name = lt("日终批处理", "close-of-business run")
        verbose_name_plural = lt("日终批处理", "close-of-business runs")
        ordering = ["-business_date"]


class CapitalCall(Entity):
    """Capital a funder is to put into its lending pool (``partner`` empty: the platform's own). It is paid by a
    bank transfer the cashier books (payable kind ``finance.capital``), never on finance's own word."""

    class State(models.TextChoices):
        OPEN = "open", lt("待到账", "Awaiting the money")
        RECEIVED = "received", lt("已到账", "Received")

    partner = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField()
    key = models.CharField(max_length=100)
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    received_at = models.DateTimeField(null=True, blank=True)
    reference = models.CharField(max_length=100, blank=True, help_text="The cashier's intent that paid it")
    created_by = models.CharField(max_length=80)

    class Meta:
        verbose_name = lt("注资", "capital call")
        verbose_name_plural = lt("注资", "capital calls")
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="finance_capital_call_key",
                                    nulls_distinct=False),
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="finance_capital_call_amount_pos"),
        ]

    @property
    def ref(self) -> str:
        return f"{CAPITAL_REF_PREFIX}{self.pk}"


CAPITAL_REF_PREFIX = "finance:capital:"
CAPITAL_KIND = "finance.capital"


class CollectionNote(Entity):
    """Finance operations' record of a collection contact with a delinquent borrower, and any promise to pay."""

    class Channel(models.TextChoices):
        PHONE = "phone", lt("电话", "Phone call")
        SMS = "sms", lt("短信", "Text message")
        VISIT = "visit", lt("上门", "Visit")

    class Outcome(models.TextChoices):
        PROMISED = "promised", lt("承诺还款", "Promised to pay")
        REACHED = "reached", lt("已联系，未承诺", "Reached, no promise")
        NO_ANSWER = "no_answer", lt("无人接听", "No answer")
        REFUSED = "refused", lt("拒绝还款", "Refused to pay")
        WRONG_NUMBER = "wrong_number", lt("号码有误", "Wrong number")

    loan = models.ForeignKey(Loan, on_delete=models.PROTECT, related_name="collection_notes")
    channel = models.CharField(max_length=10, choices=Channel.choices)
    outcome = models.CharField(max_length=15, choices=Outcome.choices)
    note = models.TextField(blank=True)
    promised_amount_fen = models.BigIntegerField(null=True, blank=True)
    promised_on = models.DateField(null=True, blank=True)
    recorded_by = models.CharField(max_length=80)
    key = models.CharField(max_length=64, unique=True, help_text="the form's one-time key: a form sent twice records once")

    class Meta:
        verbose_name = lt("催收记录", "collection note")
        verbose_name_plural = lt("催收记录", "collection notes")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=models.Q(promised_amount_fen__isnull=True) | models.Q(promised_amount_fen__gt=0),
                                   name="finance_collection_promise_pos"),
        ]



# ------------------------------------------------------------------ credit lines (issue 15; carloop.finance.credit_line)


class CreditLineApplication(Entity):
    class State(models.TextChoices):
        APPROVED = "approved", lt("已批准", "Approved")
        DECLINED = "declined", lt("已拒绝", "Declined")
        REFERRED = "referred", lt("人工审核", "Referred")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_limit_fen = models.BigIntegerField()
    state = models.CharField(max_length=10, choices=State.choices)
    provider = models.CharField(max_length=20)
    decision = models.JSONField(help_text="the decision request (with what was observed) and its result, for replay")
    granted_limit_fen = models.BigIntegerField(null=True, blank=True)
    price_tier = models.CharField(max_length=5, blank=True)
    decline_reasons = models.JSONField(default=list)
    consent_text = models.TextField()
    consent_ip = models.CharField(max_length=45, blank=True)

    class Meta:
        verbose_name = lt("授信申请", "credit-line application")
        verbose_name_plural = lt("授信申请", "credit-line applications")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["customer", "created_at"])]


class CreditLine(Entity):
    class State(models.TextChoices):
        ACTIVE = "active", lt("可用", "Active")
        FROZEN = "frozen", lt("已冻结", "Frozen")
        CLOSED = "closed", lt("已关闭", "Closed")

    customer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    application = models.OneToOneField(CreditLineApplication, on_delete=models.PROTECT, related_name="line")
    limit_fen = models.BigIntegerField()
    price_tier = models.CharField(max_length=5)
    statement_day = models.PositiveSmallIntegerField(help_text="day of the month (1–28) the statement is cut")
    opened_on = models.DateField()
    state = FSMField(default=State.ACTIVE, choices=State.choices)
    available_account_id = models.UUIDField(help_text="ledger account holding the unspent limit")

    class Meta:
        verbose_name = lt("授信额度", "credit line")
        verbose_name_plural = lt("授信额度", "credit lines")
        constraints = [
            models.UniqueConstraint(fields=["customer"], condition=~models.Q(state="closed"), name="finance_one_open_credit_line"),
            models.CheckConstraint(condition=models.Q(limit_fen__gt=0), name="finance_credit_line_limit_pos"),
            models.CheckConstraint(condition=models.Q(statement_day__gte=1, statement_day__lte=28),
                                   name="finance_credit_line_statement_day"),
        ]

    @transition(field=state, source=State.ACTIVE, target=State.FROZEN)
    def freeze(self) -> None: ...

    @transition(field=state, source=State.FROZEN, target=State.ACTIVE)
    def unfreeze(self) -> None: ...
