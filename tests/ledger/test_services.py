"""Ledger service behaviour: transfers, idempotency, pending/post/void, linked batches, invariants."""

from __future__ import annotations

import itertools
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from carloop.core.errors import Problem
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.contracts import AccountFlags, TransferFlags, TransferSpec, transfer_uuid

pytestmark = pytest.mark.django_db

DR_LIMIT = AccountFlags.DEBITS_MUST_NOT_EXCEED_CREDITS
CR_LIMIT = AccountFlags.CREDITS_MUST_NOT_EXCEED_DEBITS


def open_(key: str, flags: AccountFlags = AccountFlags.NONE, owner: str = "") -> uuid.UUID:
    return ledger.open_account(key=f"test:{key}", name=key, code=1999, flags=flags, owner=owner).id


@pytest.fixture
def world() -> uuid.UUID:
    return ledger.system_account("external").id


@pytest.fixture
def wallet(world: uuid.UUID) -> uuid.UUID:
    """A customer wallet (credit-normal, may not go negative) funded with 1,000.00 yuan."""
    acct = open_("wallet", DR_LIMIT, owner=f"user:{uuid.uuid4()}")
    ledger.transfer(id="fund-wallet", debit=world, credit=acct, amount_fen=100_000, code=1)
    return acct


def assert_invariants() -> None:
    totals = ledger_q.totals()
    assert totals.get("CNY:debits_posted", 0) == totals.get("CNY:credits_posted", 0)
    assert totals.get("CNY:debits_pending", 0) == totals.get("CNY:credits_pending", 0)


def problem(excinfo: pytest.ExceptionInfo[Problem]) -> tuple[int, str]:
    return excinfo.value.status, excinfo.value.slug


def test_transfer_moves_money_and_balances_both_sides(world: uuid.UUID, wallet: uuid.UUID) -> None:
    shop = open_("shop", DR_LIMIT)
    result = ledger.transfer(id="pay-1", debit=wallet, credit=shop, amount_fen=12_345, code=3001, memo="订单付款")
    assert (result.amount_fen, result.kind, result.replayed) == (12_345, "single", False)
    assert ledger_q.balance(wallet).balance_fen == 100_000 - 12_345
    assert ledger_q.balance(shop).balance_fen == 12_345
    assert ledger_q.balance(world).debits_posted == 100_000
    assert_invariants()


def test_string_ids_map_deterministically_and_uuid_passes_through() -> None:
    assert transfer_uuid("order:1:pay") == transfer_uuid("order:1:pay") != transfer_uuid("order:2:pay")
    raw = uuid.uuid4()
    assert transfer_uuid(raw) == raw == transfer_uuid(str(raw))


def test_replay_returns_original_result_without_moving_money_again(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    first = ledger.transfer(id="pay-1", debit=wallet, credit=shop, amount_fen=500, code=3001, memo="first")
    again = ledger.transfer(id="pay-1", debit=wallet, credit=shop, amount_fen=500, code=3001, memo="ignored")
    assert again.replayed and again.id == first.id and again.created_at == first.created_at
    assert again.memo == "first"
    assert ledger_q.balance(shop).credits_posted == 500


def test_replay_succeeds_even_when_the_transfer_would_now_fail(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    ledger.transfer(id="all-in", debit=wallet, credit=shop, amount_fen=100_000, code=3001)
    assert ledger.transfer(id="all-in", debit=wallet, credit=shop, amount_fen=100_000, code=3001).replayed
    assert ledger_q.balance(wallet).balance_fen == 0


@pytest.mark.parametrize(
    "change",
    [{"amount_fen": 501}, {"code": 3002}, {"pending": True}, {"credit": "other"}],
)
def test_same_id_with_different_payload_is_rejected(wallet: uuid.UUID, change: dict[str, object]) -> None:
    shop, other = open_("shop"), open_("other")
    ledger.transfer(id="pay-1", debit=wallet, credit=shop, amount_fen=500, code=3001)
    kwargs: dict[str, object] = {"debit": wallet, "credit": shop, "amount_fen": 500, "code": 3001, **change}
    if kwargs["credit"] == "other":
        kwargs["credit"] = other
    with pytest.raises(Problem) as exc:
        ledger.transfer(id="pay-1", **kwargs)  # type: ignore[arg-type]
    assert problem(exc) == (422, "transfer-id-reused")
    assert ledger_q.balance(shop).credits_posted == 500
    assert ledger_q.balance(other).credits_posted == 0


def test_overdraft_of_flagged_account_is_409_and_changes_nothing(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    with pytest.raises(Problem) as exc:
        ledger.transfer(id="too-much", debit=wallet, credit=shop, amount_fen=100_001, code=3001)
    assert problem(exc) == (409, "insufficient-funds")
    assert exc.value.errors[0].pointer == "/debit"
    assert ledger_q.balance(wallet).balance_fen == 100_000
    assert ledger_q.get_transfer("too-much") is None


def test_credits_must_not_exceed_debits(world: uuid.UUID) -> None:
    receivable = open_("loan-receivable", CR_LIMIT)
    ledger.transfer(id="disburse", debit=receivable, credit=world, amount_fen=10_000, code=2001)
    ledger.transfer(id="repay-1", debit=world, credit=receivable, amount_fen=6_000, code=2002)
    with pytest.raises(Problem) as exc:
        ledger.transfer(id="repay-2", debit=world, credit=receivable, amount_fen=4_001, code=2002)
    assert problem(exc) == (409, "insufficient-funds")
    assert ledger_q.balance(receivable).balance_fen == 4_000  # debit-normal


@pytest.mark.parametrize(
    ("kwargs", "slug", "pointer"),
    [
        ({"amount_fen": 0}, "invalid-amount", "/amount"),
        ({"amount_fen": -5}, "invalid-amount", "/amount"),
        ({"code": 0}, "invalid-code", "/code"),
        ({"credit": "same"}, "same-account", "/credit"),
        ({"credit": "missing"}, "account-not-found", "/credit"),
        ({"memo": "x" * 201}, "invalid-memo", "/memo"),
        ({"timeout_seconds": 60}, "invalid-timeout", "/timeout_seconds"),
    ],
)
def test_bad_input_is_422_with_pointer(
    wallet: uuid.UUID, kwargs: dict[str, object], slug: str, pointer: str
) -> None:
    args: dict[str, object] = {"debit": wallet, "credit": open_("shop"), "amount_fen": 100, "code": 1, **kwargs}
    if args["credit"] == "same":
        args["credit"] = wallet
    elif args["credit"] == "missing":
        args["credit"] = uuid.uuid4()
    with pytest.raises(Problem) as exc:
        ledger.transfer(id="bad", **args)  # type: ignore[arg-type]
    assert problem(exc) == (422, slug)
    assert exc.value.errors[0].pointer == pointer
    assert ledger_q.get_transfer("bad") is None


def test_empty_transfer_id_is_422(wallet: uuid.UUID) -> None:
    with pytest.raises(Problem) as exc:
        ledger.transfer(id=" ", debit=wallet, credit=open_("shop"), amount_fen=1, code=1)
    assert problem(exc) == (422, "invalid-transfer-id")


def test_pending_holds_funds_then_partial_post_releases_the_rest(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    hold = ledger.transfer(id="hold", debit=wallet, credit=shop, amount_fen=60_000, code=3010, pending=True)
    bal = ledger_q.balance(wallet)
    assert (bal.balance_fen, bal.available_fen, bal.debits_pending) == (100_000, 40_000, 60_000)
    with pytest.raises(Problem) as exc:  # the hold counts against the limit
        ledger.transfer(id="spend", debit=wallet, credit=shop, amount_fen=40_001, code=3001)
    assert problem(exc) == (409, "insufficient-funds")
    posted = ledger.post_pending(id="capture", pending_id=hold.id, amount_fen=45_000)
    assert posted.kind == "post_pending" and posted.pending_id == hold.id and posted.amount_fen == 45_000
    bal = ledger_q.balance(wallet)
    assert (bal.balance_fen, bal.debits_pending) == (55_000, 0)
    assert ledger_q.balance(shop).credits_pending == 0
    assert_invariants()


def test_post_without_amount_posts_all_and_void_releases_all(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    ledger.transfer(id="h1", debit=wallet, credit=shop, amount_fen=1_000, code=3010, pending=True)
    ledger.transfer(id="h2", debit=wallet, credit=shop, amount_fen=2_000, code=3010, pending=True)
    assert ledger.post_pending(id="p1", pending_id="h1").amount_fen == 1_000
    assert ledger.void_pending(id="v2", pending_id="h2").amount_fen == 2_000
    bal = ledger_q.balance(wallet)
    assert (bal.balance_fen, bal.debits_pending) == (99_000, 0)


def test_pending_resolves_at_most_once(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    ledger.transfer(id="h", debit=wallet, credit=shop, amount_fen=1_000, code=3010, pending=True)
    ledger.post_pending(id="p", pending_id="h", amount_fen=300)
    for attempt in (
        lambda: ledger.post_pending(id="p-again", pending_id="h"),
        lambda: ledger.void_pending(id="v", pending_id="h"),
    ):
        with pytest.raises(Problem) as exc:
            attempt()
        assert problem(exc) == (409, "pending-already-resolved")
    # replaying the original post is still fine
    assert ledger.post_pending(id="p", pending_id="h", amount_fen=300).replayed
    assert ledger_q.balance(shop).credits_posted == 300


def test_post_more_than_held_and_unknown_pending_are_rejected(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    ledger.transfer(id="h", debit=wallet, credit=shop, amount_fen=1_000, code=3010, pending=True)
    with pytest.raises(Problem) as exc:
        ledger.post_pending(id="p", pending_id="h", amount_fen=1_001)
    assert problem(exc) == (422, "amount-exceeds-pending")
    with pytest.raises(Problem) as exc:
        ledger.post_pending(id="p", pending_id="nope")
    assert problem(exc) == (422, "pending-not-found")
    with pytest.raises(Problem) as exc:  # a posted transfer is not a pending one
        ledger.void_pending(id="v", pending_id="fund-wallet")
    assert problem(exc) == (422, "pending-not-found")


def test_expired_pending_cannot_be_posted_and_is_voided_by_the_sweep(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    ledger.transfer(id="h", debit=wallet, credit=shop, amount_fen=1_000, code=3010, pending=True, timeout_seconds=60)
    ledger.transfer(id="h-long", debit=wallet, credit=shop, amount_fen=500, code=3010, pending=True, timeout_seconds=3600)
    later = timezone.now() + timedelta(seconds=61)
    assert ledger.void_expired_pendings(now=later) == 1
    assert ledger.void_expired_pendings(now=later) == 0
    assert ledger_q.balance(wallet).debits_pending == 500
    with pytest.raises(Problem) as exc:
        ledger.post_pending(id="late", pending_id="h")
    assert problem(exc) == (409, "pending-already-resolved")


def test_post_after_expiry_is_refused_before_the_sweep_runs(wallet: uuid.UUID) -> None:
    from carloop.ledger.models import Transfer

    shop = open_("shop")
    hold = ledger.transfer(id="h", debit=wallet, credit=shop, amount_fen=1_000, code=3010, pending=True, timeout_seconds=1)
    Transfer.objects.filter(pk=hold.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(Problem) as exc:
        ledger.post_pending(id="late", pending_id="h")
    assert problem(exc) == (409, "pending-expired")
    assert ledger.void_pending(id="void", pending_id="h").kind == "void_pending"


def test_linked_batch_is_all_or_nothing(wallet: uuid.UUID) -> None:
    shop, fee = open_("shop"), open_("fee")
    specs = [
        TransferSpec(id="b-1", debit=wallet, credit=shop, amount_fen=90_000, code=3001),
        TransferSpec(id="b-2", debit=wallet, credit=fee, amount_fen=20_000, code=3002),  # overdraws
    ]
    with pytest.raises(Problem) as exc:
        ledger.transfer_batch(specs)
    assert problem(exc) == (409, "insufficient-funds")
    assert exc.value.errors[0].pointer == "/transfers/1/debit"
    assert ledger_q.get_transfer("b-1") is None
    assert ledger_q.balance(wallet).balance_fen == 100_000
    ok = ledger.transfer_batch(
        [specs[0], TransferSpec(id="b-2", debit=wallet, credit=fee, amount_fen=10_000, code=3002)]
    )
    assert [r.flags & TransferFlags.LINKED for r in ok] == [TransferFlags.LINKED, 0]
    assert ledger_q.balance(wallet).balance_fen == 0
    assert_invariants()


def test_batch_replay_and_partial_overlap(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    specs = [TransferSpec(id=f"r-{i}", debit=wallet, credit=shop, amount_fen=100, code=3001) for i in range(3)]
    ledger.transfer_batch(specs)
    assert all(r.replayed for r in ledger.transfer_batch(specs))
    with pytest.raises(Problem) as exc:
        ledger.transfer_batch([*specs, TransferSpec(id="r-3", debit=wallet, credit=shop, amount_fen=100, code=3001)])
    assert problem(exc) == (422, "transfer-id-reused")
    assert ledger_q.get_transfer("r-3") is None
    assert ledger_q.balance(shop).credits_posted == 300


def test_batch_can_create_and_resolve_a_hold_and_rejects_repeated_ids(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    results = ledger.transfer_batch(
        [
            TransferSpec(id="hold", debit=wallet, credit=shop, amount_fen=700, code=3010, pending=True),
            TransferSpec(id="cap", post_pending_id="hold", amount_fen=500),
        ]
    )
    assert [r.kind for r in results] == ["pending", "post_pending"]
    assert ledger_q.balance(shop).credits_posted == 500
    with pytest.raises(Problem) as exc:
        ledger.transfer_batch(
            [TransferSpec(id="dup", debit=wallet, credit=shop, amount_fen=1, code=1)] * 2
        )
    assert problem(exc) == (422, "duplicate-transfer-id")


def test_failure_inside_callers_transaction_keeps_the_callers_work(wallet: uuid.UUID) -> None:
    shop = open_("shop")
    with transaction.atomic():
        ledger.transfer(id="ok", debit=wallet, credit=shop, amount_fen=100, code=1)
        with pytest.raises(Problem):
            ledger.transfer(id="too-much", debit=wallet, credit=shop, amount_fen=10**9, code=1)
    assert ledger_q.balance(shop).credits_posted == 100


def test_open_account_is_idempotent_by_key_and_refuses_different_settings() -> None:
    a = ledger.open_account(key="finance:x", name="资金", code=2100, flags=DR_LIMIT, owner="org:1")
    assert ledger.open_account(key="finance:x", name="资金", code=2100, flags=DR_LIMIT, owner="org:1").id == a.id
    with pytest.raises(Problem) as exc:
        ledger.open_account(key="finance:x", name="资金", code=2100, flags=AccountFlags.NONE, owner="org:1")
    assert problem(exc) == (409, "account-key-conflict")
    with pytest.raises(Problem) as exc:
        ledger.open_account(key="bad", name="x", code=1, flags=DR_LIMIT | CR_LIMIT)
    assert problem(exc) == (422, "invalid-account")


def test_system_accounts_are_created_once() -> None:
    first = ledger.system_account("platform_cash")
    assert ledger.system_account("platform_cash").id == first.id
    assert first.key == "system:platform_cash" and first.code == 1001
    with pytest.raises(ValueError, match="unknown system account"):
        ledger.system_account("nope")


def test_statement_pages_newest_first_with_running_balance(world: uuid.UUID, wallet: uuid.UUID) -> None:
    shop = open_("shop")
    for i in range(5):
        ledger.transfer(id=f"s-{i}", debit=wallet, credit=shop, amount_fen=1_000 * (i + 1), code=3001)
    page = ledger_q.statement(wallet, limit=4)
    assert [line.transfer_id for line in page.lines] == [transfer_uuid(f"s-{i}") for i in (4, 3, 2, 1)]
    assert [line.balance_after_fen for line in page.lines] == [85_000, 90_000, 94_000, 97_000]
    assert all(line.side == "debit" and line.counterparty == shop for line in page.lines)
    assert page.next_cursor
    rest = ledger_q.statement(wallet, cursor=page.next_cursor, limit=4)
    assert [line.transfer_id for line in rest.lines] == [transfer_uuid("s-0"), transfer_uuid("fund-wallet")]
    assert [line.balance_after_fen for line in rest.lines] == [99_000, 100_000]
    assert rest.lines[1].side == "credit" and rest.next_cursor is None
    with pytest.raises(Problem) as exc:
        ledger_q.statement(wallet, cursor="garbage!")
    assert problem(exc) == (422, "invalid-cursor")


def test_account_lookups_for_other_apps(wallet: uuid.UUID) -> None:
    info = ledger_q.get_account(wallet)
    assert info is not None and info.flags == DR_LIMIT
    assert ledger_q.account_by_key("test:wallet") == info
    assert ledger_q.accounts_of(info.owner) == [info]
    assert ledger_q.get_account(uuid.uuid4()) is None
    with pytest.raises(Problem) as exc:
        ledger_q.balance(uuid.uuid4())
    assert problem(exc) == (404, "not-found")


def test_statement_of_a_batch_follows_the_batch_order_with_consistent_running_balances(
    world: uuid.UUID, wallet: uuid.UUID
) -> None:
    """Every line of a batch shares one created_at and their ids are uuid5 of the keys (random order): the
    statement must still list them in the order they were applied, each balance following from the last."""
    shop = open_("shop")
    keys = [f"batch-line-{i}" for i in range(12)]
    ledger.transfer_batch(
        [TransferSpec(id=key, debit=wallet, credit=shop, amount_fen=100 * (i + 1), code=3001) for i, key in enumerate(keys)]
    )
    assert sorted(transfer_uuid(k) for k in keys) != [transfer_uuid(k) for k in keys]  # ids alone would misorder
    lines = []
    cursor = None
    while True:
        page = ledger_q.statement(wallet, cursor=cursor, limit=5)
        lines += page.lines
        if not (cursor := page.next_cursor):
            break
    assert [line.transfer_id for line in lines] == [transfer_uuid(k) for k in reversed(keys)] + [transfer_uuid("fund-wallet")]
    for newer, older in itertools.pairwise(lines):
        assert newer.balance_after_fen == older.balance_after_fen - newer.amount_fen
