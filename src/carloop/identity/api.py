"""Identity API: sign-up, the caller's profile and KYC, organisations and API tokens."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from django.conf import settings
from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from carloop.core import authz
from carloop.core.errors import NotFound
from carloop.core.http import PUBLIC, PUBLIC_DOC, client_ip
from carloop.core.i18n import t
from carloop.core.pagination import Page
from carloop.identity import selectors, services
from carloop.identity.models import ApiToken, Organisation, User

router = Router(tags=["identity"])


class SignupCodeIn(Schema):
    phone: str = Field(..., max_length=20, examples=["13812345678"])


class SignupCodeOut(Schema):
    detail: str = Field(..., description="The same whether or not the number can be registered")
    expires_in_seconds: int
    resend_after_seconds: int


class SignupIn(Schema):
    phone: str = Field(..., max_length=20, examples=["13812345678"])
    code: str = Field(..., max_length=10, description="The one-time code from POST /identity/signup/code")
    password: str = Field(..., min_length=8, max_length=128)
    display_name: str = Field("", max_length=100)


class MembershipOut(Schema):
    organisation_id: uuid.UUID
    roles: list[str]


class MeOut(Schema):
    id: uuid.UUID
    username: str
    display_name: str
    kind: str
    phone: str
    kyc_verified: bool = Field(..., description="A KYC provider confirmed name and ID number (never a checksum alone)")
    kyc_status: str = Field(..., description="none | self_declared | verified")
    kyc_check: str = Field(..., description="The latest provider check: '' | pending | not_confirmed | confirmed")
    real_name: str
    id_number: str
    birth_date: date | None
    platform_roles: list[str]
    memberships: list[MembershipOut]


class KycIn(Schema):
    real_name: str = Field(..., max_length=30)
    id_number: str = Field(..., max_length=20)
    city: str = Field("", max_length=50)


class OrganisationIn(Schema):
    kind: str
    name: str = Field(..., min_length=2, max_length=200)
    uscc: str = Field(..., max_length=18)
    city: str = Field("", max_length=50)


class OrganisationOut(Schema):
    id: uuid.UUID
    kind: str
    name: str
    uscc: str
    city: str
    status: str


class TokenIn(Schema):
    name: str = Field("api", max_length=100)


class TokenOut(Schema):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class NewTokenOut(TokenOut):
    token: str


def _me(user: User, subject: authz.Subject) -> MeOut:
    facts = selectors.customer_facts(user.pk)
    assert facts is not None
    held = selectors.roles_held(subject)
    return MeOut(
        id=user.pk, username=user.username, display_name=facts.display_name, kind=subject.kind,
        phone=facts.phone_masked, kyc_verified=facts.kyc_verified, kyc_status=facts.kyc_status,
        kyc_check=facts.kyc_check, real_name=facts.real_name,
        id_number=facts.id_number_masked, birth_date=facts.birth_date, platform_roles=held.platform_roles,
        memberships=[MembershipOut(organisation_id=o, roles=r) for o, r in held.organisation_roles.items()],
    )


def _current_user(request: HttpRequest) -> tuple[User, authz.Subject]:
    subject = selectors.subject_of(request)
    subject.require_authenticated()
    user = request.user
    assert isinstance(user, User)
    return user, subject


@router.post("/signup/code", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response={202: SignupCodeOut},
             summary="Send a one-time sign-up code by SMS",
             description="The answer is the same whether or not the number can be registered. The code is valid for 10 "
                         "minutes and 5 tries. At most one code a minute and 5 an hour per number, 20 an hour per "
                         "client address: over that, 429 with Retry-After.")
def signup_code(request: HttpRequest, body: SignupCodeIn) -> Status[SignupCodeOut]:
    services.send_signup_code(phone=body.phone, client_ip=client_ip(request))
    return Status(202, SignupCodeOut(detail=t(*services.SIGNUP_CODE_SENT), expires_in_seconds=int(settings.SIGNUP_CODE_TTL.total_seconds()),
                                     resend_after_seconds=int(settings.SIGNUP_CODE_INTERVAL.total_seconds())))


@router.post("/signup", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response={201: MeOut}, summary="Register a car owner with a mobile number",
             description="Needs the one-time code sent to the number; a wrong, expired or used code is 422 invalid-code, "
                         "also for a number that already has an account.")
def signup(request: HttpRequest, body: SignupIn) -> Status[MeOut]:
    user = services.sign_up(phone=body.phone, code=body.code, password=body.password, display_name=body.display_name)
    return Status(201, _me(user, selectors.subject_for_user(user)))


@router.get("/me", response=MeOut, summary="The caller's profile (PII masked)")
def me(request: HttpRequest) -> MeOut:
    user, subject = _current_user(request)
    return _me(user, subject)


@router.post("/me/kyc", response=MeOut, summary="Declare name and ID number; the KYC provider verifies them",
             description="The identity is self-declared until the provider confirms that name and ID number belong "
                         "together (kyc_status verified). A verified identity cannot be changed (409 kyc-verified). "
                         "At most 5 declarations a day (429).")
def kyc(request: HttpRequest, body: KycIn) -> MeOut:
    user, subject = _current_user(request)
    services.verify_kyc(user, real_name=body.real_name, id_number=body.id_number, city=body.city)
    return _me(user, subject)


class KycCorrectionIn(Schema):
    real_name: str = Field(..., max_length=30)
    id_number: str = Field(..., max_length=20)
    reason: str = Field(..., max_length=500)


class KycStatusOut(Schema):
    user_id: uuid.UUID
    kyc_status: str
    kyc_check: str
    real_name: str
    id_number: str


@router.post("/customers/{user_id}/kyc-correction", response=KycStatusOut,
             summary="Correct a customer's identity (operators; audited, re-verified by the provider)")
def correct_kyc(request: HttpRequest, user_id: uuid.UUID, body: KycCorrectionIn) -> KycStatusOut:
    services.correct_kyc(selectors.subject_of(request), user_id, real_name=body.real_name, id_number=body.id_number,
                         reason=body.reason)
    facts = selectors.customer_facts(user_id)
    assert facts is not None
    return KycStatusOut(user_id=user_id, kyc_status=facts.kyc_status, kyc_check=facts.kyc_check,
                        real_name=facts.real_name, id_number=facts.id_number_masked)


def _org_out(org: Organisation, subject: authz.Subject) -> OrganisationOut:
    return OrganisationOut(id=org.pk, kind=org.kind, name=org.name, uscc=org.uscc, city=org.city, status=org.status)


@router.get("/organisations", response=list[OrganisationOut], summary="Organisations the caller may see")
def list_organisations(request: HttpRequest, page: Query[Page], kind: str | None = None) -> list[OrganisationOut]:
    subject = selectors.subject_of(request)
    subject.require_authenticated()
    rows = selectors.readable_organisations(subject).order_by("name")
    if kind:
        rows = rows.filter(kind=kind)
    return [_org_out(o, subject) for o in page.slice(rows)]


@router.get("/organisations/{org_id}", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=OrganisationOut)
def get_organisation(request: HttpRequest, org_id: uuid.UUID) -> OrganisationOut:
    subject = selectors.subject_of(request)
    org = selectors.readable_organisations(subject).filter(pk=org_id).first()
    if org is None:
        raise NotFound()
    return _org_out(org, subject)


@router.post("/organisations", response={201: OrganisationOut}, summary="Register an organisation (operators)")
def create_organisation(request: HttpRequest, body: OrganisationIn) -> Status[OrganisationOut]:
    subject = selectors.subject_of(request)
    org = services.register_organisation(subject, kind=body.kind, name=body.name, uscc_code=body.uscc, city=body.city)
    return Status(201, _org_out(org, subject))


def _token_out(token: ApiToken) -> TokenOut:
    return TokenOut(id=token.pk, name=token.name, prefix=token.prefix, created_at=token.created_at,
                    last_used_at=token.last_used_at, revoked_at=token.revoked_at)


@router.get("/tokens", response=list[TokenOut], summary="The caller's API tokens")
def list_tokens(request: HttpRequest) -> list[TokenOut]:
    return [_token_out(t) for t in selectors.tokens_readable_by(selectors.subject_of(request))]


@router.post("/tokens", response={201: NewTokenOut}, summary="Create an API token (shown once)")
def create_token(request: HttpRequest, body: TokenIn) -> Status[NewTokenOut]:
    user, _ = _current_user(request)
    secret, token = services.create_token(user, body.name)
    return Status(201, NewTokenOut(token=secret, **_token_out(token).model_dump()))


@router.delete("/tokens/{token_id}", response={204: None}, summary="Revoke an API token")
def revoke_token(request: HttpRequest, token_id: uuid.UUID) -> Status[None]:
    user, _ = _current_user(request)
    services.revoke_token(user, token_id)
    return Status(204, None)



