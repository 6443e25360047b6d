"""Commerce commands, one module per subdomain; callers use ``carloop.commerce.services`` (this package).

- ``pricing``: the configurator price of a trim with paint, options, bundle and battery plan.
- ``orders``: car orders from creation through deposit, balance, allocation and delivery to cancellation and refund.
- ``trade_in``: trade-in quotes.
- ``test_drives``: test-drive bookings.
- ``battery``: battery subscriptions (plan changes, cycles, swaps).
- ``cocreation``: co-creation campaigns with manufacturers."""

from carloop.commerce.services.battery import change_battery_plan, next_cycle_start, record_swap, roll_battery_cycles
from carloop.commerce.services.cocreation import answer_campaign, close_campaign, create_campaign
from carloop.commerce.services.orders import (
    allocate_vehicle,
    cancel,
    create_order,
    deliver,
    record_balance_paid,
    record_deposit_paid,
    record_loan_disbursed,
    schedule_delivery,
    seller_cannot_deliver,
)
from carloop.commerce.services.pricing import PriceBreakdown, price
from carloop.commerce.services.test_drives import book_test_drive, cancel_test_drive
from carloop.commerce.services.trade_in import quote_trade_in

__all__ = [
    "PriceBreakdown", "allocate_vehicle", "answer_campaign", "book_test_drive",
    "cancel", "cancel_test_drive", "change_battery_plan", "close_campaign", "create_campaign", "create_order", "deliver",
    "next_cycle_start", "price", "quote_trade_in", "record_balance_paid", "record_deposit_paid", "record_loan_disbursed",
    "record_swap", "roll_battery_cycles", "schedule_delivery", "seller_cannot_deliver",
]
