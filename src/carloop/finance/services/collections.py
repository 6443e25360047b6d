"""Collections: finance operations record their contacts with delinquent borrowers and the promises to pay."""

from __future__ import annotations

import uuid
from datetime import date

from django.db import transaction

from carloop.core import audit
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Invalid
from carloop.finance import selectors
from carloop.finance.models import CollectionNote
from carloop.finance.services.servicing import loan_acted_on


@transaction.atomic
def record_collection_contact(subject: Subject, loan_id: uuid.UUID, *, channel: str, outcome: str, note: str = "",
                              promised_amount_fen: int | None = None, promised_on: date | None = None, key: str,
                              today: date) -> CollectionNote:
    """Finance operations record a contact with the borrower of a delinquent loan (and a promise to pay: amount and
    date, both required then). ``key`` is the form's one-time key: the same key records once."""
    loan = loan_acted_on(subject, loan_id, selectors.works_collections)
    found = CollectionNote.objects.filter(key=key).first()
    if found is not None:
        if found.loan_id != loan.pk or found.recorded_by != subject.ref:
            raise Conflict("collection-key-taken", "该表单已提交过，请刷新页面", "This form was sent already: reload the page")
        return found
    errors = []
    if channel not in CollectionNote.Channel.values:
        errors.append(FieldError("/channel", "请选择联系方式", "Choose how you contacted the borrower"))
    if outcome not in CollectionNote.Outcome.values:
        errors.append(FieldError("/outcome", "请选择联系结果", "Choose the outcome"))
    promised = outcome == CollectionNote.Outcome.PROMISED
    if promised and not promised_amount_fen:
        errors.append(FieldError("/promised_amount", "承诺还款须填写金额", "A promise to pay needs an amount"))
    if promised and (promised_on is None or promised_on < today):
        errors.append(FieldError("/promised_on", "承诺还款日期须为今天或之后", "The promised date must be today or later"))
    if not promised and (promised_amount_fen or promised_on):
        errors.append(FieldError("/outcome", "只有承诺还款才填写金额和日期", "Amount and date belong to a promise to pay"))
    if errors:
        raise Invalid("invalid-collection-contact", "催收记录有误", "The contact record is incomplete", errors=errors)
    row = CollectionNote.objects.create(loan=loan, channel=channel, outcome=outcome, note=note.strip()[:2000],
                                        promised_amount_fen=promised_amount_fen if promised else None,
                                        promised_on=promised_on if promised else None, recorded_by=subject.ref, key=key)
    audit.record(subject.ref, "finance.collection.contact", "finance.loan", loan.pk,
                 {"note_id": str(row.pk), "channel": channel, "outcome": outcome,
                  "promised_amount_fen": row.promised_amount_fen, "promised_on": promised_on.isoformat() if promised and promised_on else None})
    return row
