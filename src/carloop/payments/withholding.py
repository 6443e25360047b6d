"""Withholding (代扣): a payer binds a card with the provider once (an agreement), and the payable's owner later
asks the cashier to debit it for what is due (the COB, for a loan's instalments).

The cashier opens an intent per request (state processing, one external tender awaiting the provider, its order
number the tender's id) and, once the caller's transaction has committed, sends the debits to the provider in
batches. Nothing is booked on the request: the money is booked when the provider's verified notification (or the
query job, :func:`carloop.payments.services.recover_missing_notifications`) says the debit succeeded, through the
cashier's ordinary booking (``on_paid`` credits the payable). A failed debit (``PAYERROR``, e.g. NOTENOUGH:
insufficient funds) fails the intent and books nothing. A debit the provider never received (it answers the
query UNKNOWN) is sent again by the query job; the provider debits an order number once.
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Protocol

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from stdnum import luhn

from carloop.core import audit, payables
from carloop.core.errors import FieldError, Invalid, Problem
from carloop.core.ids import new_id
from carloop.core.pii import mask_bank_card, normalize
from carloop.ledger import services as ledger
from carloop.payments import providers
from carloop.payments.models import IntentState, PaymentIntent, Tender, TenderState, WithholdingAgreement

WITHHOLDING_TTL = timedelta(days=1)  # a debit not answered by then expires (the instalment stays due)
BATCH = 1000  # debits per request to the provider's batch withholding API

log = logging.getLogger(__name__)


class WithholdingProvider(Protocol):
    name: str
    clearing_account: str

    def sign_agreement(self, *, card_no: str) -> str: ...

    def withhold(self, debits: list[providers.Debit]) -> None: ...


_providers: dict[str, WithholdingProvider] = {}


def register(provider: WithholdingProvider) -> None:
    _providers[provider.name] = provider


def card_number(card_no: str) -> str:
    """The card's digits: 16 to 19 with a valid Luhn check digit, else a 422 at ``/card_no``."""
    digits = normalize("bank_card", card_no)
    if not digits.isdigit() or not 16 <= len(digits) <= 19 or not luhn.is_valid(digits):
        raise Invalid("invalid-card", "银行卡号无效", "Invalid bank card number",
                      [FieldError("/card_no", "银行卡号无效（16–19 位数字）", "Invalid card number (16–19 digits)")])
    return digits


def sign_agreement(*, payer_user_id: uuid.UUID, card_no: str, actor: str, provider: str = "simulator") -> payables.Agreement:
    """Bind the payer's card with the provider's withholding API; we keep the agreement and the masked card."""
    digits = card_number(card_no)
    adapter = _providers[provider]
    try:
        agreement_no = adapter.sign_agreement(card_no=digits)
    except providers.ProviderUnavailable:
        raise Problem(503, "provider-unavailable", "支付渠道暂时不可用，请稍后再试",
                      "The payment provider is unavailable; try again shortly") from None
    row = WithholdingAgreement.objects.create(payer_id=payer_user_id, provider=provider, agreement_no=agreement_no,
                                              card_masked=mask_bank_card(digits), created_by=actor)
    audit.record(actor, "payments.withholding.signed", "payments.withholding_agreement", row.pk,
                 {"provider": provider, "card": row.card_masked})
    return payables.Agreement(agreement_no=row.agreement_no, card_masked=row.card_masked)


def withhold(requests: list[payables.WithholdingRequest], *, actor: str) -> int:
    """Open an intent for what each request's payable owes now and ask the provider to debit its agreement after
    the caller's transaction commits. Skipped: an unknown agreement or one not the payer's, nothing due, a
    reference that has an intent already (a request is made once). Returns how many intents were opened."""
    if not requests:
        return 0
    agreements = {a.agreement_no: a for a in WithholdingAgreement.objects.filter(
        agreement_no__in={r.agreement_no for r in requests})}
    taken = set(PaymentIntent.objects.filter(kind__in={r.kind for r in requests}, ref__in=[r.ref for r in requests])
                .values_list("kind", "ref"))
    now = timezone.now()
    intents, tenders, debits = [], [], defaultdict(list)
    clearing: dict[str, uuid.UUID] = {}
    payables_by_ref = _lookup(requests)
    for request in requests:
        agreement = agreements.get(request.agreement_no)
        if agreement is None or (request.kind, request.ref) in taken:
            continue
        payable = payables_by_ref.get((request.kind, request.ref))
        if payable is None or payable.amount_due_fen <= 0 or payable.payer_user_id != agreement.payer_id:
            continue
        adapter = _providers[agreement.provider]
        if adapter.name not in clearing:
            clearing[adapter.name] = ledger.system_account(adapter.clearing_account).id
        intent = PaymentIntent(
            id=new_id(), kind=request.kind, ref=request.ref, payer_id=agreement.payer_id, amount_fen=payable.amount_due_fen,
            destination_account_id=payable.destination_account, merchant=payable.merchant, title_zh=payable.title_zh[:200],
            title_en=payable.title_en[:200], state=IntentState.PROCESSING, method=adapter.name,
            expires_at=now + WITHHOLDING_TTL, created_by=actor)
        tender = Tender(id=new_id(), intent=intent, position=1, kind="external", instrument=agreement.agreement_no,
                        amount_fen=intent.amount_fen, source_account_id=clearing[adapter.name],
                        state=TenderState.AWAITING, provider=adapter.name)
        tender.provider_order_no = tender.pk.hex
        taken.add((request.kind, request.ref))
        intents.append(intent)
        tenders.append(tender)
        debits[adapter.name].append(providers.Debit(agreement_no=agreement.agreement_no, order_no=tender.provider_order_no,
                                                    amount_fen=intent.amount_fen, description=intent.title_zh))
    if not intents:
        return 0
    with transaction.atomic():
        PaymentIntent.objects.bulk_create(intents)
        Tender.objects.bulk_create(tenders)
        audit.record_many(actor, "payments.intent.withholding", "payments.intent",
                          [(i.pk, {"state": i.state, "amount_fen": i.amount_fen, "method": i.method}) for i in intents])
        for name, batch in debits.items():
            transaction.on_commit(functools.partial(send, name, batch))
    return len(intents)


def _lookup(requests: list[payables.WithholdingRequest]) -> dict[tuple[str, str], payables.Payable | None]:
    """What each request's payable owes now: in one call per kind that answers many references at once."""
    out: dict[tuple[str, str], payables.Payable | None] = {}
    for name in {r.kind for r in requests}:
        kind = payables.payable_kind(name)
        if kind is None:
            continue
        refs = [r.ref for r in requests if r.kind == name]
        if kind.lookup_many is not None:
            found = kind.lookup_many(refs)
            out.update({(name, ref): found.get(ref) for ref in refs})
        else:
            out.update({(name, ref): kind.lookup(ref) for ref in refs})
    return out


def last_withholdings(*, kind: str, prefixes: list[str]) -> dict[str, payables.WithholdingAttempt]:
    """The latest intent under each reference prefix (a loan's withholdings: ``finance:loan:<id>:withhold:``)."""
    if not prefixes:
        return {}
    under = Q()
    for prefix in prefixes:
        under |= Q(ref__startswith=prefix)
    out: dict[str, payables.WithholdingAttempt] = {}
    rows = PaymentIntent.objects.filter(under, kind=kind).order_by("-created_at")
    for ref, at, amount, state in rows.values_list("ref", "created_at", "amount_fen", "state"):
        prefix = next(p for p in prefixes if ref.startswith(p))
        out.setdefault(prefix, payables.WithholdingAttempt(ref=ref, at=at, amount_fen=amount, state=state))
    return out


def send(provider: str, debits: list[providers.Debit]) -> None:
    """Send debits to the provider's batch withholding API, ``BATCH`` at a time. An unreachable provider is left
    to the query job, which sends what the provider does not know again."""
    adapter = _providers[provider]
    for start in range(0, len(debits), BATCH):
        try:
            adapter.withhold(debits[start:start + BATCH])
        except providers.ProviderUnavailable:
            log.warning("withholding: %s unreachable, %d debits left to the query job", provider, len(debits) - start)
            return


def provider(name: str) -> WithholdingProvider | None:
    return _providers.get(name)
