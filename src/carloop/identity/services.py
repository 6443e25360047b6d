"""Identity commands: sign-up, real-name verification, organisations, memberships, roles and API tokens."""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import secrets
import uuid
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError as StdnumError

from carloop.core import audit, authz, events, locks, notifications, pii
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Invalid, NotFound, Problem
from carloop.identity import kyc
from carloop.identity.models import ApiToken, CustomerProfile, KycCheck, Membership, Organisation, PhoneCode, PlatformRole, User

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


def _check_password(password: str) -> None:
    try:
        validate_password(password)
    except ValidationError as exc:
        raise Invalid("weak-password", "密码强度不足", "The password is too weak",
                      errors=[FieldError("/password", "；".join(exc.messages), "; ".join(exc.messages))]) from exc


def _create_customer(digits: str, index: str, password: str, display_name: str, username: str | None = None) -> User:
    with transaction.atomic():
        user = User(username=username or f"u{index[:12]}", display_name=display_name, phone=digits, phone_index=index)
        user.set_password(password)
        user.save()
        CustomerProfile.objects.create(user=user)
        events.publish("identity.customer.registered", f"identity:user:{user.pk}", {"user_id": str(user.pk)}, actor=f"user:{user.pk}")
    return user


def register_customer(*, phone: str, password: str, display_name: str = "", username: str | None = None) -> User:
    """Create a car owner account without proof of the number (the seed, tests, operators); the mobile number
    is the sign-in name. Callers on the public edge use ``send_signup_code`` and ``sign_up``."""
    digits = normalize_phone(phone)
    index = pii.blind_index("phone", digits)
    if User.objects.filter(phone_index=index).exists():
        raise Conflict("phone-taken", "该手机号已注册", "This mobile number is already registered")
    _check_password(password)
    return _create_customer(digits, index, password, display_name, username)


SIGNUP_CODE_SENT = ("如果该手机号可以注册，验证码已发送，10 分钟内有效", "If this number can be registered, a code was sent; it is valid for 10 minutes")


def _code_hash(row_id: uuid.UUID, code: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"signup-code:{row_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _seconds_until(moment: datetime, now: datetime) -> int:
    """A Retry-After value: whole seconds, at least one."""
    return max(1, math.ceil((moment - now).total_seconds()))


def _too_many(moment: datetime, now: datetime) -> Problem:
    seconds = _seconds_until(moment, now)
    return Problem(429, "too-many-codes", "获取验证码过于频繁，请稍后再试", "Too many codes requested; try again later",
                   extra={"retry_after": seconds}, headers={"Retry-After": str(seconds)})


def _throttle(index: str, client_ip: str, now: datetime) -> None:
    """Refuse a code request over the limits: per number one a minute and 5 an hour, per client address 20 an hour."""
    hour = now - timedelta(hours=1)
    for rows, limit in ((PhoneCode.objects.filter(phone_index=index), settings.SIGNUP_CODES_PER_HOUR),
                        (PhoneCode.objects.filter(client_ip=client_ip), settings.SIGNUP_CODES_PER_HOUR_PER_IP)):
        recent = list(rows.filter(created_at__gt=hour).order_by("-created_at").values_list("created_at", flat=True)[:limit])
        if len(recent) >= limit:
            raise _too_many(recent[-1] + timedelta(hours=1), now)
    last = PhoneCode.objects.filter(phone_index=index).order_by("-created_at").values_list("created_at", flat=True).first()
    if last is not None and now - last < settings.SIGNUP_CODE_INTERVAL:
        raise _too_many(last + settings.SIGNUP_CODE_INTERVAL, now)


def send_signup_code(*, phone: str, client_ip: str) -> None:
    """Send a one-time sign-up code to a mobile number (valid 10 minutes, 5 tries, one use), within the throttles.

    The caller's answer is the same whether or not the number can be registered, and the throttles count both
    alike: a registered number gets no code but an SMS telling its holder to sign in instead, so nobody but
    the holder of the phone learns whether it has an account.
    """
    digits = normalize_phone(phone)
    index = pii.blind_index("phone", digits)
    with transaction.atomic():
        # Concurrent requests for one number (or from one address) must not all pass the throttles' reads.
        locks.serialize(f"identity:signup-code:phone:{index}", f"identity:signup-code:ip:{client_ip}")
        now = timezone.now()
        _throttle(index, client_ip, now)
        row = PhoneCode.objects.create(phone_index=index, client_ip=client_ip, expires_at=now + settings.SIGNUP_CODE_TTL)
        if User.objects.filter(phone_index=index).exists():
            code = ""
        else:
            code = f"{secrets.randbelow(10**6):06d}"
            row.code_hash = _code_hash(row.pk, code)
            row.save(update_fields=["code_hash", "updated_at"])
    if not code:
        notifications.send_sms_now(digits, "【车循环】有人用本手机号申请注册。该号码已有账户，请直接登录；如忘记密码请联系客服。",
                                   "[carloop] Someone tried to sign up with this number. It already has an account: sign in, "
                                   "or contact customer service if you forgot your password.")
        return
    minutes = int(settings.SIGNUP_CODE_TTL.total_seconds() // 60)
    notifications.send_sms_now(digits, f"【车循环】您的注册验证码是 {code}，{minutes} 分钟内有效。请勿告诉他人。",
                               f"[carloop] Your sign-up code is {code}, valid for {minutes} minutes. Do not share it.")


def _accept_code(index: str, code: str) -> bool:
    """Spend one try of the number's latest code; True (and the code used up) when it matches."""
    now = timezone.now()
    row = PhoneCode.objects.select_for_update().filter(phone_index=index).order_by("-created_at").first()
    if row is None or not row.code_hash or row.used_at is not None or row.expires_at <= now or row.attempts >= settings.SIGNUP_CODE_MAX_ATTEMPTS:
        return False
    row.attempts += 1
    matches = hmac.compare_digest(row.code_hash, _code_hash(row.pk, code.strip()))
    if matches:
        row.used_at = now
    row.save(update_fields=["attempts", "used_at", "updated_at"])
    return matches


def sign_up(*, phone: str, code: str, password: str, display_name: str = "") -> User:
    """Create a car owner account for a number whose one-time code the caller has (``send_signup_code``).

    A wrong, expired, used-up or never-sent code is one answer (422 ``invalid-code``), also for a registered
    number: sign-up tells nobody whether a number has an account.
    """
    digits = normalize_phone(phone)
    _check_password(password)
    index = pii.blind_index("phone", digits)
    with transaction.atomic():
        accepted = _accept_code(index, code)
        free = accepted and not User.objects.filter(phone_index=index).exists()
        user = _create_customer(digits, index, password, display_name) if free else None
    if user is None:
        raise Invalid("invalid-code", "验证码错误或已失效", "The code is wrong or no longer valid",
                      errors=[FieldError("/code", "请输入短信收到的 6 位验证码，或重新获取", "Enter the 6-digit code from the SMS, or request a new one")])
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


def _valid_name(real_name: str) -> str:
    name = real_name.strip()
    if not 2 <= len(name) <= 30:
        raise Invalid("invalid-name", "姓名无效", "Invalid name", errors=[FieldError("/real_name", "请填写真实姓名", "Enter your legal name")])
    return name


def _declare(profile: CustomerProfile, name: str, value: str, facts: dict[str, str], city: str) -> KycCheck:
    """Record declared facts (self-declared until the provider confirms) and open a check for them."""
    KycCheck.objects.filter(profile=profile, outcome=KycCheck.Outcome.PENDING).update(
        outcome=KycCheck.Outcome.SUPERSEDED, updated_at=timezone.now())
    profile.real_name = name
    profile.id_number = value
    profile.id_index = pii.blind_index("id_number", value)
    profile.birth_date = datetime.fromisoformat(facts["birth_date"]).date()
    profile.gender = facts["gender"]
    profile.region_code = facts["region_code"]
    profile.city = city or profile.city
    profile.kyc_status = CustomerProfile.Kyc.SELF_DECLARED
    profile.verified_at = None
    profile.save()
    return KycCheck.objects.create(profile=profile, provider=kyc.provider().name, id_index=profile.id_index)


def verify_kyc(user: User, *, real_name: str, id_number: str, city: str = "") -> CustomerProfile:
    """Declare a legal name and resident ID number and ask the KYC provider whether they belong together.

    The declaration is ``self_declared`` until the provider answers "match"; a valid checksum alone verifies
    nothing. A verified identity is immutable (409 ``kyc-verified``; corrections go through ``correct_kyc``).
    Declarations are limited per account and day. Answers are uniform: whether the number is verified on
    another account is never told (that check reads "not confirmed", like a mismatch).
    """
    name = _valid_name(real_name)
    value, facts = parse_id_number(id_number)
    with transaction.atomic():
        profile, _ = CustomerProfile.objects.select_for_update().get_or_create(user=user)
        if profile.kyc_status == CustomerProfile.Kyc.VERIFIED:
            if profile.real_name == name and profile.id_number == value:
                return profile
            raise Conflict("kyc-verified", "实名信息已认证，不能自行修改；如需更正请联系客服",
                           "Your verified identity cannot be changed; contact customer service for a correction")
        now = timezone.now()
        recent = list(KycCheck.objects.filter(profile=profile, created_at__gte=now - timedelta(days=1)).order_by("-created_at")
                      .values_list("created_at", flat=True)[:settings.KYC_SUBMISSIONS_PER_DAY])
        if len(recent) >= settings.KYC_SUBMISSIONS_PER_DAY:
            retry_after = _seconds_until(recent[-1] + timedelta(days=1), now)
            raise Problem(429, "too-many-kyc-submissions", "今日提交实名认证次数过多，请明天再试",
                          "Too many verification attempts today; try again tomorrow",
                          extra={"retry_after": retry_after}, headers={"Retry-After": str(retry_after)})
        check = _declare(profile, name, value, facts, city)
        audit.record(f"user:{user.pk}", "kyc.declared", "identity.customer", user.pk, {"id_number": pii.mask_id(value), "check": str(check.pk)})
    _ask_provider(check.pk, retry=False)
    profile.refresh_from_db()
    return profile


def _ask_provider(check_id: uuid.UUID, *, retry: bool) -> None:
    """Ask the provider about one pending check (outside any transaction) and apply its answer."""
    check = KycCheck.objects.select_related("profile").get(pk=check_id)
    profile = check.profile
    try:
        answer = kyc.provider().check(reference=str(check.pk), real_name=profile.real_name, id_number=profile.id_number or "", retry=retry)
    except kyc.ProviderUnavailable:
        answer = None
    with transaction.atomic():
        check = KycCheck.objects.select_for_update().select_related("profile").get(pk=check_id)
        if check.outcome != KycCheck.Outcome.PENDING:
            return  # superseded meanwhile, or answered by a concurrent retry
        check.attempts += 1
        if answer is None:
            if check.attempts >= settings.KYC_MAX_ATTEMPTS:
                check.outcome = KycCheck.Outcome.NO_ANSWER
            check.save(update_fields=["attempts", "outcome", "updated_at"])
            return
        check.provider_ref, check.answered_at = answer.provider_ref, timezone.now()
        check.outcome = KycCheck.Outcome(str(answer.outcome))
        if answer.outcome == kyc.Outcome.MATCH:
            check.outcome = _confirm(check)
        check.save(update_fields=["attempts", "outcome", "provider_ref", "answered_at", "updated_at"])


def _confirm(check: KycCheck) -> str:
    """The provider matched: the profile becomes verified unless another account holds the number verified."""
    profile = CustomerProfile.objects.select_for_update().get(pk=check.profile_id)
    taken = CustomerProfile.objects.filter(id_index=check.id_index, kyc_status=CustomerProfile.Kyc.VERIFIED).exclude(pk=profile.pk)
    if taken.exists():
        audit.record("system", "kyc.duplicate", "identity.customer", profile.user_id, {"check": str(check.pk)})
        return KycCheck.Outcome.DUPLICATE
    try:
        with transaction.atomic():
            profile.kyc_status = CustomerProfile.Kyc.VERIFIED
            profile.verified_at = timezone.now()
            profile.save(update_fields=["kyc_status", "verified_at", "updated_at"])
    except IntegrityError:  # verified on another account concurrently
        audit.record("system", "kyc.duplicate", "identity.customer", profile.user_id, {"check": str(check.pk)})
        return KycCheck.Outcome.DUPLICATE
    audit.record("system", "kyc.verified", "identity.customer", profile.user_id,
                 {"provider": check.provider, "provider_ref": check.provider_ref, "check": str(check.pk)})
    events.publish("identity.kyc.verified", f"identity:user:{profile.user_id}", {"user_id": str(profile.user_id)}, actor="system")
    return KycCheck.Outcome.MATCH


def retry_pending_kyc(limit: int = 500) -> int:
    """Ask the provider again about checks it has not answered yet; returns how many were asked."""
    pending = list(KycCheck.objects.filter(outcome=KycCheck.Outcome.PENDING).order_by("created_at").values_list("pk", flat=True)[:limit])
    for check_id in pending:
        _ask_provider(check_id, retry=True)
    return len(pending)


def correct_kyc(subject: Subject, user_id: uuid.UUID | str, *, real_name: str, id_number: str, reason: str) -> CustomerProfile:
    """An operator's (ops, admin) correction of a customer's identity (e.g. a legal name change), with an audit
    record naming them. The corrected facts are self-declared again until the provider confirms them; the old number
    is released.
    """
    subject.require_role(authz.OPS, authz.ADMIN)
    if not reason.strip():
        raise Invalid("reason-required", "请填写更正原因", "Give the reason for the correction",
                      errors=[FieldError("/reason", "请填写更正原因", "Give the reason for the correction")])
    name = _valid_name(real_name)
    value, facts = parse_id_number(id_number)
    with transaction.atomic():
        profile = CustomerProfile.objects.select_for_update().filter(user_id=user_id).first()
        if profile is None:
            raise NotFound()
        before = {"real_name": profile.real_name, "id_number": pii.mask_id(profile.id_number or ""), "kyc_status": profile.kyc_status}
        check = _declare(profile, name, value, facts, "")
        audit.record(subject.ref, "kyc.corrected", "identity.customer", profile.user_id,
                     {"reason": reason.strip(), "before": before,
                      "after": {"real_name": name, "id_number": pii.mask_id(value)}, "check": str(check.pk)})
    _ask_provider(check.pk, retry=False)
    profile.refresh_from_db()
    return profile


def register_organisation(subject: Subject, *, kind: str, name: str, uscc_code: str, city: str = "") -> Organisation:
    """Operations (ops, admin) register a partner organisation."""
    subject.require_role(authz.OPS, authz.ADMIN)
    return create_organisation(kind=kind, name=name, uscc_code=uscc_code, city=city, actor=subject.ref)


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
