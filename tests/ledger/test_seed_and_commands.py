"""Demo seed is idempotent and balanced; the ``carloop ledger`` commands work."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from carloop.core.seeding import SeedContext
from carloop.ledger import selectors as ledger_q
from carloop.ledger import services as ledger
from carloop.ledger.models import Transfer
from carloop.ledger.seed import seed

pytestmark = pytest.mark.django_db


def test_seed_twice_creates_nothing_new_and_stays_balanced() -> None:
    seed(SeedContext(scale="demo", stdout=io.StringIO(), quiet=True))
    count = Transfer.objects.count()
    seed(SeedContext(scale="demo", stdout=io.StringIO(), quiet=True))
    assert Transfer.objects.count() == count > 30
    totals = ledger_q.totals()
    assert totals["CNY:debits_posted"] == totals["CNY:credits_posted"]
    suspense = ledger_q.balance(ledger.system_account("suspense").id)
    assert suspense.balance_fen > 0  # a third of the receipts are still unidentified
    assert ledger_q.balance(ledger.system_account("platform_cash").id).balance_fen > 300_000_000_00


def test_check_and_expire_commands() -> None:
    seed(SeedContext(scale="demo", stdout=io.StringIO(), quiet=True))
    out = io.StringIO()
    call_command("ledger", "check", stdout=out)
    assert "ledger balanced" in out.getvalue()
    out = io.StringIO()
    call_command("ledger", "expire", stdout=out)
    assert "voided 0" in out.getvalue()


def test_expiry_task_voids_holds_past_their_timeout() -> None:
    from datetime import timedelta

    from django.utils import timezone

    from carloop.ledger import tasks

    src, wallet = ledger.system_account("external").id, ledger.system_account("suspense").id
    hold = ledger.transfer(id="t:hold", debit=src, credit=wallet, amount_fen=100, code=1, pending=True, timeout_seconds=1)
    Transfer.objects.filter(pk=hold.id).update(expires_at=timezone.now() - timedelta(seconds=1))
    result = tasks.void_expired_pendings.enqueue()
    assert result.return_value == 1
    assert ledger_q.balance(wallet).credits_pending == 0


def test_admin_lists_accounts_and_read_only_transfers(admin_client: object) -> None:
    seed(SeedContext(scale="demo", stdout=io.StringIO(), quiet=True))
    client = admin_client  # django.test.Client logged in as a superuser
    assert client.get("/admin/ledger/account/").status_code == 200  # type: ignore[attr-defined]
    listing = client.get("/admin/ledger/transfer/")  # type: ignore[attr-defined]
    assert listing.status_code == 200 and "股东注资" in listing.content.decode()
    transfer = Transfer.objects.first()
    assert transfer is not None
    detail = client.get(f"/admin/ledger/transfer/{transfer.pk}/change/")  # type: ignore[attr-defined]
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.get("/admin/ledger/transfer/add/").status_code == 403  # type: ignore[attr-defined]
