"""Pages and API endpoints read through their app's selectors, never a model's manager (docs/conventions.md,
"Authorization"): a query for a caller starts from a ``readable_by(subject)`` selector, so the page, the API and
the CLI show the same objects, and a command that acts for a caller takes the subject and checks it in the service.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "carloop"
MANAGERS = {"objects", "_default_manager", "_base_manager"}

def edge_modules() -> list[Path]:
    return [*sorted(p for p in SRC.glob("*/*.py") if p.name in ("api.py", "views.py")), SRC / "api.py"]


def manager_reads(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Attribute) and node.attr in MANAGERS:
            owner = node.value
            name = owner.id if isinstance(owner, ast.Name) else ast.unparse(owner)
            found.add(f"{name}.{node.attr}")
    return found


def test_api_and_views_never_query_a_model_manager() -> None:
    offending = {}
    for path in edge_modules():
        rel = path.relative_to(SRC).as_posix()
        found = manager_reads(path)
        if found:
            offending[rel] = sorted(found)
    assert not offending, f"read through the app's selectors instead: {offending}"


def test_the_check_sees_a_manager_read(tmp_path: Path) -> None:
    module = tmp_path / "api.py"
    module.write_text("def view(request):\n    return Order.objects.filter(pk=1)\n", encoding="utf-8")
    assert manager_reads(module) == {"Order.objects"}
