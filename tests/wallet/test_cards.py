"""E-cards: bought through the cashier (the money lands on the card's flagged ledger account), bearer cards bound by
number and secret code with throttling, spent as the cashier's ``ecard`` tender, and the MOFCOM limits."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from carloop.core.authz import Subject
from carloop.core.errors import Problem
from carloop.identity import selectors as identity
from carloop.identity import services as identity_services
from carloop.payments import services as cashier
from carloop.payments.services import TenderRequest
from carloop.payments.simulator import pay_in_full
from carloop.wallet import services
from carloop.wallet.models import BindAttempt, Card, CardKind, CardProduct, CardState, LoadState
from tests.harness import operator, status_of
from tests.payments.conftest import KIND, Bills
from tests.wallet.conftest import assert_ledger_holds, balance, bought

pytestmark = pytest.mark.django_db


def test_buying_a_named_card_funds_its_ledger_account(products: dict[str, CardProduct], buyer: Subject) -> None:
    card = bought(buyer, products["named"])
    assert (card.state, card.kind, card.holder_id) == (CardState.ACTIVE, CardKind.NAMED, buyer.user_id)
    assert balance(card) == 200_000
    assert card.loads.get().state == LoadState.PAID
    assert card.expires_at is None  # named cards never expire
    assert_ledger_holds()


def test_a_bearer_card_is_spendable_only_once_bound_and_wrong_codes_are_throttled(
        products: dict[str, CardProduct], buyer: Subject, friend: Subject, bills: Bills) -> None:
    card = bought(buyer, products["bearer"], code="20261205")
    assert card.holder_id is None and balance(card) == 50_000
    assert card.expires_at is not None and card.expires_at - timezone.now() >= timedelta(days=3 * 365)
    assert card.code_sealed == "20261205" and "20261205" not in card.code_hash  # the buyer may read it; stored hashed
    with pytest.raises(Problem) as unbound:  # nobody spends an unbound bearer card
        services.tender_account(buyer.user_id, card.number)
    assert unbound.value.status == 404
    for _ in range(services.USER_FAILURES):
        assert status_of(lambda: services.bind(friend, number=card.number, code="00000000", actor=friend.ref)) == 422
    with pytest.raises(Problem) as throttled:  # even the right code waits now
        services.bind(friend, number=card.number, code="20261205", actor=friend.ref)
    assert throttled.value.status == 429 and throttled.value.headers["Retry-After"] == "900"
    card.refresh_from_db()
    assert card.holder_id is None
    BindAttempt.objects.filter(user_id=friend.user_id).update(created_at=timezone.now() - timedelta(minutes=16))
    bound = services.bind(friend, number=card.number, code="20261205", actor=friend.ref)
    assert bound.holder_id == friend.user_id and bound.code_sealed is None
    assert status_of(lambda: services.bind(buyer, number=card.number, code="20261205", actor=buyer.ref)) == 422
    bill = bills.add(friend.user_id, 30_000)
    intent = cashier.create_intent(kind=KIND, ref=bill.ref, subject=friend, actor=friend.ref)
    intent = cashier.confirm(intent_id=intent.pk, subject=friend, tenders=[TenderRequest("ecard", 30_000, card.number)],
                             method="simulator", actor=friend.ref)
    assert intent.state == "succeeded"
    assert balance(card) == 20_000 and bills.bills[bill.ref].paid == [30_000]
    assert_ledger_holds()


def test_many_callers_guessing_one_card_are_throttled_on_the_card(products: dict[str, CardProduct], buyer: Subject) -> None:
    card = bought(buyer, products["bearer"], code="11112222")
    BindAttempt.objects.bulk_create([BindAttempt(user_id=uuid.uuid4(), card_number=card.number)  # ten other callers
                                     for _ in range(services.CARD_FAILURES)])
    assert status_of(lambda: services.bind(buyer, number=card.number, code="11112222", actor=buyer.ref)) == 429


def test_spending_a_named_card_at_the_cashier_never_overdraws_it(
        products: dict[str, CardProduct], buyer: Subject, friend: Subject, bills: Bills) -> None:
    card = bought(buyer, products["named"])
    bill = bills.add(buyer.user_id, 250_000)
    intent = cashier.create_intent(kind=KIND, ref=bill.ref, subject=buyer, actor=buyer.ref)
    with pytest.raises(Problem) as short:  # 2,500 yuan from a 2,000 yuan card
        cashier.confirm(intent_id=intent.pk, subject=buyer, tenders=[TenderRequest("ecard", 250_000, card.number)],
                        method="simulator", actor=buyer.ref)
    assert short.value.status == 409
    assert balance(card) == 200_000
    intent = cashier.confirm(intent_id=intent.pk, subject=buyer, tenders=[TenderRequest("ecard", 200_000, card.number)],
                             method="simulator", actor=buyer.ref)
    assert intent.state == "processing"  # the card's 2,000 held, 500 to pay at the provider
    assert intent.tenders.get(kind="ecard").state == "held"
    other = bills.add(friend.user_id, 10_000)  # someone else's card is nobody's tender but its holder's
    theirs = cashier.create_intent(kind=KIND, ref=other.ref, subject=friend, actor=friend.ref)
    assert status_of(lambda: cashier.confirm(intent_id=theirs.pk, subject=friend,
                                             tenders=[TenderRequest("ecard", 10_000, card.number)], method="simulator",
                                             actor=friend.ref)) == 404
    assert_ledger_holds()


def test_limits_are_enforced(products: dict[str, CardProduct], buyer: Subject) -> None:
    ops = operator("ops")
    assert status_of(lambda: services.create_product(ops, code="big-bearer", kind="bearer", name_zh="大额卡", name_en="Big",
                                                     face_value_fen=100_001)) == 422
    assert status_of(lambda: services.create_product(ops, code="big-named", kind="named", name_zh="大额卡", name_en="Big",
                                                     face_value_fen=500_001)) == 422
    assert status_of(lambda: services.create_product(buyer, code="mine", kind="named", name_zh="卡", name_en="Card",
                                                     face_value_fen=100)) == 403
    assert services.create_product(ops, code="named-5000", kind="named", name_zh="记名卡 5000 元", name_en="Named 5,000",
                                   face_value_fen=500_000).face_value_fen == 500_000
    card = bought(buyer, products["named"])  # 2,000 on it
    assert services.recharge(buyer, number=card.number, amount_fen=200_000, actor=buyer.ref).amount_fen == 200_000
    with pytest.raises(Problem) as over:  # 2,000 + 2,000 awaiting + 1,000.01 > 5,000
        services.recharge(buyer, number=card.number, amount_fen=100_001, actor=buyer.ref)
    assert over.value.status == 422 and over.value.slug == "card-limit-exceeded"
    bearer = bought(buyer, products["bearer"])
    assert status_of(lambda: services.recharge(buyer, number=bearer.number, amount_fen=100, actor=buyer.ref)) == 404
    assert Card.objects.get(pk=card.pk).loads.count() == 2
    assert_ledger_holds()


def test_a_recharge_is_paid_at_the_cashier(products: dict[str, CardProduct], buyer: Subject) -> None:
    card = bought(buyer, products["named"])
    load = services.recharge(buyer, number=card.number, amount_fen=300_000, actor=buyer.ref)
    assert pay_in_full(kind=services.LOAD_KIND, ref=load.ref, subject=buyer).state == "succeeded"
    assert balance(card) == 500_000
    assert status_of(lambda: services.recharge(buyer, number=card.number, amount_fen=1, actor=buyer.ref)) == 422
    assert_ledger_holds()


def test_a_named_card_needs_a_real_name(products: dict[str, CardProduct]) -> None:
    user = identity_services.register_customer(phone="13912340000", password="Tr0ub4dour&3x", display_name="未实名")
    subject = identity.subject_for_user(user)
    assert status_of(lambda: services.buy(subject, product_code="named-2000", actor=subject.ref)) == 403
    assert services.buy(subject, product_code="gift-500", actor=subject.ref).amount_fen == 50_000
    assert status_of(lambda: services.buy(operator("ops"), product_code="gift-500", actor="ops")) == 403
