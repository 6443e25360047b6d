"""Risk tables: blacklist, feature store, model registry, policy rule sets, decisions, review queue, entity graph."""

from __future__ import annotations

from django.db import models

from carloop.core.i18n import lt
from carloop.core.models import Entity


class BlacklistKind(models.TextChoices):
    ID_NUMBER = "id_number", lt("身份证号", "ID number")
    PHONE = "phone", lt("手机号", "Phone")
    DEVICE = "device", lt("设备", "Device")
    BANK_CARD = "bank_card", lt("银行卡", "Bank card")
    USCC = "uscc", lt("统一社会信用代码", "USCC")


class BlacklistEntry(Entity):
    """A blacklisted identifier, stored only as a blind index plus a masked label."""

    kind = models.CharField(max_length=20, choices=BlacklistKind.choices)
    value_index = models.CharField(max_length=64)
    value_masked = models.CharField(max_length=40)
    reason = models.TextField()
    source = models.CharField(max_length=40, default="manual")  # manual | fraud_ring | court | partner | wallet
    expires_at = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)
    created_by = models.CharField(max_length=200)

    class Meta:
        verbose_name = lt("黑名单条目", "blacklist entry")
        verbose_name_plural = lt("黑名单条目", "blacklist entries")
        indexes = [models.Index(fields=["kind", "value_index"])]
        ordering = ["-created_at"]


class FeatureFact(Entity):
    """One behavioural fact from a domain event; the point-in-time source of every feature."""

    subject_kind = models.CharField(max_length=10, default="customer")  # customer | org
    subject_id = models.UUIDField()
    kind = models.CharField(max_length=40)  # order, order_return, repayment, disbursal, login, card_spend, ...
    occurred_at = models.DateTimeField()
    amount_fen = models.BigIntegerField(null=True, blank=True)
    data = models.JSONField(default=dict)
    event_id = models.UUIDField(null=True, blank=True, unique=True)

    class Meta:
        indexes = [models.Index(fields=["subject_kind", "subject_id", "occurred_at"])]


class FeatureRow(Entity):
    """Online features of one subject, recomputed on each new fact; read with one indexed lookup."""

    subject_kind = models.CharField(max_length=10, default="customer")
    subject_id = models.UUIDField()
    features = models.JSONField(default=dict)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["subject_kind", "subject_id"], name="risk_featurerow_subject")]


class ModelVersion(Entity):
    class Role(models.TextChoices):
        CANDIDATE = "candidate", lt("候选", "Candidate")
        CHALLENGER = "challenger", lt("挑战者", "Challenger")
        CHAMPION = "champion", lt("冠军", "Champion")
        RETIRED = "retired", lt("已退役", "Retired")

    version = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=20)
    artifact_path = models.CharField(max_length=500)
    data_sha256 = models.CharField(max_length=64)
    metrics = models.JSONField(default=dict)
    features = models.JSONField(default=list)
    baseline = models.JSONField(default=dict)  # score band counts and feature band counts of the training data
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.CANDIDATE)
    registered_by = models.CharField(max_length=200)
    promoted_by = models.CharField(max_length=200, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = lt("模型版本", "model version")
        verbose_name_plural = lt("模型版本", "model versions")
        ordering = ["-created_at"]


class PolicyRuleSet(Entity):
    class Status(models.TextChoices):
        DRAFT = "draft", lt("草稿", "Draft")
        PUBLISHED = "published", lt("已发布", "Published")
        RETIRED = "retired", lt("已退役", "Retired")

    version = models.PositiveIntegerField(unique=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    rules = models.JSONField(default=list)
    note = models.TextField(blank=True)
    created_by = models.CharField(max_length=200)
    published_by = models.CharField(max_length=200, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = lt("策略规则集", "policy rule set")
        verbose_name_plural = lt("策略规则集", "policy rule sets")
        ordering = ["-version"]


class CreditDecision(Entity):
    """A credit decision with every input needed to replay it."""

    application_ref = models.CharField(max_length=200)
    customer_user_id = models.UUIDField()
    product_kind = models.CharField(max_length=40)
    amount_fen = models.BigIntegerField()
    term_months = models.PositiveIntegerField()
    as_of = models.DateField()
    request = models.JSONField()
    context = models.JSONField(default=dict)
    outcome = models.CharField(max_length=10)  # approve | decline | refer
    score = models.IntegerField(null=True, blank=True)
    prob_bad = models.DecimalField(max_digits=8, decimal_places=6, null=True, blank=True)
    reasons = models.JSONField(default=list)
    rule_hits = models.JSONField(default=list)
    model_version = models.CharField(max_length=100, blank=True)
    challenger_version = models.CharField(max_length=100, blank=True)
    challenger_score = models.IntegerField(null=True, blank=True)
    ruleset_version = models.PositiveIntegerField(null=True, blank=True)
    approved_amount_fen = models.BigIntegerField(null=True, blank=True)
    price_tier = models.CharField(max_length=2, blank=True)
    latency_ms = models.FloatField()  # float-ok: a duration
    decided_by = models.CharField(max_length=200, default="system")
    device_id = models.CharField(max_length=100, blank=True)
    ip = models.CharField(max_length=64, blank=True)
    city = models.CharField(max_length=50, blank=True)
    id_index = models.CharField(max_length=64, blank=True)
    phone_index = models.CharField(max_length=64, blank=True)
    bad_outcome = models.BooleanField(null=True, blank=True)  # set from repayment events (DPD >= 30)

    class Meta:
        verbose_name = lt("授信决策", "credit decision")
        verbose_name_plural = lt("授信决策", "credit decisions")
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["application_ref"]),
            models.Index(fields=["customer_user_id", "created_at"]),
            models.Index(fields=["device_id", "created_at"]),
            models.Index(fields=["ip", "created_at"]),
            models.Index(fields=["id_index", "created_at"]),
            models.Index(fields=["phone_index", "created_at"]),
            models.Index(fields=["created_at"]),
        ]


class ReviewCase(Entity):
    class Status(models.TextChoices):
        OPEN = "open", lt("待处理", "Open")
        APPROVED = "approved", lt("已批准", "Approved")
        DECLINED = "declined", lt("已拒绝", "Declined")
        WITHDRAWN = "withdrawn", lt("已撤回", "Withdrawn")

    decision = models.OneToOneField(CreditDecision, on_delete=models.PROTECT, related_name="review")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    due_at = models.DateTimeField()
    decided_by = models.CharField(max_length=200, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    approved_amount_fen = models.BigIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)

    class Meta:
        verbose_name = lt("人工审核案件", "review case")
        verbose_name_plural = lt("人工审核案件", "review cases")
        ordering = ["due_at"]
        indexes = [models.Index(fields=["status", "due_at"])]


class GraphNode(Entity):
    """A customer or an identifier (blind index) in the entity graph, with its connected component."""

    kind = models.CharField(max_length=20)  # customer | phone | id_number | device | bank_card | address | contact
    key = models.CharField(max_length=64)
    label = models.CharField(max_length=100, blank=True)  # masked, for analysts
    component = models.UUIDField(db_index=True)
    blacklisted = models.BooleanField(default=False)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="risk_graphnode_kind_key")]


class GraphEdge(Entity):
    customer = models.ForeignKey(GraphNode, on_delete=models.CASCADE, related_name="+")
    entity = models.ForeignKey(GraphNode, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer", "entity"], name="risk_graphedge_pair")]
        indexes = [models.Index(fields=["entity"])]
