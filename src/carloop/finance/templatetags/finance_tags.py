"""Rate display (APRs as percentages with four places, monthly rates derived from annual ones) and durations."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django import template

register = template.Library()
PLACES = Decimal("0.0001")


@register.filter
def percent(value: Decimal | str | None, places: int = 4) -> str:
    """``Decimal("0.0699")`` → ``"6.9900%"`` (``|percent:2`` → ``"6.99%"``)."""
    if value in (None, ""):
        return "—"
    return f"{(Decimal(str(value)) * 100).quantize(Decimal(1).scaleb(-int(places)), rounding=ROUND_HALF_UP)}%"


@register.filter
def monthly(value: Decimal | str | None) -> str:
    """An annual rate shown as its monthly rate (annual / 12), less prominent than the APR by design."""
    if value in (None, ""):
        return "—"
    return f"{(Decimal(str(value)) * 100 / 12).quantize(PLACES, rounding=ROUND_HALF_UP)}%"


@register.filter
def elapsed(value: timedelta | None) -> str:
    """A duration as ``1 h 02 min 05 s`` / ``2 min 05 s`` / ``0.4 s``; ``—`` when there is none."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"
