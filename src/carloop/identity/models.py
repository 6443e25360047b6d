"""People and parties: users, real-name KYC, organisations, memberships, platform roles and API tokens."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models

from carloop.core.fields import EncryptedTextField
from carloop.core.i18n import lt
from carloop.core.ids import new_id
from carloop.core.models import Entity


class User(AbstractUser):
    id = models.UUIDField(primary_key=True, default=new_id, editable=False)
    display_name = models.CharField(max_length=100, blank=True)
    phone = EncryptedTextField(null=True, blank=True)
    phone_index = models.CharField(max_length=64, unique=True, null=True, blank=True, editable=False)

    def __str__(self) -> str:
        return self.display_name or self.username

    class Meta:
        verbose_name = lt("用户", "user")
        verbose_name_plural = lt("用户", "users")


class PlatformRole(models.Model):
    class Role(models.TextChoices):
        OPS = "ops", lt("平台运营", "Operations")
        RISK_ANALYST = "risk_analyst", lt("风控分析师", "Risk analyst")
        FINANCE_OPS = "finance_ops", lt("金融运营", "Finance operations")
        ADMIN = "admin", lt("平台管理员", "Administrator")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="platform_roles")
    role = models.CharField(max_length=30, choices=Role.choices)

    class Meta:
        verbose_name = lt("平台角色", "platform role")
        verbose_name_plural = lt("平台角色", "platform roles")
        constraints = [models.UniqueConstraint(fields=["user", "role"], name="identity_platform_role_unique")]


class CustomerProfile(Entity):
    """A car owner's real-name (KYC) facts. The ID number is encrypted; its blind index allows matching.

    The facts are what the customer declared until a KYC provider confirmed that name and ID number belong
    together (``verified``); from then on they are immutable except through an operator's audited correction.
    Only one verified profile may hold an ID number; declarations may repeat one (a squatter cannot block it).
    """

    class Kyc(models.TextChoices):
        NONE = "none", lt("未提交", "Not submitted")
        SELF_DECLARED = "self_declared", lt("自行申报（未认证）", "Self-declared (not verified)")
        VERIFIED = "verified", lt("已通过实名核验", "Verified by the KYC provider")

    user = models.OneToOneField(User, on_delete=models.CASCADE, related_name="customer_profile")
    real_name = models.CharField(max_length=50, blank=True)
    id_number = EncryptedTextField(null=True, blank=True)
    id_index = models.CharField(max_length=64, null=True, blank=True, editable=False, db_index=True)
    birth_date = models.DateField(null=True, blank=True)
    gender = models.CharField(max_length=1, blank=True, choices=[("M", lt("男", "Male")), ("F", lt("女", "Female"))])
    region_code = models.CharField(max_length=6, blank=True)
    city = models.CharField(max_length=50, blank=True)
    kyc_status = models.CharField(max_length=16, choices=Kyc.choices, default=Kyc.NONE)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = lt("客户资料", "customer profile")
        verbose_name_plural = lt("客户资料", "customer profiles")
        constraints = [models.UniqueConstraint(fields=["id_index"], condition=models.Q(kyc_status="verified"),
                                               name="identity_verified_id_number_unique")]

    def __str__(self) -> str:
        return f"profile of {self.user_id}"


class KycCheck(Entity):
    """One question to the KYC provider: do this name and ID number belong together? (two-factor check)

    ``outcome`` stays ``pending`` while the provider has not answered (timeout, an answer without a result);
    the retry job asks again with the same reference, so a late answer still lands. A check whose declaration
    was replaced is ``superseded`` and its answer, if one comes, changes nothing.
    """

    class Outcome(models.TextChoices):
        PENDING = "pending", lt("等待核验结果", "Waiting for the provider")
        MATCH = "match", lt("姓名与身份证号一致", "Name and ID number match")
        MISMATCH = "mismatch", lt("姓名与身份证号不一致", "Name and ID number do not match")
        NO_RECORD = "no_record", lt("查无此身份证号", "No such ID number")
        NO_ANSWER = "no_answer", lt("核验服务未应答", "The provider never answered")
        DUPLICATE = "duplicate", lt("一致，但已在其他账户认证", "Matched, but verified on another account")
        SUPERSEDED = "superseded", lt("已被后续申报取代", "Replaced by a later declaration")

    profile = models.ForeignKey(CustomerProfile, on_delete=models.CASCADE, related_name="kyc_checks")
    provider = models.CharField(max_length=50)
    id_index = models.CharField(max_length=64, editable=False)
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.PENDING, db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    provider_ref = models.CharField(max_length=100, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"kyc check {self.pk} ({self.outcome})"


class KycSimulatorRecord(models.Model):
    """The simulator provider's register of people (demo and tests only): who holds which ID number.

    Stores only keyed digests, like a blind index; seeded owners are enrolled so the simulator confirms them.
    """

    id_index = models.CharField(max_length=64, primary_key=True)
    name_digest = models.CharField(max_length=64)


class Organisation(Entity):
    class Kind(models.TextChoices):
        STORE = "store", lt("门店", "Store")
        SUPPLIER = "supplier", lt("供应商", "Supplier")
        FUNDING_PARTNER = "funding_partner", lt("资金合作方", "Funding partner")
        ENTERPRISE = "enterprise", lt("企业客户", "Enterprise")
        MANUFACTURER = "manufacturer", lt("主机厂", "Manufacturer")
        DEALER = "dealer", lt("经销商", "Dealer")
        PLATFORM = "platform", lt("平台运营方", "Platform operator")

    class Status(models.TextChoices):
        ACTIVE = "active", lt("正常", "Active")
        PENDING = "pending", lt("待审核", "Pending review")
        SUSPENDED = "suspended", lt("已暂停", "Suspended")

    kind = models.CharField(max_length=20, choices=Kind.choices, db_index=True)
    name = models.CharField(max_length=200)
    uscc = models.CharField(max_length=18, unique=True, help_text="Unified social credit code (GB 32100)")
    city = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)

    def __str__(self) -> str:
        return self.name

    class Meta:
        verbose_name = lt("机构", "organisation")
        verbose_name_plural = lt("机构", "organisations")


class Membership(Entity):
    class Role(models.TextChoices):
        STORE_MANAGER = "store_manager", lt("店长", "Store manager")
        TECHNICIAN = "technician", lt("技师", "Technician")
        SUPPLIER_STAFF = "supplier_staff", lt("供应商员工", "Supplier staff")
        LENDER_ANALYST = "lender_analyst", lt("资金方分析师", "Partner lender analyst")
        ENTERPRISE_ADMIN = "enterprise_admin", lt("企业管理员", "Enterprise admin")
        MANUFACTURER_ANALYST = "manufacturer_analyst", lt("主机厂分析师", "Manufacturer analyst")
        DEALER_STAFF = "dealer_staff", lt("经销商员工", "Dealer staff")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=30, choices=Role.choices)

    class Meta:
        verbose_name = lt("机构成员", "membership")
        verbose_name_plural = lt("机构成员", "memberships")
        constraints = [models.UniqueConstraint(fields=["user", "organisation", "role"], name="identity_membership_unique")]


class ApiToken(Entity):
    """A bearer token for integrations; only its SHA-256 is stored."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=12)
    token_hash = models.CharField(max_length=64, unique=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.name})"

    class Meta:
        verbose_name = lt("API 令牌", "API token")
        verbose_name_plural = lt("API 令牌", "API tokens")

class PhoneCode(Entity):
    """A one-time SMS code that proves the caller holds a mobile number (sign-up). Only a keyed hash is kept.

    A row is written for every code request that passed the throttles, also for a number that cannot be
    registered (no code is sent then and ``code_hash`` is empty), so the throttles count both alike.
    """

    phone_index = models.CharField(max_length=64)
    client_ip = models.CharField(max_length=45, blank=True)
    code_hash = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["phone_index", "created_at"]), models.Index(fields=["client_ip", "created_at"])]
        verbose_name = lt("注册短信验证码", "sign-up SMS code")
        verbose_name_plural = lt("注册短信验证码", "sign-up SMS codes")
