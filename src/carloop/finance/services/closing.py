"""Finance operations' commands on the daily close of business: rerunning a date that failed or stopped part-way."""

from __future__ import annotations

from datetime import date

from carloop.core import audit
from carloop.core.authz import Subject
from carloop.finance import selectors
from carloop.finance.models import CobRun


def rerun_cob(subject: Subject, day: date) -> CobRun:
    """Run ``day``'s COB again (finance operations): only the loans still undone for the date are worked, i.e. those
    of its failed chunks or of a run that died; a finished date is left as it is, so a repeated rerun is a no-op.
    Each chunk commits on its own (as the nightly job's), so this runs outside any transaction of the caller's."""
    from carloop.finance import cob  # cob imports this package's servicing helpers

    subject.require_authenticated()
    run = selectors.get_cob_run(subject, day)
    subject.require(selectors.runs_cob(subject))
    if run.state == CobRun.State.FINISHED:
        return run
    audit.record(subject.ref, "finance.cob.rerun", "finance.cobrun", run.pk,
                 {"business_date": day.isoformat(), "failed_chunks": len(run.open_failures), "loans_done": run.stats.get("loans", 0)})
    cob.run(day)
    run.refresh_from_db()
    return run
