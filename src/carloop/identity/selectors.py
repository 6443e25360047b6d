"""Identity queries, starting with who the caller is."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import F, OuterRef, QuerySet, Subquery, UUIDField, Value
from django.http import HttpRequest

from carloop.core import authz, i18n, pii
from carloop.core.authz import ANONYMOUS, Subject
from carloop.identity.contracts import CustomerFacts, OrganisationInfo
from carloop.identity.models import ApiToken, CustomerProfile, KycCheck, Membership, Organisation, PlatformRole, User


def subject_for_user(user: User | None) -> Subject:
    if user is None or not user.is_authenticated or not user.is_active:
        return ANONYMOUS
    # One round trip for both: platform roles (no organisation) and memberships of active organisations.
    platform = PlatformRole.objects.filter(user=user).annotate(org=Value(None, output_field=UUIDField()), name=F("role"))
    member = Membership.objects.filter(user=user, organisation__status=Organisation.Status.ACTIVE).annotate(
        org=F("organisation_id"), name=F("role")
    )
    roles: set[str] = set()
    memberships: dict[uuid.UUID, set[str]] = defaultdict(set)
    for org_id, role in platform.values_list("org", "name").union(member.values_list("org", "name"), all=True):
        if org_id is None:
            roles.add(role)
        else:
            memberships[org_id].add(role)
    kind: authz.SubjectKind = "operator" if roles else "org" if memberships else "customer"
    return Subject(kind=kind, user_id=user.pk, roles=frozenset(roles), memberships={k: frozenset(v) for k, v in memberships.items()})


def subject_for_login(username: str) -> Subject | None:
    """The subject of a login name (for commands run by a named operator and the demo seed); None if unknown."""
    user = User.objects.filter(username=username).first()
    return subject_for_user(user) if user is not None else None


def subject_of(request: HttpRequest) -> Subject:
    """The caller of a page or API request (session or bearer token), computed once per request."""
    cached = getattr(request, "_carloop_subject", None)
    if cached is None:
        cached = subject_for_user(getattr(request, "user", None))
        request._carloop_subject = cached  # type: ignore[attr-defined]
    return cached


@dataclass(frozen=True)
class RolesHeld:
    platform_roles: list[str]
    organisation_roles: dict[uuid.UUID, list[str]]


def roles_held(subject: Subject) -> RolesHeld:
    """The caller's own platform roles and organisation roles, sorted, for their profile."""
    return RolesHeld(sorted(subject.roles), {org: sorted(roles) for org, roles in subject.memberships.items()})


def tokens_readable_by(subject: Subject) -> QuerySet[ApiToken]:
    """A caller's API tokens are theirs alone, newest first."""
    if subject.user_id is None:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user_id=subject.user_id).order_by("-created_at")


def customer_facts(user_id: uuid.UUID | str) -> CustomerFacts | None:
    """One query: the user, the profile and the outcome of the latest provider check."""
    latest_check = KycCheck.objects.filter(profile=OuterRef("customer_profile")).order_by("-created_at").values("outcome")[:1]
    user = User.objects.filter(pk=user_id).select_related("customer_profile").annotate(latest_check=Subquery(latest_check)).first()
    if user is None:
        return None
    profile: CustomerProfile | None = getattr(user, "customer_profile", None)
    verified = profile is not None and profile.kyc_status == CustomerProfile.Kyc.VERIFIED
    return CustomerFacts(
        user_id=user.pk,
        display_name=user.display_name or user.username,
        kyc_verified=verified,
        kyc_status=profile.kyc_status if profile else CustomerProfile.Kyc.NONE,
        kyc_check=_visible_check(user.latest_check),
        real_name=profile.real_name if profile else "",
        birth_date=profile.birth_date if profile else None,
        gender=profile.gender if profile else "",
        region_code=profile.region_code if profile else "",
        city=profile.city if profile else "",
        id_index=profile.id_index if profile else None,
        phone_index=user.phone_index,
        id_number_masked=pii.mask_id(profile.id_number or "") if profile else "",
        phone_masked=pii.mask_phone(user.phone or ""),
    )


def customers_masked(user_ids: Iterable[uuid.UUID | str]) -> dict[str, str]:
    """How operators' lists name customers, in one query: the real name (else the display name) masked after its
    first character, and the masked mobile number; keyed by the user id as a string."""
    users = User.objects.filter(pk__in=set(user_ids)).select_related("customer_profile")
    out: dict[str, str] = {}
    for user in users:
        profile: CustomerProfile | None = getattr(user, "customer_profile", None)
        name = pii.mask_name((profile.real_name if profile else "") or user.display_name or user.username)
        out[str(user.pk)] = " · ".join(part for part in (name, pii.mask_phone(user.phone or "")) if part)
    return out


def staff_names(user_ids: Iterable[uuid.UUID | str]) -> dict[uuid.UUID, str]:
    """How pages name staff (operators, an organisation's members): the display name, else the login name."""
    return {user.pk: user.display_name or user.username
            for user in User.objects.filter(pk__in=set(user_ids)).only("pk", "display_name", "username")}


def actor_names(refs: Iterable[str]) -> dict[str, str]:
    """How pages name the actor of an audit entry or a record (``Subject.ref``): staff by name, in one query; any
    other actor (the system, a job, a provider, the seed) as "系统" / "System" in the page's language."""
    refs = set(refs)
    ids = {ref: ref.removeprefix("user:") for ref in refs if ref.startswith("user:")}
    valid = {}
    for ref, raw in ids.items():
        try:
            valid[ref] = uuid.UUID(raw)
        except ValueError:
            continue
    names = staff_names(valid.values())
    return {ref: names.get(valid[ref], "—") if ref in valid else i18n.t("系统", "System") for ref in refs}


def _visible_check(outcome: str | None) -> str:
    """The latest check's outcome, told uniformly: why the provider did not confirm (mismatch, no record,
    verified on another account, no answer) is for operators only, so a declaration cannot probe whose number
    is whose."""
    if outcome is None:
        return ""
    if outcome == KycCheck.Outcome.PENDING:
        return "pending"
    return "confirmed" if outcome == KycCheck.Outcome.MATCH else "not_confirmed"


def clear_pii(user_id: uuid.UUID | str) -> tuple[str, str]:
    """(phone, id_number) in clear, for services that must send an SMS or submit to a licensed partner."""
    user = User.objects.filter(pk=user_id).select_related("customer_profile").first()
    if user is None:
        return "", ""
    profile = getattr(user, "customer_profile", None)
    return user.phone or "", (profile.id_number or "") if profile else ""


def _org_info(org: Organisation) -> OrganisationInfo:
    return OrganisationInfo(id=org.pk, kind=org.kind, name=org.name, uscc=org.uscc, city=org.city, status=org.status)


def get_organisation(org_id: uuid.UUID | str) -> OrganisationInfo | None:
    org = Organisation.objects.filter(pk=org_id).first()
    return _org_info(org) if org else None


def organisations_of_kind(kind: str) -> list[OrganisationInfo]:
    return [_org_info(o) for o in Organisation.objects.filter(kind=kind, status=Organisation.Status.ACTIVE).order_by("name")]


def readable_organisations(subject: Subject) -> QuerySet[Organisation]:
    """Operators see every organisation; members see their own; everyone else none."""
    if subject.kind == "operator":
        return Organisation.objects.all()
    return Organisation.objects.filter(pk__in=subject.org_ids())


