"""``carloop risk train|evaluate|synthetic|builtin|snapshot|register|promote|models``.

``train`` and ``evaluate`` work on any CSV with a header (see ``carloop.risk.modeling.cli``); bad input exits
with status 2 and a bilingual message. ``synthetic`` writes the platform's synthetic training snapshot,
``builtin`` retrains the shipped platform scorecard (``risk/builtin_model/``) from it,
``register`` puts a trained model directory into the registry and ``promote`` makes it champion or challenger
(as a named risk analyst).
"""

from __future__ import annotations

import json
from argparse import Namespace
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from carloop.risk.modeling import cli


class Command(BaseCommand):
    help = "Risk models: train / evaluate on a CSV, synthetic platform data, registry (register, promote, models)"

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)
        sub = next(a for a in parser._actions if a.dest == "action")
        syn = sub.add_parser("synthetic", help="write the synthetic platform training snapshot as CSV")  # type: ignore[attr-defined]
        syn.add_argument("--out", type=Path, required=True)
        syn.add_argument("--rows", type=int, default=4000)
        syn.add_argument("--seed", type=int, default=11)
        bui = sub.add_parser("builtin", help="retrain the shipped platform scorecard from the synthetic snapshot")  # type: ignore[attr-defined]
        bui.add_argument("--out", type=Path, default=None, help="directory to write (default: the shipped risk/builtin_model)")
        reg = sub.add_parser("register", help="register a trained model directory")  # type: ignore[attr-defined]
        reg.add_argument("path", type=Path)
        reg.add_argument("--by", required=True, help="username of the risk analyst")
        pro = sub.add_parser("promote", help="make a registered version champion, challenger or retired")  # type: ignore[attr-defined]
        pro.add_argument("version")
        pro.add_argument("--role", choices=["champion", "challenger", "retired"], required=True)
        pro.add_argument("--by", required=True, help="username of the risk analyst")
        sub.add_parser("models", help="list registered model versions")  # type: ignore[attr-defined]
        snap = sub.add_parser("snapshot", help="write a point-in-time training CSV from decisions with observed outcomes")  # type: ignore[attr-defined]
        snap.add_argument("--out", type=Path, required=True)

    def _analyst(self, username: str) -> str:
        from django.contrib.auth import get_user_model

        from carloop.identity.selectors import subject_for_user
        from carloop.risk.selectors import may_analyse

        user = get_user_model().objects.filter(username=username).first()
        if user is None or not may_analyse(subject_for_user(user)):
            raise CommandError(f"{username} is not a risk analyst / 不是风控分析师")
        return f"user:{user.pk}"

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action in ("train", "evaluate"):
            code = cli.run(Namespace(**options), self.stdout, self.stderr)  # type: ignore[arg-type]  # OutputWrapper is a TextIO
            if code:
                raise SystemExit(code)
            return
        from carloop.risk import platform_model, services
        from carloop.risk.models import ModelVersion

        if action == "synthetic":
            path = platform_model.write_training_csv(options["out"], options["rows"], options["seed"])
            self.stdout.write(f"{path}")
        elif action == "builtin":
            self.stdout.write(f"{platform_model.write_builtin(options['out'] or platform_model.BUILTIN_DIR)}")
        elif action == "snapshot":
            self.stdout.write(json.dumps({"rows": services.training_snapshot(options["out"]), "out": str(options["out"])}))
        elif action == "register":
            mv = services.register_model(options["path"], actor=self._analyst(options["by"]))
            self.stdout.write(json.dumps({"version": mv.version, "role": mv.role}))
        elif action == "promote":
            found = ModelVersion.objects.filter(version=options["version"]).first()
            if found is None:
                raise CommandError(f"unknown model version {options['version']}")
            promoted = services.promote_model(found, options["role"], actor=self._analyst(options["by"]))
            self.stdout.write(json.dumps({"version": promoted.version, "role": promoted.role}))
        else:
            for mv in ModelVersion.objects.all():
                self.stdout.write(f"{mv.version:50} {mv.role:10} auc={mv.metrics.get('auc')} {mv.artifact_path}")
