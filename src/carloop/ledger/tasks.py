"""Background tasks of the ledger."""

from __future__ import annotations

from django_tasks import task

from carloop.ledger import services


@task()
def void_expired_pendings() -> int:
    """Release holds whose timeout passed (every 5 minutes via core.periodic, or ``carloop ledger expire``)."""
    return services.void_expired_pendings()
