"""Co-creation campaigns with manufacturers: questionnaires, verified customers' answers, closing."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.db import transaction

from carloop.commerce import selectors
from carloop.commerce.models import Campaign, CampaignResponse
from carloop.commerce.services._shared import _bad, acting_on
from carloop.core import audit, authz
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, Forbidden, NotFound
from carloop.core.timeutil import now
from carloop.identity import selectors as identity_q

DEFAULT_QUESTIONS: list[dict[str, Any]] = [
    {"key": "exterior", "kind": "single", "zh": "外观风格", "en": "Exterior style", "options": [
        {"code": "retro", "zh": "复古圆润", "en": "Retro and round"},
        {"code": "sporty", "zh": "运动锐利", "en": "Sporty and sharp"},
        {"code": "boxy", "zh": "方正硬朗", "en": "Boxy and rugged"}]},
    {"key": "colour", "kind": "single", "zh": "车身颜色", "en": "Body colour", "options": [
        {"code": "white", "zh": "白色", "en": "White"}, {"code": "green", "zh": "抹茶绿", "en": "Matcha green"},
        {"code": "pink", "zh": "樱花粉", "en": "Sakura pink"}, {"code": "grey", "zh": "云雾灰", "en": "Cloud grey"}]},
    {"key": "features", "kind": "multi", "zh": "智能功能（多选）", "en": "Smart features (choose any)", "options": [
        {"code": "adas", "zh": "高速领航辅助", "en": "Highway assisted driving"},
        {"code": "parking", "zh": "自动泊车", "en": "Automatic parking"},
        {"code": "voice", "zh": "语音助手", "en": "Voice assistant"},
        {"code": "swap", "zh": "换电", "en": "Battery swap"},
        {"code": "v2l", "zh": "对外放电", "en": "Vehicle-to-load"}]},
    {"key": "range", "kind": "single", "zh": "续航偏好", "en": "Range preference", "options": [
        {"code": "300", "zh": "300 公里左右", "en": "About 300 km"}, {"code": "400", "zh": "400 公里左右", "en": "About 400 km"},
        {"code": "500", "zh": "500 公里以上", "en": "500 km or more"}]},
    {"key": "price", "kind": "price", "zh": "您期望的价格（元）", "en": "Price you expect (yuan)"},
    {"key": "vw_too_cheap", "kind": "price", "vw": True, "zh": "多少钱会便宜到让您怀疑质量？",
     "en": "At what price would it be so cheap that you doubt its quality?"},
    {"key": "vw_cheap", "kind": "price", "vw": True, "zh": "多少钱您觉得划算？", "en": "At what price is it a bargain?"},
    {"key": "vw_expensive", "kind": "price", "vw": True, "zh": "多少钱开始觉得贵，但仍会考虑？",
     "en": "At what price does it get expensive, but you would still consider it?"},
    {"key": "vw_too_expensive", "kind": "price", "vw": True, "zh": "多少钱贵到您不会考虑？",
     "en": "At what price is it too expensive to consider?"},
]


@transaction.atomic
def create_campaign(subject: Subject, *, title: str, title_zh: str, closes_at: dt.datetime,
                    manufacturer_org_id: uuid.UUID | None = None, description_zh: str = "",
                    questions: list[dict[str, Any]] | None = None) -> Campaign:
    """A manufacturer's analyst opens a campaign for that manufacturer (the first they analyse for when none is
    named); everyone else is 403."""
    subject.require_authenticated()
    own = sorted(subject.org_ids(authz.MANUFACTURER_ANALYST))
    org_id = manufacturer_org_id or (own[0] if own else None)
    if org_id is None or not subject.in_org(org_id, authz.MANUFACTURER_ANALYST):
        raise Forbidden()
    if closes_at <= now():
        raise _bad("invalid-date", "/closes_at", "截止时间必须晚于现在", "The closing time must be in the future")
    campaign = Campaign.objects.create(manufacturer_id=org_id, title=title, title_zh=title_zh,
                                       description_zh=description_zh, questions=questions or DEFAULT_QUESTIONS,
                                       closes_at=closes_at)
    audit.record(subject.ref, "commerce.campaign.created", "commerce.campaign", campaign.pk, {})
    return campaign


def _clean_answers(campaign: Campaign, raw: dict[str, Any]) -> dict[str, Any]:
    from carloop.core.money import parse_yuan

    cleaned: dict[str, Any] = {}
    for q in campaign.questions:
        key, value, pointer = q["key"], raw.get(q["key"]), f"/answers/{q['key']}"
        codes = {o["code"] for o in q.get("options", [])}
        if value in (None, "", []):
            raise _bad("answer-required", pointer, "请回答此问题", "Please answer this question")
        if q["kind"] == "single":
            if value not in codes:
                raise _bad("invalid-answer", pointer, "选项无效", "Invalid choice")
        elif q["kind"] == "multi":
            if not isinstance(value, list) or not set(value) <= codes:
                raise _bad("invalid-answer", pointer, "选项无效", "Invalid choice")
            value = [c for c in (o["code"] for o in q["options"]) if c in value]
        else:
            value = parse_yuan(value, field=f"answers.{key}")
        cleaned[key] = value
    vw = [int(cleaned[k]) for k in ("vw_too_cheap", "vw_cheap", "vw_expensive", "vw_too_expensive") if k in cleaned]
    if len(vw) == 4 and not vw[0] <= vw[1] <= vw[2] <= vw[3]:
        raise _bad("inconsistent-prices", "/answers/vw_too_cheap", "四个价格应从低到高：太便宜 ≤ 划算 ≤ 偏贵 ≤ 太贵",
                   "The four prices must ascend: too cheap ≤ bargain ≤ expensive ≤ too expensive")
    return cleaned


@transaction.atomic
def answer_campaign(subject: Subject, *, campaign_id: uuid.UUID, answers: dict[str, Any]) -> tuple[CampaignResponse, bool]:
    """Verified customers answer once; they may edit their answer until the campaign closes."""
    subject.require_authenticated()
    campaign = (selectors.campaigns_readable_by(subject).filter(pk=campaign_id)
                .exclude(status=Campaign.Status.DRAFT).first())
    if campaign is None:
        raise NotFound()
    respondent_user_id = subject.require_customer("仅限车主用户参与共创", "Only car owners can answer")
    if campaign.status != Campaign.Status.OPEN or campaign.closes_at <= now():
        raise Conflict("campaign-closed", "该共创活动已结束", "This campaign is closed")
    facts = identity_q.customer_facts(respondent_user_id)
    if facts is None or not facts.kyc_verified:
        raise Forbidden("请先完成实名认证再参与共创", "Verify your identity before taking part")
    cleaned = _clean_answers(campaign, answers)
    response, created = CampaignResponse.objects.update_or_create(
        campaign=campaign, respondent_id=respondent_user_id, defaults={"answers": cleaned})
    return response, created


@transaction.atomic
def close_campaign(subject: Subject, *, campaign_id: uuid.UUID) -> Campaign:
    """The owning manufacturer's analysts (or operators) close a campaign: no more answers."""
    campaign = acting_on(subject, selectors.campaigns_readable_by, campaign_id, selectors.runs_campaign)
    campaign.status = Campaign.Status.CLOSED
    campaign.save(update_fields=["status", "updated_at"])
    audit.record(subject.ref, "commerce.campaign.closed", "commerce.campaign", campaign.pk, {})
    return campaign
