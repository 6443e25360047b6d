"""The ``carloop`` console command: Django's management commands under friendlier names.

``carloop serve`` (gunicorn, one worker per core; ``--single-process``: waitress), ``carloop migrate``, ``carloop seed --scale demo``, ``carloop worker``,
``carloop createsuperuser``, ``carloop token create USERNAME`` and every per-app command (``carloop finance …``).
"""

from __future__ import annotations

import os
import sys

ALIASES = {"worker": ["db_worker"], "events": ["events"]}


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "carloop.settings")
    if args and args[0] in ALIASES:
        args = ALIASES[args[0]] + args[1:]
    from django.core.management import execute_from_command_line

    execute_from_command_line(["carloop", *args] if args else ["carloop", "help"])


if __name__ == "__main__":
    main()
