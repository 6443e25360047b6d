"""``carloop serve``: which server it starts and with what, from its arguments (no server is started)."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from carloop.core.management.commands import serve


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    calls: dict[str, Any] = {}
    monkeypatch.setattr(serve, "run_gunicorn", lambda options: calls.update(gunicorn=options))
    monkeypatch.setattr(serve, "run_waitress", lambda host, port, threads: calls.update(waitress=(host, port, threads)))
    monkeypatch.setattr(serve, "cores", lambda: 3)
    return calls


def _serve(*args: str) -> str:
    out = StringIO()
    call_command("serve", *args, stdout=out)
    return out.getvalue()


def test_production_default_is_gunicorn_with_one_worker_per_core(started: dict[str, Any]) -> None:
    out = _serve("--host", "0.0.0.0", "--port", "9000")
    options = started["gunicorn"]
    assert "waitress" not in started
    assert options["bind"] == "0.0.0.0:9000"
    assert options["workers"] == 3
    assert options["threads"] == serve.THREADS_PER_WORKER
    assert options["worker_class"] == "gthread"
    assert options["preload_app"] is True
    assert "3 workers" in out


def test_workers_and_threads_override_the_defaults(started: dict[str, Any]) -> None:
    _serve("--workers", "5", "--threads", "2")
    assert started["gunicorn"]["workers"] == 5
    assert started["gunicorn"]["threads"] == 2


def test_single_process_serves_with_waitress(started: dict[str, Any]) -> None:
    out = _serve("--single-process", "--port", "8001")
    assert started == {"waitress": ("127.0.0.1", 8001, serve.THREADS_SINGLE_PROCESS)}
    assert "1 process" in out
    _serve("--single-process", "--threads", "3")
    assert started["waitress"][2] == 3


@pytest.mark.parametrize(
    "args",
    [("--workers", "0"), ("--workers", "-2"), ("--threads", "0"), ("--single-process", "--workers", "2")],
)
def test_bad_arguments_are_refused_before_anything_starts(started: dict[str, Any], args: tuple[str, ...]) -> None:
    with pytest.raises(CommandError):
        _serve(*args)
    assert started == {}


def test_core_count_is_at_least_one() -> None:
    assert serve.cores() >= 1


def test_gunicorn_accepts_every_option() -> None:
    from gunicorn.config import Config

    cfg = Config()
    for key, value in serve.gunicorn_options("127.0.0.1", 8000, 2, 4).items():
        cfg.set(key, value)
    assert cfg.workers == 2
    assert cfg.threads == 4
    assert cfg.control_socket_disable is True
