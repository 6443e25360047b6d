"""E-card wallet tables: card products, cards (each card's balance is a flagged ledger account, never stored here),
the loads that buy or recharge a card through the cashier, and bearer-card binding attempts (for throttling)."""

from __future__ import annotations

from datetime import timedelta

from django.db import models

from carloop.core.fields import EncryptedTextField
from carloop.core.i18n import lt
from carloop.core.models import Entity

# MOFCOM 2012 No. 9 (单用途商业预付卡管理办法): a single named card holds at most 5,000 yuan, a bearer card 1,000 yuan.
NAMED_LIMIT_FEN = 500_000
BEARER_LIMIT_FEN = 100_000
BEARER_VALIDITY = timedelta(days=3 * 366)  # at least three years from the sale
LOAD_REF_PREFIX = "wallet:load:"


class CardKind(models.TextChoices):
    NAMED = "named", lt("记名卡", "Named card")
    BEARER = "bearer", lt("不记名卡", "Bearer card")


LIMIT_FEN = {CardKind.NAMED: NAMED_LIMIT_FEN, CardKind.BEARER: BEARER_LIMIT_FEN}


class CardProduct(Entity):
    code = models.SlugField(max_length=40, unique=True)
    kind = models.CharField(max_length=10, choices=CardKind.choices)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    face_value_fen = models.PositiveBigIntegerField()
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = lt("电子卡产品", "e-card product")
        verbose_name_plural = lt("电子卡产品", "e-card products")
        ordering = ["kind", "face_value_fen"]
        constraints = [
            models.CheckConstraint(
                name="wallet_product_face_value_within_limit",
                condition=models.Q(face_value_fen__gt=0) & (
                    models.Q(kind=CardKind.NAMED, face_value_fen__lte=NAMED_LIMIT_FEN)
                    | models.Q(kind=CardKind.BEARER, face_value_fen__lte=BEARER_LIMIT_FEN))),
        ]

    def __str__(self) -> str:
        return self.name_zh


class CardState(models.TextChoices):
    PENDING = "pending", lt("待支付", "Awaiting payment")
    ACTIVE = "active", lt("可用", "Active")


class Card(Entity):
    """One e-card. ``holder_id`` is who may spend it: the buyer of a named card; for a bearer card whoever bound
    it with its number and secret code (nobody until then). The secret code is kept as a salted hash for
    checking, and sealed (encrypted) for the buyer to read until the card is bound."""

    number = models.CharField(max_length=19, unique=True)
    product = models.ForeignKey(CardProduct, on_delete=models.PROTECT, related_name="cards")
    kind = models.CharField(max_length=10, choices=CardKind.choices)
    state = models.CharField(max_length=12, choices=CardState.choices, default=CardState.PENDING)
    account_id = models.UUIDField(unique=True, help_text="The card's ledger account (a liability, never negative)")
    buyer_id = models.UUIDField(db_index=True)
    holder_id = models.UUIDField(null=True, blank=True, db_index=True)
    code_salt = models.CharField(max_length=32, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    code_sealed = EncryptedTextField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    bound_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Bearer cards: at least 3 years from sale")

    class Meta:
        verbose_name = lt("电子卡", "e-card")
        verbose_name_plural = lt("电子卡", "e-cards")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.number[:4]}…{self.number[-4:]}"

    @property
    def limit_fen(self) -> int:
        return LIMIT_FEN[CardKind(self.kind)]


class LoadKind(models.TextChoices):
    PURCHASE = "purchase", lt("购卡", "Purchase")
    RECHARGE = "recharge", lt("充值", "Recharge")


class LoadState(models.TextChoices):
    AWAITING = "awaiting", lt("待支付", "Awaiting payment")
    PAID = "paid", lt("已支付", "Paid")


class CardLoad(Entity):
    """Money a buyer pays at the cashier onto one card (its purchase, or a named card's recharge). The cashier
    moves it straight into the card's ledger account; ``on_paid`` marks it paid and activates the card."""

    card = models.ForeignKey(Card, on_delete=models.PROTECT, related_name="loads")
    kind = models.CharField(max_length=10, choices=LoadKind.choices)
    buyer_id = models.UUIDField(db_index=True)
    amount_fen = models.PositiveBigIntegerField()
    state = models.CharField(max_length=10, choices=LoadState.choices, default=LoadState.AWAITING)
    paid_at = models.DateTimeField(null=True, blank=True)
    intent_id = models.UUIDField(null=True, blank=True)

    class Meta:
        verbose_name = lt("电子卡充值", "e-card load")
        verbose_name_plural = lt("电子卡充值", "e-card loads")
        ordering = ["-created_at"]
        constraints = [models.CheckConstraint(name="wallet_load_positive", condition=models.Q(amount_fen__gt=0))]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount_fen}"

    @property
    def ref(self) -> str:
        return f"{LOAD_REF_PREFIX}{self.pk}"


class BindAttempt(Entity):
    """A try at binding a bearer card by number and secret code; recent failures throttle the caller and the card."""

    user_id = models.UUIDField()
    card_number = models.CharField(max_length=19)
    succeeded = models.BooleanField(default=False)

    class Meta:
        verbose_name = lt("绑卡尝试", "bind attempt")
        verbose_name_plural = lt("绑卡尝试", "bind attempts")
        indexes = [models.Index(fields=["user_id", "created_at"]), models.Index(fields=["card_number", "created_at"])]

    def __str__(self) -> str:
        return f"{self.card_number[-4:]} {'ok' if self.succeeded else 'failed'}"
