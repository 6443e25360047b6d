"""Part numbers as people type them: ``"04152-YZZA1"``, ``"04152 yzza1"`` and ``"04152YZZA1"`` are one number."""

from __future__ import annotations

import re

_NOT_ALNUM = re.compile(r"[^0-9A-Z]")


def normalise(raw: str) -> str:
    """Upper case, letters and digits only (spaces, dashes, dots and slashes dropped)."""
    return _NOT_ALNUM.sub("", (raw or "").upper())
