"""Money from or to the outside world (the ledger's ``external`` account) is booked only by the cashier
(``carloop.payments``), on a provider's or the bank's word, and by the ledger itself. This fails when any other
module names the ``external`` account."""

from __future__ import annotations

import ast
from pathlib import Path

import carloop

SRC = Path(carloop.__file__).parent
MAY_BOOK_EXTERNAL = ("payments", "ledger")
# Not the account: the cashier's tender order names its one external method "external".
NOT_THE_ACCOUNT = {"core/payables.py"}
# The seller's penalty (double deposit) is still paid to the buyer from commerce: it needs the cashier's payout
# to customers (issue 13, merchant settlement and payouts).
KNOWN = {("commerce/services/orders.py", "deposit-penalty"), ("commerce/ledger_flows.py", "account_id")}


def _offenders() -> list[str]:
    found = []
    for path in sorted(SRC.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if relative.split("/")[0] in MAY_BOOK_EXTERNAL or "/migrations/" in relative or relative in NOT_THE_ACCOUNT:
            continue
        source = path.read_text(encoding="utf-8")
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Constant) and node.value == "external":
                line = source.splitlines()[node.lineno - 1]
                if not any(relative == known and (marker in line or _in_function(source, node, marker))
                           for known, marker in KNOWN):
                    found.append(f"{relative}:{node.lineno}: {line.strip()}")
    return found


def _in_function(source: str, node: ast.AST, name: str) -> bool:
    for fn in ast.walk(ast.parse(source)):
        if isinstance(fn, ast.FunctionDef) and fn.name == name and fn.lineno <= node.lineno <= (fn.end_lineno or 0):
            return True
    return False


def test_only_the_cashier_and_the_ledger_book_money_from_outside() -> None:
    assert _offenders() == []
