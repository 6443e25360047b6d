"""``carloop serve``: the production server (gunicorn, one worker process per core) or one waitress process.

By default gunicorn serves the WSGI application with ``--workers`` processes (default: the CPU cores this
process may run on), each answering ``--threads`` requests at a time (the ``gthread`` worker, with keep-alive).
The application is imported once in the master and the workers fork from it; database connections are closed
before each fork so that no worker inherits one. ``--single-process`` serves with waitress in this process
(``--threads`` threads): the demo's mode, and the one for a platform without ``fork``.
"""

from __future__ import annotations

import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

THREADS_PER_WORKER = 4
THREADS_SINGLE_PROCESS = 8


def cores() -> int:
    """CPU cores this process may run on (its affinity mask where the platform has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def gunicorn_options(host: str, port: int, workers: int, threads: int) -> dict[str, Any]:
    return {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "preload_app": True,
        "proc_name": "carloop",
        "accesslog": None,
        "errorlog": "-",
        "control_socket_disable": True,  # gunicornc's socket is one path per user: two servers would share it
    }


def run_gunicorn(options: dict[str, Any]) -> None:
    from django.core.wsgi import get_wsgi_application
    from django.db import connections
    from gunicorn.app.base import BaseApplication

    application = get_wsgi_application()

    class Server(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)
            self.cfg.set("pre_fork", lambda server, worker: connections.close_all())

        def load(self) -> Any:
            return application

    Server().run()


def run_waitress(host: str, port: int, threads: int) -> None:
    from django.core.wsgi import get_wsgi_application
    from waitress import serve  # type: ignore[import-untyped]

    serve(get_wsgi_application(), host=host, port=port, threads=threads, ident="carloop")


class Command(BaseCommand):
    help = "Serve carloop: gunicorn with one worker process per CPU core, or --single-process (waitress) for the demo."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=None, help="worker processes (default: the number of CPU cores)")
        parser.add_argument(
            "--threads", type=int, default=None,
            help=f"requests handled at once per process (default: {THREADS_PER_WORKER} per worker, {THREADS_SINGLE_PROCESS} in one process)",
        )  # fmt: skip
        parser.add_argument("--single-process", action="store_true", help="serve with waitress in this one process (the demo)")

    def handle(
        self, *args: Any, host: str, port: int, workers: int | None, threads: int | None, single_process: bool, **options: Any
    ) -> None:
        if workers is not None and workers < 1:
            raise CommandError("--workers must be at least 1")
        if threads is not None and threads < 1:
            raise CommandError("--threads must be at least 1")
        if single_process and workers is not None:
            raise CommandError("--single-process serves in one process: leave out --workers")
        if single_process:
            threads = threads or THREADS_SINGLE_PROCESS
            self.stdout.write(f"carloop: serving on http://{host}:{port}/ (waitress, 1 process, {threads} threads; Ctrl+C to stop)")
            run_waitress(host, port, threads)
            return
        workers, threads = workers or cores(), threads or THREADS_PER_WORKER
        self.stdout.write(f"carloop: serving on http://{host}:{port}/ (gunicorn, {workers} workers × {threads} threads; Ctrl+C to stop)")
        run_gunicorn(gunicorn_options(host, port, workers, threads))
