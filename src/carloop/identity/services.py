"""Identity commands: sign-up, real-name verification, organisations, memberships, roles and API tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from datetime import datetime

from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from carloop.core import audit, events, pii
from carloop.core.errors import Conflict, FieldError, Invalid, NotFound, Problem
from carloop.identity.models import ApiToken, CustomerProfile, Membership, Organisation, PlatformRole, User

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
TOKEN_PREFIX = "cl_"


def canonical_phone(value: str) -> str | None:
    """The 11-digit mainland mobile number in ``value`` (spaces, dashes and +86 allowed), or None.

    The one phone normaliser: sign-up, sign-in and the login throttle all read a typed number through it.
    """
    digits = pii.normalize("phone", value)
    return digits if PHONE_RE.match(digits) else None


def normalize_phone(phone: str, pointer: str = "/phone") -> str:
    digits = canonical_phone(phone)
    if digits is None:
        raise Invalid("invalid-phone", "手机号格式无效", "Invalid mobile number",
                      errors=[FieldError(pointer, "请输入 11 位中国大陆手机号", "Enter an 11-digit mainland China mobile number")])
    return digits


def find_account(identifier: str) -> User | None:
    """The account a sign-in name designates: a username, or a mobile number in any accepted format."""
    user = User.objects.filter(username=identifier).first()
    if user is None and (digits := canonical_phone(identifier)) is not None:
        user = User.objects.filter(phone_index=pii.blind_index("phone", digits)).first()
    return user


def register_customer(*, phone: str, password: str, display_name: str = "", username: str | None = None) -> User:
    """Create a car owner account; the mobile number is the sign-in name."""
    digits = normalize_phone(phone)
    index = pii.blind_index("phone", digits)
    if User.objects.filter(phone_index=index).exists():
        raise Conflict("phone-taken", "该手机号已注册", "This mobile number is already registered")
    try:
        validate_password(password)
    except ValidationError as exc:
        raise Invalid("weak-password", "密码强度不足", "The password is too weak",
                      errors=[FieldError("/password", "；".join(exc.messages), "; ".join(exc.messages))]) from exc
    with transaction.atomic():
        user = User(username=username or f"u{index[:12]}", display_name=display_name, phone=digits, phone_index=index)
        user.set_password(password)
        user.save()
        CustomerProfile.objects.create(user=user)
        events.publish("identity.customer.registered", f"identity:user:{user.pk}", {"user_id": str(user.pk)}, actor=f"user:{user.pk}")
    return user


def _invalid_id(pointer: str) -> Problem:
    return Invalid("invalid-id-number", "身份证号无效", "Invalid resident ID number",
                   errors=[FieldError(pointer, "请核对身份证号（校验位、出生日期或地区码不正确）",
                                      "Check the ID number (check digit, birth date or region code is wrong)")])


def parse_id_number(id_number: str, pointer: str = "/id_number") -> tuple[str, dict[str, str]]:
    """Validate a resident ID number (GB 11643: checksum, birth date, region) with python-stdnum."""
    value = pii.normalize("id_number", id_number)
    try:
        value = ric.validate(value)
    except KeyError:
        # python-stdnum's region table lists some current codes (e.g. 620201, a prefecture's urban districts)
        # without a county and its lookup fails there; every other check has passed by then, so the number stands.
        pass
    except StdnumError as exc:
        raise _invalid_id(pointer) from exc
    birth = ric.get_birth_date(value)  # validate() has checked it
    gender = "M" if int(value[16]) % 2 == 1 else "F"
    return value, {"birth_date": birth.isoformat(), "gender": gender, "region_code": value[:6]}


def verify_kyc(user: User, *, real_name: str, id_number: str, city: str = "") -> CustomerProfile:
    """Record real-name verification. (A production deployment calls a licensed ID verification service here.)"""
    name = real_name.strip()
    if not 2 <= len(name) <= 30:
        raise Invalid("invalid-name", "姓名无效", "Invalid name", errors=[FieldError("/real_name", "请填写真实姓名", "Enter your legal name")])
    value, facts = parse_id_number(id_number)
    index = pii.blind_index("id_number", value)
    with transaction.atomic():
        profile, _ = CustomerProfile.objects.select_for_update().get_or_create(user=user)
        if CustomerProfile.objects.filter(id_index=index).exclude(pk=profile.pk).exists():
            raise Conflict("id-number-taken", "该身份证号已绑定其他账户", "This ID number belongs to another account")
        profile.real_name = name
        profile.id_number = value
        profile.id_index = index
        profile.birth_date = datetime.fromisoformat(facts["birth_date"]).date()
        profile.gender = facts["gender"]
        profile.region_code = facts["region_code"]
        profile.city = city or profile.city
        profile.kyc_status = CustomerProfile.Kyc.VERIFIED
        profile.verified_at = timezone.now()
        profile.save()
        audit.record(f"user:{user.pk}", "kyc.verified", "identity.customer", user.pk, {"id_number": pii.mask_id(value)})
        events.publish("identity.kyc.verified", f"identity:user:{user.pk}", {"user_id": str(user.pk)}, actor=f"user:{user.pk}")
    return profile


def create_organisation(*, kind: str, name: str, uscc_code: str, city: str = "", status: str = Organisation.Status.ACTIVE,
                        actor: str = "system") -> Organisation:
    if kind not in Organisation.Kind.values:
        raise Invalid("invalid-organisation-kind", "机构类型无效", "Unknown organisation kind",
                      errors=[FieldError("/kind", "可选：" + "、".join(Organisation.Kind.values), "One of: " + ", ".join(Organisation.Kind.values))])
    try:
        code = uscc.validate(uscc_code.strip().upper())
    except StdnumError as exc:
        raise Invalid("invalid-uscc", "统一社会信用代码无效", "Invalid unified social credit code",
                      errors=[FieldError("/uscc", "请核对 18 位统一社会信用代码", "Check the 18-character USCC")]) from exc
    if Organisation.objects.filter(uscc=code).exists():
        raise Conflict("uscc-taken", "该统一社会信用代码已登记", "An organisation with this USCC already exists")
    with transaction.atomic():
        org = Organisation.objects.create(kind=kind, name=name.strip(), uscc=code, city=city, status=status)
        audit.record(actor, "organisation.created", "identity.organisation", org.pk, {"kind": kind, "name": org.name})
        events.publish("identity.organisation.created", f"identity:organisation:{org.pk}", {"organisation_id": str(org.pk), "kind": kind}, actor=actor)
    return org


def add_member(*, organisation_id: uuid.UUID, user: User, role: str) -> Membership:
    if role not in Membership.Role.values:
        raise Invalid("invalid-role", "角色无效", "Unknown role", errors=[FieldError("/role", "角色无效", "Unknown role")])
    org = Organisation.objects.filter(pk=organisation_id).first()
    if org is None:
        raise NotFound()
    membership, _ = Membership.objects.get_or_create(user=user, organisation=org, role=role)
    return membership


OPERATORS_GROUP = "carloop operators"


def grant_platform_role(user: User, role: str) -> None:
    """Give a platform role; operators may view every table in the back office (admins may also change)."""
    if role not in PlatformRole.Role.values:
        raise Invalid("invalid-role", "角色无效", "Unknown role")
    PlatformRole.objects.get_or_create(user=user, role=role)
    group, _ = Group.objects.get_or_create(name=OPERATORS_GROUP)
    group.permissions.set(Permission.objects.filter(codename__startswith="view_"))
    user.groups.add(group)


def create_staff_user(*, username: str, password: str, display_name: str = "", platform_roles: tuple[str, ...] = ()) -> User:
    user, created = User.objects.get_or_create(username=username, defaults={"display_name": display_name})
    if created:
        user.set_password(password)
        user.save()
    for role in platform_roles:
        grant_platform_role(user, role)
    if platform_roles and not user.is_staff:
        user.is_staff = True
        user.is_superuser = "admin" in platform_roles
        user.save(update_fields=["is_staff", "is_superuser"])
    return user


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(user: User, name: str, expires_at: datetime | None = None) -> tuple[str, ApiToken]:
    """Create a bearer token; the clear token is returned once and never stored."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name or "token", prefix=secret[:10], token_hash=_hash_token(secret), expires_at=expires_at)
    audit.record(f"user:{user.pk}", "token.created", "identity.token", token.pk, {"name": token.name})
    return secret, token


def revoke_token(user: User, token_id: uuid.UUID) -> None:
    token = ApiToken.objects.filter(pk=token_id, user=user).first()
    if token is None:
        raise NotFound()
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at", "updated_at"])
        audit.record(f"user:{user.pk}", "token.revoked", "identity.token", token.pk)


def authenticate_token(secret: str) -> User | None:
    """The active user behind a bearer token, or None. Updates last use at most once a minute."""
    token = ApiToken.objects.select_related("user").filter(token_hash=_hash_token(secret), revoked_at__isnull=True).first()
    now = timezone.now()
    if token is None or not token.user.is_active or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
