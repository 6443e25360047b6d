import pytest
from django.db import transaction

from carloop.core import locks


@pytest.mark.django_db(transaction=True)
def test_serialize_needs_a_transaction_to_hold_its_locks() -> None:
    with pytest.raises(RuntimeError):
        locks.serialize("outside")
    with transaction.atomic():
        locks.serialize("b", "a", "a")
