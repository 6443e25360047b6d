"""Configurator pricing: MSRP, paint, options, bundles and battery-as-a-service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from carloop.commerce.models import BatteryPlan, Bundle, CarOrder
from carloop.commerce.selectors import bundle_saving, with_item_totals
from carloop.commerce.services._shared import _bad
from carloop.vehicles import selectors as vehicles_q


@dataclass(frozen=True)
class PriceLine:
    code: str
    zh: str
    en: str
    amount_fen: int


@dataclass(frozen=True)
class PriceBreakdown:
    trim_id: uuid.UUID
    lines: tuple[PriceLine, ...]
    total_fen: int
    monthly_battery_fen: int
    bundle_saving_fen: int
    colour_code: str
    option_codes: tuple[str, ...]
    bundle_id: uuid.UUID | None
    battery_mode: str
    battery_plan_id: uuid.UUID | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def lines_json(self) -> list[dict[str, Any]]:
        return [{"code": x.code, "zh": x.zh, "en": x.en, "amount_fen": x.amount_fen} for x in self.lines]




def price(*, trim_id: uuid.UUID, colour_code: str, option_codes: list[str] | tuple[str, ...] = (),
          bundle_id: uuid.UUID | None = None, battery_mode: str = CarOrder.BatteryMode.OWNED,
          battery_plan_id: uuid.UUID | None = None, fresh: bool = False) -> PriceBreakdown:
    """Configurator price: MSRP + paint + options + bundle − battery (when subscribed). Bad choices are 422.

    ``fresh`` reads the catalog from the database instead of the catalog cache (orders always do).
    """
    config = vehicles_q.trim_config(trim_id, fresh=fresh)
    if config is None or not config.trim.is_active:
        raise _bad("unknown-trim", "/trim_id", "车型配置不存在", "Unknown trim")
    trim = config.trim
    lines = [PriceLine("msrp", f"{trim.brand_zh} {trim.series_zh} {trim.name_zh}", f"{trim.brand} {trim.series} {trim.name}",
                       trim.msrp_fen)]
    colour = next((c for c in config.colours if c.code == colour_code), None)
    if colour is None:
        raise _bad("unknown-colour", "/colour_code", "该车型没有此颜色", "This colour is not offered for the model")
    if colour.price_fen:
        lines.append(PriceLine(f"colour:{colour.code}", f"车漆：{colour.name_zh}", f"Paint: {colour.name}", colour.price_fen))
    offered = {o.code: o for o in config.options}
    codes = tuple(dict.fromkeys(option_codes))
    for index, code in enumerate(codes):
        option = offered.get(code)
        if option is None:
            raise _bad("unknown-option", f"/option_codes/{index}", "该车型没有此选装", "This option is not offered for the model")
        lines.append(PriceLine(f"option:{code}", f"选装：{option.name_zh}", f"Option: {option.name}", option.price_fen))
    saving = 0
    if bundle_id is not None:
        bundle = with_item_totals(Bundle.objects.filter(pk=bundle_id, trim_id=trim.id, is_active=True)).first()
        if bundle is None:
            raise _bad("unknown-bundle", "/bundle_id", "该车型没有此套餐", "This bundle is not offered for the trim")
        saving = bundle_saving(bundle)
        lines.append(PriceLine(f"bundle:{bundle.code}", f"套餐：{bundle.name_zh}", f"Bundle: {bundle.name}", bundle.price_fen))
    monthly = 0
    if battery_mode == CarOrder.BatteryMode.SUBSCRIPTION:
        if not trim.battery_swap_capable or trim.battery_price_fen <= 0:
            raise _bad("battery-subscription-unavailable", "/battery_mode", "该车型不支持车电分离",
                       "This trim cannot be bought without its battery")
        plan = BatteryPlan.objects.filter(pk=battery_plan_id).first() if battery_plan_id else None
        kwh = trim.battery_kwh or Decimal(0)
        if plan is None or not plan.min_kwh <= kwh <= plan.max_kwh:
            raise _bad("invalid-battery-plan", "/battery_plan_id", "请选择适用于该电池容量的电池租用方案",
                       "Choose a battery plan for this battery capacity")
        monthly = plan.monthly_fen
        lines.append(PriceLine("battery", "车电分离：不含电池", "Battery as a service: battery not included", -trim.battery_price_fen))
    elif battery_mode != CarOrder.BatteryMode.OWNED:
        raise _bad("invalid-battery-mode", "/battery_mode", "电池方式应为 owned 或 subscription",
                   "Battery mode must be owned or subscription")
    total = sum(x.amount_fen for x in lines)
    return PriceBreakdown(trim.id, tuple(lines), total, monthly, saving, colour.code, codes, bundle_id, battery_mode,
                          battery_plan_id if battery_mode == CarOrder.BatteryMode.SUBSCRIPTION else None)
