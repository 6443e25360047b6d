"""Finance commands, one module per subdomain; callers use ``carloop.finance.services`` (this package).

- ``products``: loan products and their versions, funding plans, offer rates and schedules, funders' capital.
- ``origination``: applications and decisions, review, offers, e-signature, disbursement, pledges, cancellation.
- ``repayments``: the cashier's payable kind ``finance.repayment`` (the borrower pays at the cashier, or binds a card
  the COB debits).
- ``collections``: finance operations' contacts with delinquent borrowers and promises to pay.
- ``closing``: finance operations' rerun of a failed close of business.
- ``servicing``: booking repayments, prepayment, payoff quotes and payoff, write-off, unwinding a refunded order's loan.

Every money movement is a ledger transfer in the same transaction as the change."""

from carloop.finance.services.closing import rerun_cob
from carloop.finance.services.collections import record_collection_contact
from carloop.finance.services.origination import (
    CONSENT,
    CONSENT_TEXT,
    SIGNATURE_STATEMENT,
    ApplicationInput,
    accept_offer,
    apply,
    apply_risk_review,
    order_refunded,
    review,
    set_pledge_status,
)
from carloop.finance.services.products import (
    call_capital,
    create_funding_plan,
    create_product,
    new_product_version,
    offer_schedule,
)
from carloop.finance.services.repayments import (
    REPAYMENT_KIND,
    as_of,
    bind_debit_card,
    pay_at_cashier,
    ref_for,
    withhold_prefix,
)
from carloop.finance.services.servicing import (
    LOWER_INSTALLMENT,
    OPEN,
    SHORTER_TERM,
    book_repayment,
    bucket_for,
    payoff_quote,
    principal_shares,
    unwind,
    write_off,
)

__all__ = [
    "CONSENT", "CONSENT_TEXT", "LOWER_INSTALLMENT", "OPEN", "REPAYMENT_KIND", "SHORTER_TERM", "SIGNATURE_STATEMENT", "ApplicationInput", "accept_offer",
    "apply", "apply_risk_review", "as_of", "bind_debit_card", "book_repayment", "bucket_for", "call_capital", "create_funding_plan",
    "create_product", "new_product_version", "offer_schedule", "order_refunded", "pay_at_cashier", "payoff_quote", "principal_shares",
    "record_collection_contact", "ref_for", "rerun_cob", "review", "set_pledge_status", "unwind", "withhold_prefix", "write_off",
]
