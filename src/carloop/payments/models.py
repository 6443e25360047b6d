"""The cashier's tables: payment intents with their tenders, refunds with a part per tender, provider
notifications as received, bank statement lines, and the simulator provider's own side (its orders and refunds,
which a real provider keeps at its end)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django_fsm import FSMField, transition

from carloop.core.i18n import lt
from carloop.core.models import Entity


class IntentState(models.TextChoices):
    CREATED = "created", lt("待支付", "Awaiting payment")
    PROCESSING = "processing", lt("支付中", "Processing")
    SUCCEEDED = "succeeded", lt("已支付", "Paid")
    FAILED = "failed", lt("支付失败", "Payment failed")
    EXPIRED = "expired", lt("已过期", "Expired")
    CANCELLED = "cancelled", lt("已取消", "Cancelled")


OPEN_STATES = (IntentState.CREATED, IntentState.PROCESSING)
CLOSED_UNPAID = (IntentState.FAILED, IntentState.EXPIRED, IntentState.CANCELLED)


class PaymentIntent(Entity):
    """One attempt to pay a payable (``kind`` + ``ref``) in full, by one or more tenders."""

    kind = models.CharField(max_length=60)
    ref = models.CharField(max_length=200)
    payer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    payer_org = models.ForeignKey("identity.Organisation", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField()
    refunded_fen = models.BigIntegerField(default=0)
    destination_account_id = models.UUIDField()
    merchant = models.CharField(max_length=80, blank=True)
    title_zh = models.CharField(max_length=200, blank=True)
    title_en = models.CharField(max_length=200, blank=True)
    state = FSMField(max_length=12, choices=IntentState.choices, default=IntentState.CREATED)
    method = models.CharField(max_length=20, blank=True, help_text="The external method: simulator, bank_transfer")
    reference = models.CharField(max_length=20, null=True, blank=True, unique=True,
                                 help_text="Bank-transfer reference the payer writes on the transfer")
    expires_at = models.DateTimeField()
    succeeded_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=200, blank=True)
    created_by = models.CharField(max_length=80)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "ref"], condition=models.Q(state__in=["created", "processing"]),
                                    name="payments_one_open_intent_per_payable"),
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payments_intent_amount_pos"),
            models.CheckConstraint(condition=models.Q(refunded_fen__gte=0, refunded_fen__lte=models.F("amount_fen")),
                                   name="payments_intent_refund_le_amount"),
        ]
        indexes = [
            models.Index(fields=["state", "expires_at"], name="payments_intent_open",
                         condition=models.Q(state__in=["created", "processing"])),
            models.Index(fields=["payer", "created_at"]),
            models.Index(fields=["kind", "ref"]),
        ]

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    @transition(field=state, source=IntentState.CREATED, target=IntentState.PROCESSING)
    def start_processing(self) -> None:
        pass

    @transition(field=state, source=OPEN_STATES, target=IntentState.SUCCEEDED)
    def succeed(self) -> None:
        pass

    @transition(field=state, source=OPEN_STATES, target=IntentState.FAILED)
    def fail(self) -> None:
        pass

    @transition(field=state, source=OPEN_STATES, target=IntentState.EXPIRED)
    def expire(self) -> None:
        pass

    @transition(field=state, source=OPEN_STATES, target=IntentState.CANCELLED)
    def cancel(self) -> None:
        pass


class TenderState(models.TextChoices):
    AWAITING = "awaiting", lt("等待外部支付", "Awaiting the provider")  # external tender: the provider has not confirmed the money yet
    HELD = "held", lt("已冻结", "Held")
    POSTED = "posted", lt("已扣款", "Charged")
    VOIDED = "voided", lt("已释放", "Released")
    RECEIVED_LATE = "received_late", lt("过期后到账", "Received after expiry")  # the provider took the money after the intent closed


class Tender(Entity):
    """One way the intent is paid: an internal hold (coupon, points, e-card, credit line) or the external method."""

    intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="tenders")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=12)
    instrument = models.CharField(max_length=100, blank=True)
    amount_fen = models.BigIntegerField()
    refunded_fen = models.BigIntegerField(default=0)
    source_account_id = models.UUIDField(help_text="Ledger account the money comes from (the provider's clearing account for external)")
    state = models.CharField(max_length=14, choices=TenderState.choices)
    provider = models.CharField(max_length=20, blank=True)
    provider_order_no = models.CharField(max_length=40, null=True, blank=True, unique=True)
    provider_txn_id = models.CharField(max_length=64, blank=True)
    pay_url = models.CharField(max_length=300, blank=True)
    received_at = models.DateTimeField(null=True, blank=True, help_text="When the provider's confirmation was booked")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["intent", "position"], name="payments_tender_position"),
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payments_tender_amount_pos"),
            models.CheckConstraint(condition=models.Q(refunded_fen__gte=0, refunded_fen__lte=models.F("amount_fen")),
                                   name="payments_tender_refund_le_amount"),
        ]

    @property
    def is_external(self) -> bool:
        return self.kind == "external"


class RefundState(models.TextChoices):
    PENDING = "pending", lt("退款中", "Refund pending")
    SUCCEEDED = "succeeded", lt("已退款", "Refunded")
    FAILED = "failed", lt("退款失败", "Refund failed")


class Refund(Entity):
    """A refund of an intent (full or partial), split over the tenders in the reverse of the tender order.
    ``late`` refunds return money a provider took after the intent had closed (it never reached the payable)."""

    intent = models.ForeignKey(PaymentIntent, on_delete=models.CASCADE, related_name="refunds")
    amount_fen = models.BigIntegerField()
    reason = models.CharField(max_length=200)
    state = models.CharField(max_length=10, choices=RefundState.choices, default=RefundState.PENDING)
    late = models.BooleanField(default=False)
    created_by = models.CharField(max_length=80)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payments_refund_amount_pos")]


class RefundPart(Entity):
    refund = models.ForeignKey(Refund, on_delete=models.CASCADE, related_name="parts")
    tender = models.ForeignKey(Tender, on_delete=models.CASCADE, related_name="refund_parts")
    amount_fen = models.BigIntegerField()
    state = models.CharField(max_length=10, choices=RefundState.choices, default=RefundState.PENDING)
    provider_refund_no = models.CharField(max_length=40, null=True, blank=True, unique=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payments_refund_part_pos")]


class WithholdingAgreement(Entity):
    """A payer's withholding agreement (代扣协议) with a provider: the provider may debit the bound card for what the
    payer owes (a loan's instalments). The card number stays with the provider; we keep its masked form."""

    payer = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    provider = models.CharField(max_length=20)
    agreement_no = models.CharField(max_length=40, unique=True)
    card_masked = models.CharField(max_length=32)
    created_by = models.CharField(max_length=80)


class NotificationOutcome(models.TextChoices):
    BOOKED = "booked", lt("已入账", "Booked")
    DUPLICATE = "duplicate", lt("重复通知", "Duplicate notification")
    BAD_SIGNATURE = "bad_signature", lt("签名无效", "Bad signature")
    MALFORMED = "malformed", lt("格式错误", "Malformed")
    UNKNOWN = "unknown", lt("未知订单", "Unknown order")
    MISMATCH = "mismatch", lt("金额不符", "Amount mismatch")
    LATE_REFUNDED = "late_refunded", lt("过期到账，自动退款", "Arrived late, refunded automatically")
    REFUND_BOOKED = "refund_booked", lt("退款已确认", "Refund confirmed")
    NOT_PAID = "not_paid", lt("未支付状态", "Not paid")
    FAILED = "failed", lt("扣款失败", "Debit failed")
    PAYOUT_PAID = "payout_paid", lt("付款已到账", "Payout paid")
    PAYOUT_FAILED = "payout_failed", lt("付款失败，款项退回", "Payout failed, money returned")


class ProviderNotification(Entity):
    """Every asynchronous notification as received, with what we made of it (the audit of the provider edge)."""

    provider = models.CharField(max_length=20)
    body = models.TextField()
    signature_valid = models.BooleanField()
    outcome = models.CharField(max_length=14, choices=NotificationOutcome.choices)
    order_no = models.CharField(max_length=40, blank=True)
    intent = models.ForeignKey(PaymentIntent, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        indexes = [models.Index(fields=["order_no"])]


class BankLineState(models.TextChoices):
    MATCHED = "matched", lt("已匹配", "Matched")
    UNMATCHED = "unmatched", lt("待匹配", "Unmatched")


class BankStatementLine(Entity):
    """One incoming transfer from an imported bank statement (CSV); matched to a bank-transfer intent by its
    reference and amount, or by finance operations."""

    bank_txn_id = models.CharField(max_length=64, unique=True)
    value_date = models.DateField()
    amount_fen = models.BigIntegerField()
    reference = models.CharField(max_length=100, blank=True)
    payer_name = models.CharField(max_length=200, blank=True)
    state = models.CharField(max_length=10, choices=BankLineState.choices)
    intent = models.ForeignKey(PaymentIntent, null=True, blank=True, on_delete=models.PROTECT, related_name="bank_lines")
    imported_by = models.CharField(max_length=80)
    matched_by = models.CharField(max_length=80, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payments_bank_line_pos")]


class ReconciliationRun(Entity):
    """One day's reconciliation against one provider's statement: counts, totals, fees booked, and the rows that
    did not match (missing, extra, mismatched)."""

    provider = models.CharField(max_length=20)
    day = models.DateField()
    matched = models.PositiveIntegerField()
    missing = models.PositiveIntegerField()
    extra = models.PositiveIntegerField()
    mismatched = models.PositiveIntegerField()
    ours_fen = models.BigIntegerField(help_text="Payments less refunds we booked that day")
    theirs_fen = models.BigIntegerField(help_text="Payments less refunds on the provider's statement")
    fees_fen = models.BigIntegerField()
    rows = models.JSONField(default=list)
    created_by = models.CharField(max_length=80)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["provider", "day"], name="payments_one_run_per_day")]

    @property
    def difference_fen(self) -> int:
        """The provider's net less ours (zero when the day agrees)."""
        return self.theirs_fen - self.ours_fen


# ------------------------------------------------------------------------- the simulator provider's own side


class SimulatorOrder(Entity):
    """The simulated provider's order (what WeChat Pay or Alipay would keep at their end)."""

    class Status(models.TextChoices):
        NOTPAY = "NOTPAY", lt("未支付", "Not paid")
        SUCCESS = "SUCCESS", lt("支付成功", "Paid")
        CLOSED = "CLOSED", lt("已关闭", "Closed")
        PAYERROR = "PAYERROR", lt("扣款失败", "Debit failed")

    order_no = models.CharField(max_length=40, unique=True)
    amount_fen = models.BigIntegerField()
    description = models.CharField(max_length=200)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.NOTPAY)
    txn_id = models.CharField(max_length=64, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    fee_fen = models.BigIntegerField(default=0)
    agreement_no = models.CharField(max_length=40, blank=True, help_text="Withholding: the agreement debited")
    err_code = models.CharField(max_length=20, blank=True, help_text="Why a withholding failed (NOTENOUGH)")


class SimulatorAgreement(Entity):
    """The simulated provider's withholding agreement (代扣协议): the card it may debit, as it keeps it (masked here:
    the simulator needs no more, and carloop never stores a card number in clear)."""

    agreement_no = models.CharField(max_length=40, unique=True)
    card_masked = models.CharField(max_length=32)


class SimulatorRefund(Entity):
    class Status(models.TextChoices):
        PROCESSING = "PROCESSING", lt("退款处理中", "Refund processing")
        SUCCESS = "SUCCESS", lt("退款成功", "Refunded")

    refund_no = models.CharField(max_length=40, unique=True)
    order_no = models.CharField(max_length=40)
    amount_fen = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROCESSING)
    succeeded_at = models.DateTimeField(null=True, blank=True)


# ------------------------------------------------------------------------------------- merchant settlement


class SettlementCycle(models.IntegerChoices):
    T1 = 1, lt("T+1（次日结算）", "T+1 (next day)")
    T7 = 7, lt("T+7（七日后结算）", "T+7 (after seven days)")


class SettlementContract(Entity):
    """What the platform keeps of a merchant's takings (commission in basis points of each line), how long after
    a business day its money is settled (T+N), and the smallest payout worth sending."""

    merchant = models.OneToOneField("identity.Organisation", on_delete=models.PROTECT, related_name="+")
    commission_bps = models.PositiveIntegerField()
    cycle_days = models.PositiveSmallIntegerField(choices=SettlementCycle.choices)
    minimum_payout_fen = models.BigIntegerField(default=0)
    created_by = models.CharField(max_length=80)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(commission_bps__lte=10000), name="payments_contract_bps_le_10000"),
            models.CheckConstraint(condition=models.Q(minimum_payout_fen__gte=0), name="payments_contract_min_payout"),
        ]


class StatementState(models.TextChoices):
    UNPAID = "unpaid", lt("待付款", "Awaiting payout")
    IN_PAYOUT = "in_payout", lt("付款中", "Payout in progress")
    PAID = "paid", lt("已付款", "Paid out")
    NOTHING_DUE = "nothing_due", lt("无应付", "Nothing due")


class SettlementStatement(Entity):
    """One settlement run of one merchant: the money that reached its settlement accounts up to ``period_end``
    and not settled before, what the platform kept, and what it is owed (``net``)."""

    merchant = models.ForeignKey("identity.Organisation", on_delete=models.PROTECT, related_name="+")
    period_start = models.DateField()
    period_end = models.DateField()
    commission_bps = models.PositiveIntegerField()
    cycle_days = models.PositiveSmallIntegerField(choices=SettlementCycle.choices)
    gross_fen = models.BigIntegerField()
    refunds_fen = models.BigIntegerField()
    fees_fen = models.BigIntegerField()
    net_fen = models.BigIntegerField()
    state = models.CharField(max_length=12, choices=StatementState.choices)
    created_by = models.CharField(max_length=80)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "period_end"], name="payments_one_statement_per_period")]
        indexes = [models.Index(fields=["merchant", "-period_end"])]


class SettlementLineKind(models.TextChoices):
    INCOME = "income", lt("收入", "Income")
    REVERSAL = "reversal", lt("退款/冲回", "Refund or reversal")


class SettlementLine(Entity):
    """One ledger transfer into (income) or out of (a refund, an unwound loan) a merchant's settlement account;
    each transfer is settled in exactly one statement (``transfer_id`` is unique)."""

    statement = models.ForeignKey(SettlementStatement, on_delete=models.CASCADE, related_name="lines")
    transfer_id = models.UUIDField(unique=True)
    occurred_at = models.DateTimeField()
    kind = models.CharField(max_length=10, choices=SettlementLineKind.choices)
    code = models.PositiveIntegerField()
    memo = models.CharField(max_length=200, blank=True)
    amount_fen = models.BigIntegerField()
    fee_fen = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payments_settlement_line_pos")]


# ------------------------------------------------------------------------------------------------ payouts


class PayoutBatchState(models.TextChoices):
    PREPARED = "prepared", lt("待复核", "Awaiting approval")
    PROCESSING = "processing", lt("付款中", "Paying out")
    COMPLETED = "completed", lt("已完成", "Completed")
    REJECTED = "rejected", lt("已退回", "Sent back")


class PayoutBatch(Entity):
    """Payouts of unpaid settlement statements that one finance operator prepared and another approves
    (four-eyes); on approval each payout's money is held and sent through the payout provider."""

    state = models.CharField(max_length=12, choices=PayoutBatchState.choices, default=PayoutBatchState.PREPARED)
    prepared_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT,
                                    related_name="+")
    approved_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    rejection = models.CharField(max_length=200, blank=True, help_text="Why the approver sent it back")
    total_fen = models.BigIntegerField()
    request_key = models.CharField(max_length=80, null=True, blank=True, unique=True,
                                   help_text="The preparing request's idempotency key")

    class Meta:
        indexes = [models.Index(fields=["state", "-created_at"])]


class PayoutState(models.TextChoices):
    PENDING = "pending", lt("待复核", "Awaiting approval")
    PROCESSING = "processing", lt("付款中", "Paying out")
    PAID = "paid", lt("已付款", "Paid")
    FAILED = "failed", lt("付款失败", "Failed")
    CANCELLED = "cancelled", lt("批次退回，未付款", "Batch sent back, not paid")


class Payout(Entity):
    """One merchant's payout in a batch: the net of its unpaid statements, held in the ledger (merchant
    settlement account → ``external``) from approval until the payout provider's verified word posts it (paid)
    or voids it (failed: the statements are unpaid again)."""

    batch = models.ForeignKey(PayoutBatch, on_delete=models.PROTECT, related_name="payouts")
    merchant = models.ForeignKey("identity.Organisation", on_delete=models.PROTECT, related_name="+")
    amount_fen = models.BigIntegerField()
    statements = models.ManyToManyField(SettlementStatement, related_name="payouts")
    state = models.CharField(max_length=12, choices=PayoutState.choices, default=PayoutState.PENDING)
    provider = models.CharField(max_length=20)
    payout_no = models.CharField(max_length=40, unique=True)
    sent_at = models.DateTimeField(null=True, blank=True, help_text="When the provider accepted the payout")
    completed_at = models.DateTimeField(null=True, blank=True)
    failure = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(amount_fen__gt=0), name="payments_payout_amount_pos"),
            models.UniqueConstraint(fields=["batch", "merchant"], name="payments_one_payout_per_merchant_and_batch"),
        ]
        indexes = [models.Index(fields=["state", "created_at"]), models.Index(fields=["merchant", "-created_at"])]


class SimulatorPayout(Entity):
    """The simulated payout provider's record of a payout (what a bank's or WeChat Pay's transfer API keeps)."""

    class Status(models.TextChoices):
        PROCESSING = "PROCESSING", lt("处理中", "Processing")
        SUCCESS = "SUCCESS", lt("已到账", "Paid")
        FAILED = "FAILED", lt("失败", "Failed")

    payout_no = models.CharField(max_length=40, unique=True)
    amount_fen = models.BigIntegerField()
    payee = models.CharField(max_length=200)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PROCESSING)
    reason = models.CharField(max_length=200, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
