"""Commerce's payable kinds for the cashier (``carloop.core.payables``): a car order's deposit and its balance in
full, or the buyer's down payment beside a disbursed loan. The cashier moves the money into ``deposits_held`` /
``balances_held``; commerce records the payment. Only the order refunds them (cancel, seller default: it asks the
cashier to refund the paying intents), so finance operations' own refund of them is refused."""

from __future__ import annotations

import uuid

from carloop.commerce import ledger_flows as flows
from carloop.commerce import services
from carloop.commerce.models import BALANCE_KIND, DEPOSIT_KIND, ORDER_REF_PREFIX, CarOrder, OrderState
from carloop.core import payables

DEPOSIT = DEPOSIT_KIND
BALANCE = BALANCE_KIND


def _order(ref: str) -> CarOrder | None:
    try:
        order_id = uuid.UUID(ref.removeprefix(ORDER_REF_PREFIX))
    except ValueError:
        return None
    return CarOrder.objects.filter(pk=order_id).first() if ref.startswith(ORDER_REF_PREFIX) else None


def _due(ref: str, payable_in: OrderState, amount: str, account: str, zh: str, en: str) -> payables.Payable | None:
    """What the order owes now: ``amount`` while it is in ``payable_in``, else nothing."""
    order = _order(ref)
    if order is None:
        return None
    due = getattr(order, amount) if order.state == payable_in else 0
    if amount == "balance_owed_fen" and order.balance_loan_fen:
        zh, en = "购车首付", "Car order down payment"
    return payables.Payable(ref=ref, amount_due_fen=due, destination_account=flows.account_id(account),
                            payer_user_id=order.customer_id, title_zh=f"{zh} {order.pk.hex[:8]}",
                            title_en=f"{en} {order.pk.hex[:8]}")


def deposit(ref: str) -> payables.Payable | None:
    return _due(ref, OrderState.CREATED, "deposit_fen", "deposits_held", "购车定金", "Car order deposit")


def balance(ref: str) -> payables.Payable | None:
    return _due(ref, OrderState.DEPOSIT_PAID, "balance_owed_fen", "balances_held", "购车尾款", "Car order balance")


def _refunded(refunded: payables.Refunded) -> None:
    """The order asked for this refund and recorded it when it closed: nothing more to record."""


def register() -> None:
    payables.register_kind(payables.PayableKind(
        DEPOSIT, "购车定金", "Car order deposit", deposit,
        lambda paid: services.record_deposit_paid(order_ref=paid.ref, amount_fen=paid.amount_fen, actor=paid.actor),
        _refunded, refunded_by_owner=True))
    payables.register_kind(payables.PayableKind(
        BALANCE, "购车尾款", "Car order balance", balance,
        lambda paid: services.record_balance_paid(order_ref=paid.ref, amount_fen=paid.amount_fen,
                                                  reference=f"payments:intent:{paid.intent_id}", actor=paid.actor),
        _refunded, refunded_by_owner=True))
