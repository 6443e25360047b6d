"""Pages and API endpoints hold no role checks (docs/conventions.md, "Authorization"): authorization lives in the
app's selectors (reads) and services (commands), so a page, an API call and a CLI command get one answer from one
check. An edge may ask a selector predicate (``selectors.may_review(subject)``) which buttons to show, never the
caller's roles or memberships themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

from tests.test_reads_start_from_selectors import SRC, edge_modules

ROLE_CHECKS = {"require_role", "has_role", "require_customer", "in_org", "org_ids"}  # Subject's checks
ROLE_FACTS = {"roles", "memberships"}  # what those checks read


def role_checks(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in ROLE_CHECKS:
            found.add(f"{ast.unparse(node.func)}() line {node.lineno}")
        elif isinstance(node, ast.Attribute) and node.attr in ROLE_FACTS:
            found.add(f"{ast.unparse(node)} line {node.lineno}")
    return found


def test_api_and_views_hold_no_role_checks() -> None:
    offending = {p.relative_to(SRC).as_posix(): sorted(found) for p in edge_modules() if (found := role_checks(p))}
    assert not offending, f"check in the app's services or selectors (or ask a selector predicate): {offending}"


def test_the_check_sees_role_checks_and_role_reads(tmp_path: Path) -> None:
    module = tmp_path / "views.py"
    module.write_text(
        "def page(request):\n"
        "    subject = subject_of(request)\n"
        "    subject.require_role('ops')\n"
        "    if subject.has_role('finance_ops') or subject.in_org(org, 'store_manager'):\n"
        "        return sorted(subject.roles), subject_of(request).memberships\n"
        "    return selectors.may_review(subject), subject.require_authenticated()\n",
        encoding="utf-8")
    assert role_checks(module) == {
        "subject.require_role() line 3", "subject.has_role() line 4", "subject.in_org() line 4",
        "subject.roles line 5", "subject_of(request).memberships line 5"}
