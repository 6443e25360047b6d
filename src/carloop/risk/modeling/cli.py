"""``risk train`` / ``risk evaluate``: the argument parsing and output, shared by ``carloop risk``.

Exit codes: 0 success, 2 bad input (unknown target column, single-class target, malformed CSV, ...).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from . import artifacts
from .data import DataError, load_csv
from .metrics import CostMatrix
from .models import ScoreScale

EXIT_BAD_INPUT = 2


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", required=True)
    tr = sub.add_parser("train", help="cross-validate and train a model on a CSV with a header")
    tr.add_argument("--data", required=True, type=Path)
    tr.add_argument("--target", required=True)
    tr.add_argument("--bad-value", required=True)
    tr.add_argument("--model", choices=["scorecard", "gbm", "blend"], default="scorecard")
    tr.add_argument("--cv", type=int, default=10, help="outer folds")
    tr.add_argument("--repeats", type=int, default=1)
    tr.add_argument("--inner-cv", type=int, default=5, help="inner folds for the cost threshold")
    tr.add_argument("--cost-bad-as-good", type=float, default=None)
    tr.add_argument("--cost-good-as-bad", type=float, default=None)
    tr.add_argument("--base-score", type=int, default=600)
    tr.add_argument("--base-odds", type=int, default=50)
    tr.add_argument("--pdo", type=int, default=20)
    tr.add_argument("--labels", type=Path, default=None, help='JSON {"column": ["中文", "English"]}')
    tr.add_argument("--seed", type=int, default=42)
    tr.add_argument("--jobs", type=int, default=1)
    tr.add_argument("--out", type=Path, default=None)
    tr.add_argument("--json", action="store_true")
    ev = sub.add_parser("evaluate", help="score a holdout CSV with a trained model")
    ev.add_argument("--model", required=True, type=Path, help="model directory")
    ev.add_argument("--data", required=True, type=Path)
    ev.add_argument("--target", required=True)
    ev.add_argument("--bad-value", required=True)
    ev.add_argument("--cost-bad-as-good", type=float, default=None)
    ev.add_argument("--cost-good-as-bad", type=float, default=None)
    ev.add_argument("--json", action="store_true")


def _costs(args: argparse.Namespace) -> CostMatrix | None:
    if args.cost_bad_as_good is None and args.cost_good_as_bad is None:
        return None
    return CostMatrix(
        bad_as_good=5.0 if args.cost_bad_as_good is None else args.cost_bad_as_good,
        good_as_bad=1.0 if args.cost_good_as_bad is None else args.cost_good_as_bad,
    )


def _labels(path: Path | None) -> dict[str, tuple[str, str]]:
    if path is None:
        return {}
    try:
        raw = json.loads(path.read_text())
        return {str(k): (str(v[0]), str(v[1])) for k, v in raw.items()}
    except (OSError, ValueError, TypeError, IndexError, AttributeError) as exc:
        raise DataError("bad-labels", f"标签文件无效：{exc}", f"Invalid labels file: {exc}") from exc


def run(args: argparse.Namespace, stdout: TextIO | None = None, stderr: TextIO | None = None) -> int:
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    try:
        if args.action == "train":
            dataset = load_csv(args.data, args.target, args.bad_value)
            dataset.labels = _labels(args.labels)
            out = args.out or Path("var/risk-models") / artifacts.safe_dirname(f"{args.model}-{args.data.stem}")
            result = artifacts.train(
                dataset, args.model, out,
                k=args.cv, repeats=args.repeats, costs=_costs(args), inner_k=args.inner_cv,
                scale=ScoreScale(args.base_score, args.base_odds, args.pdo), seed=args.seed, n_jobs=args.jobs,
            )  # fmt: skip
            doc = result.as_json()
        else:
            model = artifacts.load(args.model)
            doc = artifacts.evaluate(model, args.data, args.target, args.bad_value, _costs(args))
    except DataError as exc:
        if getattr(args, "json", False):
            stderr.write(json.dumps({"error": exc.slug, "detail": exc.en, "detail_zh": exc.zh}, ensure_ascii=False) + "\n")
        else:
            stderr.write(f"error: {exc.en}\n错误：{exc.zh}\n")
        return EXIT_BAD_INPUT
    if args.json:
        stdout.write(json.dumps(doc, ensure_ascii=False) + "\n")
    else:
        for key, value in doc.items():
            stdout.write(f"{key:>12}: {value}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="risk", description="carloop risk models")
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
