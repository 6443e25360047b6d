"""Ledger tables. Balances change only in ``services`` (locked rows, one transaction); transfers are never edited."""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q
from django.db.models.lookups import Exact

from carloop.core.i18n import lt
from carloop.core.models import Entity
from carloop.ledger.contracts import LEDGER_CNY, AccountFlags


def _flag_clear(bit: int) -> Exact[int]:
    return Exact(F("flags").bitand(bit), 0)


class Account(Entity):
    key = models.CharField(max_length=200, unique=True, help_text="Stable business key, e.g. 'system:platform_cash'")
    name = models.CharField(max_length=200)
    owner = models.CharField(max_length=80, blank=True, db_index=True, help_text="'user:<uuid>', 'org:<uuid>' or ''")
    ledger = models.CharField(max_length=8, default=LEDGER_CNY)
    code = models.PositiveIntegerField()
    flags = models.PositiveSmallIntegerField(default=0)
    debits_posted = models.BigIntegerField(default=0)
    credits_posted = models.BigIntegerField(default=0)
    debits_pending = models.BigIntegerField(default=0)
    credits_pending = models.BigIntegerField(default=0)

    class Meta:
        verbose_name = lt("账户", "account")
        verbose_name_plural = lt("账户", "accounts")
        ordering = ["key"]
        constraints = [
            models.CheckConstraint(
                condition=Q(debits_posted__gte=0, credits_posted__gte=0, debits_pending__gte=0, credits_pending__gte=0),
                name="ledger_account_totals_non_negative",
            ),
            # Defence in depth: the service checks first and answers 409; the database refuses regardless.
            models.CheckConstraint(
                condition=Q(_flag_clear(AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS))
                | Q(debits_posted__lte=F("credits_posted") - F("debits_pending")),
                name="ledger_account_debits_within_credits",
            ),
            models.CheckConstraint(
                condition=Q(_flag_clear(AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS))
                | Q(credits_posted__lte=F("debits_posted") - F("credits_pending")),
                name="ledger_account_credits_within_debits",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.key})"


class Transfer(models.Model):
    """An immutable movement of ``amount_fen`` from the debit to the credit account.

    The primary key is the client's transfer id (idempotency key), so it is not a UUID7 of ours.
    ``*_balance_after`` record each side's posted net credit (credits - debits) right after this transfer,
    which makes statements with running balances a pure index range scan. ``seq`` orders transfers strictly:
    it is assigned at insert, after both accounts are locked, so of two transfers touching one account the later
    has the larger ``seq`` (a batch's lines, which share ``created_at``, in batch order). On PostgreSQL it is the
    column default ``nextval('ledger_transfer_seq')`` (migration 0004); on SQLite the service assigns it.
    """

    id = models.UUIDField(primary_key=True, editable=False)
    # No database FK constraint on the two accounts: every insert comes from ledger.services, which has just
    # locked both account rows in the same transaction, and accounts are never deleted. The per-row RI checks
    # cost more than half of a 100-transfer batch's time on PostgreSQL (see docs/ledger.md).
    debit = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    credit = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+", db_index=False, db_constraint=False)
    amount_fen = models.BigIntegerField()
    ledger = models.CharField(max_length=8, default=LEDGER_CNY)
    code = models.PositiveIntegerField()
    flags = models.PositiveSmallIntegerField(default=0)
    pending = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="resolutions", db_index=False,
        help_text="For a post or void: the pending transfer it resolves (unique: at most once)",
    )
    timeout_seconds = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    memo = models.CharField(max_length=200, blank=True)
    actor = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    debit_balance_after = models.BigIntegerField()
    credit_balance_after = models.BigIntegerField()
    seq = models.BigIntegerField(editable=False, help_text="Strictly increasing in the order transfers were applied")

    class Meta:
        verbose_name = lt("转账", "transfer")
        verbose_name_plural = lt("转账", "transfers")
        ordering = ["-seq"]
        indexes = [
            models.Index(fields=["debit", "seq"], name="ledger_transfer_debit_seq"),
            models.Index(fields=["credit", "seq"], name="ledger_transfer_credit_seq"),
            models.Index(
                fields=["expires_at"], name="ledger_transfer_expiring", condition=Q(expires_at__isnull=False)
            ),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_fen__gt=0), name="ledger_transfer_amount_positive"),
            # A pending transfer resolves at most once. Partial, so the many plain transfers cost no index entry.
            models.UniqueConstraint(fields=["pending"], condition=Q(pending__isnull=False), name="ledger_transfer_resolves_once"),
        ]

    def __str__(self) -> str:
        return f"{self.id} {self.amount_fen} fen"
