"""Authorization harness: every endpoint × every subject type.

Each app's tests declare ``Case`` objects for their endpoints and run them for every subject kind::

    from tests.harness import SUBJECT_KINDS, Case, run_case

    CASES = [
        Case("GET", "/api/v1/ledger/accounts/{account_id}", setup=make_account,
             expect={"finance_ops": 200, "admin": 200, "ops": 200, "anonymous": 401, "*": 404}),
    ]

    @pytest.mark.parametrize("case", CASES, ids=str)
    @pytest.mark.parametrize("kind", SUBJECT_KINDS)
    def test_authorization(actors, case, kind):
        run_case(actors, case, kind)

``setup(actors)`` creates the objects the path and body refer to (owned by ``actors.user("customer")`` or
``actors.org("store_manager")`` …) and returns the values for the path placeholders and the body template.
``expect`` maps a subject kind to the status it must get (``"*"`` for everyone not listed); a value may be a
set of acceptable statuses. Every ``Case`` registers itself; ``tests/test_authorization_coverage.py`` fails
when an endpoint in the OpenAPI schema has no case.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.test import Client

SUBJECT_KINDS = [
    "anonymous",
    "customer",
    "other_customer",
    "ops",
    "risk_analyst",
    "finance_ops",
    "admin",
    "store_manager",
    "technician",
    "supplier_staff",
    "lender_analyst",
    "enterprise_admin",
    "manufacturer_analyst",
    "dealer_staff",
]

OPERATOR_KINDS = {"ops", "risk_analyst", "finance_ops", "admin"}
ORG_KINDS = {
    "store_manager": "store",
    "technician": "store",
    "supplier_staff": "supplier",
    "lender_analyst": "funding_partner",
    "enterprise_admin": "enterprise",
    "manufacturer_analyst": "manufacturer",
    "dealer_staff": "dealer",
}

REGISTERED: list[Case] = []


@dataclass(eq=False)
class Case:
    method: str
    path: str
    expect: dict[str, int | set[int]]
    body: Any = None
    setup: Callable[[Actors], dict[str, Any]] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        REGISTERED.append(self)

    def __str__(self) -> str:
        return self.name or f"{self.method} {self.path}"

    def expected(self, kind: str) -> set[int]:
        value = self.expect.get(kind, self.expect.get("*"))
        if value is None:
            raise AssertionError(f"{self}: no expectation for {kind!r} and no '*' default")
        return value if isinstance(value, set) else {value}


def _fill(template: Any, values: dict[str, Any]) -> Any:
    if isinstance(template, str):
        return template.format(**values)
    if isinstance(template, dict):
        return {k: _fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [_fill(v, values) for v in template]
    return template


def run_case(actors: Actors, case: Case, kind: str) -> Any:
    values = case.setup(actors) if case.setup else {}
    body = _fill(case.body, values) if case.body is not None else None
    if callable(body):
        body = body(values)
    response = actors.request(kind, case.method, _fill(case.path, values), body, headers=_fill(case.headers, values))
    allowed = case.expected(kind)
    assert response.status_code in allowed, (
        f"{case} as {kind}: expected {sorted(allowed)}, got {response.status_code}: {response.content[:500]!r}"
    )
    if response.status_code >= 400:
        assert response["Content-Type"].startswith("application/problem+json"), f"{case} as {kind}: not problem+json"
    return response


class Actors:
    """Lazily created users, one per subject kind, each with an organisation where relevant and an API token."""

    def __init__(self) -> None:
        self._users: dict[str, Any] = {}
        self._tokens: dict[str, str] = {}
        self._orgs: dict[str, Any] = {}

    def user(self, kind: str) -> Any:
        if kind == "anonymous":
            return None
        if kind not in self._users:
            self._users[kind] = self._make(kind)
        return self._users[kind]

    def org(self, kind: str) -> Any:
        """The organisation the org-member ``kind`` belongs to."""
        self.user(kind)
        return self._orgs[kind]

    def token(self, kind: str) -> str:
        self.user(kind)
        return self._tokens[kind]

    def _make(self, kind: str) -> Any:
        from carloop.core.seeding import SeedContext, fake_id_number, fake_uscc
        from carloop.identity import services
        from carloop.identity.kyc import SimulatorProvider

        suffix = uuid.uuid4().hex[:8]
        if kind in {"customer", "other_customer"}:
            phone = f"139{int(suffix, 16) % 10**8:08d}"
            user = services.register_customer(phone=phone, password="Tr0ub4dour&3x", display_name=f"{kind}-{suffix}")
            ctx = SeedContext(scale="demo", stdout=None, quiet=True, seed=int(suffix, 16))  # type: ignore[arg-type]
            id_number = fake_id_number(ctx, 25, 45)
            SimulatorProvider.enrol("测试用户", id_number)  # the simulated KYC provider knows this person
            services.verify_kyc(user, real_name="测试用户", id_number=id_number, city="北京市")
        elif kind in OPERATOR_KINDS:
            user = services.create_staff_user(username=f"{kind}-{suffix}", password="Tr0ub4dour&3x", platform_roles=(kind,))
        elif kind in ORG_KINDS:
            ctx = SeedContext(scale="demo", stdout=None, quiet=True, seed=int(suffix, 16))  # type: ignore[arg-type]
            org = services.create_organisation(kind=ORG_KINDS[kind], name=f"{ORG_KINDS[kind]} {suffix}", uscc_code=fake_uscc(ctx))
            user = services.create_staff_user(username=f"{kind}-{suffix}", password="Tr0ub4dour&3x")
            services.add_member(organisation_id=org.pk, user=user, role=kind)
            self._orgs[kind] = org
        else:
            raise ValueError(f"unknown subject kind {kind!r}")
        self._tokens[kind], _ = services.create_token(user, "tests")
        return user

    def client(self, kind: str) -> Client:
        if kind == "anonymous":
            return Client()
        return Client(headers={"Authorization": f"Bearer {self.token(kind)}"})

    def request(self, kind: str, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None) -> Any:
        client = self.client(kind)
        kwargs: dict[str, Any] = {"headers": headers or {}}
        if body is not None:
            kwargs |= {"data": json.dumps(body), "content_type": "application/json"}
        return getattr(client, method.lower())(path, **kwargs)


def sent_code(phone: str) -> str:
    """The one-time code in the latest SMS the simulator backend delivered to ``phone``."""
    import re

    from carloop.core import notifications

    match = re.search(r"\b(\d{6})\b", notifications.simulator_inbox(phone)[-1].en)
    assert match is not None, "no code was sent"
    return match.group(1)


def signup_code(phone: str, client_ip: str = "127.0.0.1") -> str:
    """Request a sign-up code for ``phone`` and read it from what the simulator SMS backend delivered."""
    from carloop.identity import services

    services.send_signup_code(phone=phone, client_ip=client_ip)
    return sent_code(services.normalize_phone(phone))


def status_of(command: Callable[[], object]) -> int:
    """The status of the problem ``command`` raises (a service or selector refusing its caller: 401, 403, 404 …)."""
    from carloop.core.errors import Problem

    try:
        command()
    except Problem as problem:
        return problem.status
    raise AssertionError("no problem raised")


def operator(*roles: str) -> Any:
    """An operator subject holding ``roles``, with no user behind it (for service tests that need no database user)."""
    from carloop.core.authz import Subject

    return Subject(kind="operator", user_id=uuid.uuid4(), roles=frozenset(roles))
