"""Background tasks of identity."""

from __future__ import annotations

from django_tasks import task

from carloop.identity import services


@task()
def retry_pending_kyc() -> int:
    """Ask the KYC provider again about unanswered checks (every 5 minutes via core.periodic)."""
    return services.retry_pending_kyc()
