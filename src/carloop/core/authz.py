"""Who is calling: the subject every authorization decision starts from."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from carloop.core.errors import Forbidden, Unauthorized

SubjectKind = Literal["anonymous", "customer", "org", "operator"]

# Platform operator roles.
OPS = "ops"
RISK_ANALYST = "risk_analyst"
FINANCE_OPS = "finance_ops"
ADMIN = "admin"
OPERATOR_ROLES = (OPS, RISK_ANALYST, FINANCE_OPS, ADMIN)

# Roles inside an organisation.
STORE_MANAGER = "store_manager"
TECHNICIAN = "technician"
SUPPLIER_STAFF = "supplier_staff"
LENDER_ANALYST = "lender_analyst"
ENTERPRISE_ADMIN = "enterprise_admin"
MANUFACTURER_ANALYST = "manufacturer_analyst"
DEALER_STAFF = "dealer_staff"
ORG_ROLES = (STORE_MANAGER, TECHNICIAN, SUPPLIER_STAFF, LENDER_ANALYST, ENTERPRISE_ADMIN, MANUFACTURER_ANALYST,
             DEALER_STAFF)


@dataclass(frozen=True)
class Subject:
    kind: SubjectKind
    user_id: uuid.UUID | None = None
    roles: frozenset[str] = frozenset()
    memberships: dict[uuid.UUID, frozenset[str]] = field(default_factory=dict)

    @property
    def is_authenticated(self) -> bool:
        return self.kind != "anonymous"

    @property
    def ref(self) -> str:
        """Actor reference for events and audit: ``user:<uuid>`` or ``anonymous``."""
        return f"user:{self.user_id}" if self.user_id else "anonymous"

    def has_role(self, *roles: str) -> bool:
        """Platform role check (``admin`` holds every operator role)."""
        return bool(self.roles & set(roles)) or (ADMIN in self.roles and bool(set(roles) & set(OPERATOR_ROLES)))

    def org_ids(self, *roles: str) -> set[uuid.UUID]:
        """Organisations where the subject holds any of ``roles`` (all memberships when none given)."""
        return {org for org, held in self.memberships.items() if not roles or held & set(roles)}

    def in_org(self, org_id: uuid.UUID | str | None, *roles: str) -> bool:
        if org_id is None:
            return False
        key = org_id if isinstance(org_id, uuid.UUID) else uuid.UUID(str(org_id))
        held = self.memberships.get(key)
        return held is not None and (not roles or bool(held & set(roles)))

    def require_authenticated(self) -> None:
        if not self.is_authenticated:
            raise Unauthorized()

    def require(self, allowed: bool) -> None:
        """Anonymous → 401, everyone else not ``allowed`` (an app's predicate, e.g. ``may_review(subject)``) → 403."""
        self.require_authenticated()
        if not allowed:
            raise Forbidden()

    def require_role(self, *roles: str) -> None:
        """Operator endpoints: anonymous → 401, everyone else without the role → 403."""
        self.require(self.has_role(*roles))

    def require_customer(self, zh: str = "仅限车主用户", en: str = "Only for car-owner accounts") -> uuid.UUID:
        """Car-owner actions: anonymous → 401, staff and organisation accounts → 403 with the reason given.
        Returns the customer's user id."""
        self.require_authenticated()
        if self.kind != "customer" or self.user_id is None:
            raise Forbidden(zh, en)
        return self.user_id


ANONYMOUS = Subject(kind="anonymous")


def request_subject(request: object) -> Subject:
    """The subject identity's middleware attached to the request (anonymous when there is none)."""
    subject: Subject | None = getattr(request, "subject", None)
    return subject if subject is not None else ANONYMOUS
