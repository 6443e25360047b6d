"""Wallet commands: card products, buying and recharging cards through the cashier, binding a bearer card by its
number and secret code, and the cashier's hooks (the ``wallet.load`` payable kind and the ``ecard`` tender).

A card's balance lives only in its ledger account (``ledger_accounts``): the cashier moves a paid load straight
into it and holds a spend from it, so nothing here moves money. Limits (MOFCOM 2012 No. 9): a named card holds at
most 5,000 yuan, a bearer card 1,000 yuan; a named card goes only to a real-name-verified customer."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from stdnum import luhn

from carloop.core import audit, payables
from carloop.core.authz import FINANCE_OPS, OPS, Subject
from carloop.core.errors import Conflict, FieldError, Invalid, NotFound, Problem
from carloop.identity import selectors as identity
from carloop.ledger import selectors as ledger_q
from carloop.wallet import ledger_accounts
from carloop.wallet.models import (
    BEARER_VALIDITY,
    LIMIT_FEN,
    LOAD_REF_PREFIX,
    BindAttempt,
    Card,
    CardKind,
    CardLoad,
    CardProduct,
    CardState,
    LoadKind,
    LoadState,
)

LOAD_KIND = "wallet.load"
CARD_PREFIX = "8868"  # carloop's e-card issuer prefix; 16 digits with a Luhn check digit
CODE_DIGITS = 8
HASH_ITERATIONS = 60_000
USER_FAILURES, USER_WINDOW = 5, timedelta(minutes=15)  # a customer guessing codes
CARD_FAILURES, CARD_WINDOW = 10, timedelta(hours=1)  # many customers guessing one card's code


def may_manage_products(subject: Subject) -> bool:
    return subject.has_role(OPS, FINANCE_OPS)


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}"


def _over_limit(kind: str, pointer: str) -> Problem:
    limit = _yuan(LIMIT_FEN[CardKind(kind)])
    name_zh, name_en = ("记名卡", "a named card") if kind == CardKind.NAMED else ("不记名卡", "a bearer card")
    return Invalid("card-limit-exceeded", f"单张{name_zh}余额不得超过 {limit} 元", f"The balance of {name_en} may not exceed {limit} yuan",
                   [FieldError(pointer, f"超过 {limit} 元上限", f"Over the {limit} yuan limit")])


# ------------------------------------------------------------------------------------------------- products


def create_product(subject: Subject, *, code: str, kind: str, name_zh: str, name_en: str, face_value_fen: int) -> CardProduct:
    subject.require(may_manage_products(subject))
    errors = []
    if kind not in CardKind.values:
        errors.append(FieldError("/kind", "卡类型须为记名或不记名", "Kind must be named or bearer"))
    if not name_zh.strip() or not name_en.strip():
        errors.append(FieldError("/name_zh", "请填写中英文名称", "Both names are required"))
    if not code.strip() or CardProduct.objects.filter(code=code).exists():
        errors.append(FieldError("/code", "产品代码为空或已存在", "The product code is empty or taken"))
    if errors:
        raise Invalid("invalid-product", "电子卡产品无效", "Invalid card product", errors)
    if face_value_fen > LIMIT_FEN[CardKind(kind)]:
        raise _over_limit(kind, "/face_value")
    with transaction.atomic():
        product = CardProduct.objects.create(code=code, kind=kind, name_zh=name_zh, name_en=name_en,
                                             face_value_fen=face_value_fen)
        audit.record(subject.ref, "wallet.product.created", "wallet.product", product.pk,
                     {"kind": kind, "face_value_fen": face_value_fen})
    return product


# ----------------------------------------------------------------------------------------- buy and recharge


def _new_number() -> str:
    while True:
        body = CARD_PREFIX + "".join(secrets.choice("0123456789") for _ in range(11))
        number = body + luhn.calc_check_digit(body)
        if not Card.objects.filter(number=number).exists():
            return number


def _hash(code: str, salt: str) -> str:
    return hashlib.pbkdf2_hmac("sha256", code.encode(), salt.encode(), HASH_ITERATIONS).hex()


def _seal(card: Card, code: str) -> None:
    card.code_salt = secrets.token_hex(16)
    card.code_hash = _hash(code, card.code_salt)
    card.code_sealed = code


def buy(subject: Subject, *, product_code: str, actor: str, code: str | None = None) -> CardLoad:
    """The customer buys one card of a product: the card (awaiting payment, its ledger account opened) and the
    load to pay at the cashier (kind ``wallet.load``, ref ``load.ref``). A named card needs a real-name-verified
    buyer and is theirs; a bearer card's secret code is generated (``code`` only for the demo seed) and sealed
    for the buyer, and nobody may spend it before it is bound."""
    buyer = subject.require_customer()
    product = CardProduct.objects.filter(code=product_code, active=True).first()
    if product is None:
        raise Invalid("unknown-product", "没有这种电子卡", "No such card product",
                      [FieldError("/product", "没有这种电子卡", "No such card product")])
    if product.kind == CardKind.NAMED:
        facts = identity.customer_facts(buyer)
        if facts is None or not facts.kyc_verified:
            raise Problem(403, "real-name-required", "购买记名卡须先完成实名认证",
                          "Buying a named card needs a verified real name")
    number = _new_number()
    account = ledger_accounts.open_card_account(number)
    with transaction.atomic():
        card = Card(number=number, product=product, kind=product.kind, account_id=account.id, buyer_id=buyer,
                    holder_id=buyer if product.kind == CardKind.NAMED else None)
        if product.kind == CardKind.BEARER:
            _seal(card, code or "".join(secrets.choice("0123456789") for _ in range(CODE_DIGITS)))
        card.save()
        load = CardLoad.objects.create(card=card, kind=LoadKind.PURCHASE, buyer_id=buyer, amount_fen=product.face_value_fen)
        audit.record(actor, "wallet.card.bought", "wallet.card", card.pk, {"product": product.code, "load": str(load.pk)})
    return load


def recharge(subject: Subject, *, number: str, amount_fen: int, actor: str) -> CardLoad:
    """The holder tops up their active named card; the balance after it (and after loads still awaiting payment)
    may not exceed the named-card limit. Bearer cards cannot be recharged."""
    holder = subject.require_customer()
    with transaction.atomic():
        card = Card.objects.select_for_update().filter(number=number, holder_id=holder).first()
        if card is None:
            raise NotFound("没有这张卡", "No such card")
        if card.kind != CardKind.NAMED or card.state != CardState.ACTIVE:
            raise Conflict("card-not-rechargeable", "只有可用的记名卡可以充值", "Only an active named card can be recharged")
        if _balance_with_awaiting(card) + amount_fen > card.limit_fen:
            raise _over_limit(card.kind, "/amount")
        load = CardLoad.objects.create(card=card, kind=LoadKind.RECHARGE, buyer_id=holder, amount_fen=amount_fen)
        audit.record(actor, "wallet.card.recharge_requested", "wallet.card", card.pk, {"load": str(load.pk), "amount_fen": amount_fen})
    return load


def _balance_with_awaiting(card: Card, but: uuid.UUID | None = None) -> int:
    """The card's balance plus what loads still awaiting payment (but one) would add to it."""
    loads = card.loads.filter(state=LoadState.AWAITING)
    if but is not None:
        loads = loads.exclude(pk=but)
    awaiting = int(loads.aggregate(total=Sum("amount_fen"))["total"] or 0)
    return ledger_q.balance(card.account_id).balance_fen + awaiting


# ----------------------------------------------------------------------------------------------------- bind


def _throttle(user_id: uuid.UUID, number: str) -> None:
    now = timezone.now()
    mine = BindAttempt.objects.filter(user_id=user_id, succeeded=False, created_at__gte=now - USER_WINDOW).count()
    theirs = BindAttempt.objects.filter(card_number=number, succeeded=False, created_at__gte=now - CARD_WINDOW).count()
    if mine >= USER_FAILURES or theirs >= CARD_FAILURES:
        wait = USER_WINDOW if mine >= USER_FAILURES else CARD_WINDOW
        raise Problem(429, "too-many-attempts", "尝试次数过多，请稍后再试", "Too many attempts; try again later",
                      headers={"Retry-After": str(int(wait.total_seconds()))})


def bind(subject: Subject, *, number: str, code: str, actor: str) -> Card:
    """Bind a bearer card to the caller with its number and secret code, so that they may spend it. A wrong
    number or code, a card bound by someone else or not yet paid all answer the same 422; five failures in 15
    minutes (or ten on one card in an hour, from anyone) answer 429 without checking the code."""
    user = subject.require_customer()
    number, code = number.strip().replace(" ", ""), code.strip()
    _throttle(user, number)
    with transaction.atomic():
        card = Card.objects.select_for_update().filter(number=number, kind=CardKind.BEARER).first()
        if card is not None and card.holder_id == user:
            return card
        ok = (card is not None and card.state == CardState.ACTIVE and card.holder_id is None and bool(card.code_hash)
              and hmac.compare_digest(_hash(code, card.code_salt), card.code_hash))
        BindAttempt.objects.create(user_id=user, card_number=number[:19], succeeded=ok)
        if ok and card is not None:
            card.holder_id, card.bound_at, card.code_sealed = user, timezone.now(), None
            card.save(update_fields=["holder_id", "bound_at", "code_sealed", "updated_at"])
            audit.record(actor, "wallet.card.bound", "wallet.card", card.pk, {})
    if not ok or card is None:
        raise Invalid("card-code-wrong", "卡号或密码不正确", "The card number or secret code is wrong",
                      [FieldError("/code", "卡号或密码不正确", "Wrong card number or code")])
    return card


# ------------------------------------------------------------------------------------------ the cashier's hooks


def _load(ref: str) -> CardLoad | None:
    if not ref.startswith(LOAD_REF_PREFIX):
        return None
    try:
        load_id = uuid.UUID(ref.removeprefix(LOAD_REF_PREFIX))
    except ValueError:
        return None
    return CardLoad.objects.select_related("card", "card__product").filter(pk=load_id).first()


def load_payable(ref: str) -> payables.Payable | None:
    """What a load owes: its amount while awaiting payment, as long as the card stays within its limit."""
    load = _load(ref)
    if load is None:
        return None
    card = load.card
    payable_now = (load.state == LoadState.AWAITING and _balance_with_awaiting(card, but=load.pk) + load.amount_fen <= card.limit_fen)
    due = load.amount_fen if payable_now else 0
    zh, en = ("购买", "Purchase of") if load.kind == LoadKind.PURCHASE else ("充值", "Recharge of")
    return payables.Payable(ref=ref, amount_due_fen=due, destination_account=card.account_id, payer_user_id=load.buyer_id,
                            title_zh=f"{card.product.name_zh} {zh}", title_en=f"{en} {card.product.name_en}")


def load_paid(paid: payables.Paid) -> None:
    """The cashier put the money on the card: the load is paid and the card active (a bearer card valid for
    three years from its sale)."""
    load = _load(paid.ref)
    if load is None or load.amount_fen != paid.amount_fen:
        raise Conflict("load-mismatch", "电子卡充值与支付不符", "The card load does not match the payment")
    now = timezone.now()
    CardLoad.objects.filter(pk=load.pk).update(state=LoadState.PAID, paid_at=now, intent_id=paid.intent_id, updated_at=now)
    card = Card.objects.select_for_update().get(pk=load.card_id)
    if card.state == CardState.PENDING:
        card.state, card.issued_at = CardState.ACTIVE, now
        if card.kind == CardKind.BEARER:
            card.expires_at = now + BEARER_VALIDITY
        card.save(update_fields=["state", "issued_at", "expires_at", "updated_at"])
    audit.record(paid.actor, "wallet.card.loaded", "wallet.card", card.pk,
                 {"load": str(load.pk), "amount_fen": paid.amount_fen, "intent": str(paid.intent_id)})


def load_refunded(refunded: payables.Refunded) -> None:
    """The cashier took a refund of a load back off the card (the card's flag refuses it if it was spent)."""
    load = _load(refunded.ref)
    if load is not None:
        audit.record(refunded.actor, "wallet.card.load_refunded", "wallet.card", load.card_id,
                     {"load": str(load.pk), "amount_fen": refunded.amount_fen})


def tender_account(payer_user_id: uuid.UUID | None, instrument: str) -> uuid.UUID:
    """The ledger account of the payer's spendable card ``instrument`` (its number); 404 for anyone else's card,
    an unbound bearer card, one not yet paid, or an expired one."""
    card = Card.objects.filter(number=instrument.strip(), holder_id=payer_user_id, state=CardState.ACTIVE).first()
    if payer_user_id is None or card is None or (card.expires_at is not None and card.expires_at <= timezone.now()):
        raise NotFound("没有这张可用的电子卡", "No such spendable e-card")
    return card.account_id


def register() -> None:
    payables.register_kind(payables.PayableKind(LOAD_KIND, "电子卡购买/充值", "E-card purchase or recharge",
                                                load_payable, load_paid, load_refunded))
    payables.register_tender(payables.TenderSource("ecard", "电子卡", "E-card", tender_account))
