"""Finance operations watch the close of business: a failing chunk is recorded and skipped, the run stays open,
and a rerun (finance ops only, after a confirmation) works only the failed chunk's loans, once."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from carloop.core.errors import Problem
from carloop.core.models import AuditEntry
from carloop.finance import cob, services
from carloop.finance.models import CobRun, Installment, Loan
from carloop.identity import selectors as identity

from .conftest import World
from .test_cob_chunks import _book, _late_day, _penalties

pytestmark = pytest.mark.django_db


def _failing_for(monkeypatch: pytest.MonkeyPatch, broken: Loan) -> None:
    process = cob._process_chunk

    def flaky(on: Any, ids: Any) -> Any:
        result = process(on, ids)  # the chunk's work is done, then it fails: it must all roll back
        if broken.pk in ids:
            raise ValueError("instalment 3 has no due date")
        return result

    monkeypatch.setattr(cob, "_process_chunk", flaky)


def _failed_run(world: World, monkeypatch: pytest.MonkeyPatch, keep_failing: bool = False) -> tuple[list[Loan], Any, list[int]]:
    loans = _book(world)
    day = _late_day(loans[0])
    cob.run(day - timedelta(days=1), chunk_size=1)
    before = _penalties(loans)
    _failing_for(monkeypatch, loans[1])
    stats = cob.run(day, chunk_size=1)
    if not keep_failing:
        monkeypatch.undo()
    assert stats["failed_chunks"] == 1 and stats["loans"] == 2  # the chunks after the failed one went on
    return loans, day, before


def _finops(world: World) -> Any:
    return identity.subject_for_user(world.actors.user("finance_ops"))


def test_a_failing_chunk_is_recorded_rolled_back_and_the_run_left_failed(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    loans, day, before = _failed_run(world, monkeypatch)
    run = CobRun.objects.get(business_date=day)
    assert run.state == CobRun.State.FAILED and run.finished_at is None
    [failure] = run.open_failures
    assert failure["loans"] == 1 and failure["first_loan_id"] == str(loans[1].pk)
    assert failure["error"] == "ValueError: instalment 3 has no due date"
    assert list(Loan.objects.filter(cob_through=day).order_by("pk").values_list("pk", flat=True)) == [loans[0].pk, loans[2].pk]
    assert _penalties(loans)[1] == before[1], "the failed chunk's penalty rolled back with it"


def test_a_later_date_waits_while_a_chunk_still_fails(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    _, day, _ = _failed_run(world, monkeypatch, keep_failing=True)
    stats = cob.run(day + timedelta(days=1), chunk_size=1)  # the nightly job retries the failed date first
    assert stats["business_date"] == day.isoformat() and stats["failed_chunks"] == 1
    assert not CobRun.objects.filter(business_date=day + timedelta(days=1)).exists()
    run = CobRun.objects.get(business_date=day)
    assert run.passes == 2 and len(run.failures) == 2 and len(run.open_failures) == 1  # retried, failed again
    monkeypatch.undo()
    assert cob.run(day + timedelta(days=1), chunk_size=1)["loans"] == 3
    assert set(Loan.objects.values_list("cob_through", flat=True)) == {day + timedelta(days=1)}
    assert CobRun.objects.get(business_date=day).state == CobRun.State.FINISHED


def test_a_rerun_works_only_the_failed_chunk_and_is_idempotent(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    loans, day, before = _failed_run(world, monkeypatch)
    done = _penalties(loans)
    run = services.rerun_cob(_finops(world), day)
    assert run.state == CobRun.State.FINISHED and run.stats["loans"] == 3 and run.stats["chunks"] == 3
    assert run.passes == 2 and not run.open_failures and run.failures[0]["resolved_at"]
    after = _penalties(loans)
    assert after[0] == done[0] and after[2] == done[2], "loans done before the rerun are not charged again"
    assert after[1] - before[1] == done[0] - before[0] > 0, "the failed loan gets its one day of penalty"
    assert services.rerun_cob(_finops(world), day).passes == 2, "a finished date is left as it is"
    assert _penalties(loans) == after
    assert AuditEntry.objects.filter(action="finance.cob.rerun").count() == 1
    assert Installment.objects.filter(loan=loans[1], status=Installment.Status.OVERDUE).exists()


@pytest.mark.parametrize("kind", ["ops", "risk_analyst", "customer", "lender_analyst"])
def test_only_finance_ops_rerun(world: World, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    _, day, _ = _failed_run(world, monkeypatch)
    with pytest.raises(Problem) as refused:
        services.rerun_cob(identity.subject_for_user(world.actors.user(kind)), day)
    assert refused.value.status == 404
    assert CobRun.objects.get(business_date=day).state == CobRun.State.FAILED


def _client(world: World, kind: str) -> Client:
    client = Client()
    if kind != "anonymous":
        client.force_login(world.actors.user(kind))
    return client


def test_finance_ops_see_the_runs_and_rerun_after_confirming(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    loans, day, _ = _failed_run(world, monkeypatch)
    client = _client(world, "finance_ops")
    listing = client.get("/finance/cob/").content.decode()
    assert day.isoformat() in listing and "部分失败" in listing and "已完成" in listing
    assert "/finance/cob/" in client.get("/finance/ops/").content.decode()
    detail = client.get(f"/finance/cob/{day.isoformat()}/?lang=en").content.decode()
    assert "Failed chunks" in detail and "ValueError: instalment 3 has no due date" in detail and "Rerun" in detail
    asked = client.post(f"/finance/cob/{day.isoformat()}/")
    assert asked.status_code == 200 and "Confirm rerun" in asked.content.decode()  # the page stays in English
    assert CobRun.objects.get(business_date=day).state == CobRun.State.FAILED, "nothing happens before confirming"
    done = client.post(f"/finance/cob/{day.isoformat()}/", {"confirmed": "yes"})
    assert done.status_code == 302 and CobRun.objects.get(business_date=day).state == CobRun.State.FINISHED
    page = client.get(done["Location"]).content.decode()
    assert "the day is closed" in page and 'name="confirmed"' not in page and "<button" not in page.split("Failed chunks")[-1]
    assert Loan.objects.filter(cob_through=day).count() == len(loans)


@pytest.mark.parametrize("kind", ["ops", "risk_analyst", "customer", "lender_analyst"])
def test_others_neither_see_nor_rerun_runs(world: World, monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    _, day, _ = _failed_run(world, monkeypatch)
    client = _client(world, kind)
    assert client.get("/finance/cob/").status_code == 403
    assert client.get(f"/finance/cob/{day.isoformat()}/").status_code == 404
    assert client.post(f"/finance/cob/{day.isoformat()}/", {"confirmed": "yes"}).status_code == 404
    assert CobRun.objects.get(business_date=day).state == CobRun.State.FAILED
    if kind == "ops":
        assert "/finance/cob/" not in client.get("/finance/ops/").content.decode()


def test_anonymous_is_sent_to_sign_in(world: World) -> None:
    assert _client(world, "anonymous").get("/finance/cob/").status_code == 302
