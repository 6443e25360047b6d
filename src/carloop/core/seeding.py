"""Demo data: every app's ``seed.seed(ctx)`` runs in layer order with this context."""

from __future__ import annotations

import hashlib
import random
import time
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal, TextIO, TypeVar

from faker import Faker
from tqdm import tqdm

Scale = Literal["demo", "medium", "large"]
T = TypeVar("T")

# How many of the main objects each scale creates; apps scale their own counts from these.
SCALES: dict[str, dict[str, int]] = {
    "demo": {"customers": 300, "stores": 50, "orgs": 12},
    "medium": {"customers": 5_000, "stores": 300, "orgs": 40},
    "large": {"customers": 100_000, "stores": 3_000, "orgs": 200},
}

DEMO_PASSWORD = "carloop-demo-2026"


@dataclass
class SeedContext:
    scale: Scale
    stdout: TextIO
    seed: int = 20261122
    quiet: bool = False
    faker: Faker = field(init=False)
    rng: random.Random = field(init=False)
    logins: list[tuple[str, str]] = field(default_factory=list)  # (role description, username); password DEMO_PASSWORD
    shared: dict[str, Any] = field(default_factory=dict)
    finishing: list[tuple[str, Callable[[SeedContext], None]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.faker = Faker("zh_CN")
        self.reseed("")

    def reseed(self, label: str) -> None:
        """Start ``label``'s random streams afresh, so an app's data never depends on what other apps drew
        (a second run of an idempotent seed then draws exactly what the first run drew)."""
        derived = int.from_bytes(hashlib.sha256(f"{self.seed}:{label}".encode()).digest()[:8], "big")
        self.faker.seed_instance(derived)
        self.rng = random.Random(derived)

    def count(self, name: str) -> int:
        return SCALES[self.scale][name]

    def progress(self, items: Iterable[T], desc: str, total: int | None = None) -> Iterator[T]:
        """``items`` with a progress bar on a terminal; piped (no TTY), one plain line when they are done."""
        if self.quiet:
            return iter(items)
        if _isatty(self.stdout):
            return iter(tqdm(items, desc=desc, total=total, file=self.stdout, leave=False))
        return self._counted(items, desc)

    def _counted(self, items: Iterable[T], desc: str) -> Iterator[T]:
        started = time.perf_counter()
        done = 0
        for item in items:
            yield item
            done += 1
        self.say(f"  {desc}: {done} in {time.perf_counter() - started:.1f}s")

    def say(self, message: str) -> None:
        if not self.quiet:
            self.stdout.write(message + "\n")

    def after_all(self, label: str, step: Callable[[SeedContext], None]) -> None:
        """Run ``step`` once every app has seeded, for data that needs what the apps above made (the cashier
        reconciles the payments commerce's seed made through it)."""
        self.finishing.append((label, step))

    def finish(self) -> None:
        """The steps put off with :meth:`after_all`, each in its own transaction."""
        from django.db import transaction

        steps, self.finishing = self.finishing, []
        for label, step in steps:
            self.reseed(f"{label}:after")
            with transaction.atomic():
                step(self)

    def add_login(self, role: str, username: str) -> None:
        if (role, username) not in self.logins:
            self.logins.append((role, username))


def display_width(text: str) -> int:
    """Columns ``text`` takes on a terminal: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def login_table(logins: list[tuple[str, str]]) -> str:
    """The demo logins as the seed prints them: roles padded to one terminal width, then the login."""
    width = max(display_width(role) for role, _ in logins)
    rows = [f"  {role}{' ' * (width - display_width(role))}  {username}\n" for role, username in logins]
    return f"Demo logins, all with the password {DEMO_PASSWORD}:\n" + "".join(rows)


def _isatty(stream: TextIO | None) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def fake_id_number(ctx: SeedContext, min_age: int = 22, max_age: int = 60) -> str:
    """A resident ID number that python-stdnum accepts (faker's region codes are not all current)."""
    from stdnum.cn import ric

    while True:
        candidate = ctx.faker.ssn(min_age=min_age, max_age=max_age)  # type: ignore[call-arg]  # zh_CN provider's own arguments
        try:
            if ric.is_valid(candidate):
                return str(candidate)
        except KeyError:  # python-stdnum's region table lacks a county for some codes; draw another
            continue


_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def fake_uscc(ctx: SeedContext, region: str = "110105") -> str:
    """A unified social credit code with a valid check digit (company, registered in ``region``)."""
    from stdnum.cn import uscc

    body = "91" + region + "".join(ctx.rng.choice(_USCC_ALPHABET[:10]) for _ in range(9))
    return body + uscc.calc_check_digit(body)


def fake_mobile(ctx: SeedContext) -> str:
    return ctx.rng.choice(["138", "139", "150", "158", "186", "188", "135", "177"]) + f"{ctx.rng.randrange(10**8):08d}"
