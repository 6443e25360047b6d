"""Vehicle commands: the garage, odometer readings, condition reports, valuation, and stock hand-over."""

from __future__ import annotations

import datetime as dt
import uuid

from django.db import transaction

from carloop.core import audit, authz, events
from carloop.core.authz import Subject
from carloop.core.errors import Conflict, FieldError, Forbidden, Invalid, NotFound
from carloop.core.money import parse_yuan
from carloop.core.timeutil import business_date
from carloop.vehicles import selectors
from carloop.vehicles.contracts import CONDITION_REPORT_CREATED, OwnedVehicle
from carloop.vehicles.models import ConditionReport, OdometerReading, Powertrain, Trim, Vehicle
from carloop.vehicles.plates import validate_plate
from carloop.vehicles.valuation import Valuation, ValuationInput, appraise
from carloop.vehicles.vin import decode_vin


def validated_vin(raw: str, pointer: str = "/vin") -> str:
    report = decode_vin(raw)
    if not report.valid:
        details = [FieldError(pointer, e.zh, e.en) for e in report.errors if e.severity == "error"]
        raise Invalid("invalid-vin", "车辆识别代号（VIN）无效", "Invalid vehicle identification number (VIN)",
                      errors=details)
    return report.vin


MAX_KM_PER_YEAR = 100_000  # more than a ride-hailing car drives in a year
ODOMETER_MARGIN_KM = 1_000  # delivery, test drives and a new car's first weeks


def max_plausible_km(*, vin: str, registration_date: dt.date | None, on: dt.date) -> int | None:
    """The highest reading a car can show on ``on``: 100,000 km a year since its registration (else since 1 January
    of the year before its VIN's model year) plus 1,000 km; None when neither dates the car."""
    start = registration_date
    if start is None:
        model_year = decode_vin(vin).model_year
        start = dt.date(model_year - 1, 1, 1) if model_year else None
    if start is None:
        return None
    return ODOMETER_MARGIN_KM + MAX_KM_PER_YEAR * max(0, (on - start).days) // 365


def _require_plausible(km: int, *, vin: str, registration_date: dt.date | None, on: dt.date, pointer: str) -> None:
    most = max_plausible_km(vin=vin, registration_date=registration_date, on=on)
    if most is not None and km > most:
        raise Invalid("odometer-implausible", f"里程 {km:,} 公里超出该车车龄可能行驶的里程（最多 {most:,} 公里）",
                      f"{km:,} km is more than a car of this age can have driven (at most {most:,} km)",
                      errors=[FieldError(pointer, f"不得超过 {most:,} 公里", f"Must not exceed {most:,} km")])


def _subject_ref(user_id: uuid.UUID | None) -> str:
    return f"user:{user_id}" if user_id else "system"


@transaction.atomic
def register_vehicle(*, owner_user_id: uuid.UUID, vin: str, plate: str = "", registration_date: dt.date | None = None,
                     trim_id: uuid.UUID | None = None, brand_name: str = "", model_name: str = "",
                     powertrain: str = "", reference_price_fen: int | None = None,
                     odometer_km: int | None = None) -> OwnedVehicle:
    """Add a car the customer already owns to their garage."""
    vin = validated_vin(vin)
    plate = validate_plate(plate).plate if plate else ""
    if trim_id is not None and not Trim.objects.filter(pk=trim_id).exists():
        raise Invalid("unknown-trim", "车型配置不存在", "Unknown trim", errors=[FieldError("/trim_id", "不存在", "Not found")])
    if trim_id is None and not (brand_name and model_name):
        raise Invalid("vehicle-model-required", "请选择车型，或填写品牌和车型名称",
                      "Choose a catalog trim or give the brand and model name",
                      errors=[FieldError("/trim_id", "必填", "Required")])
    if powertrain and powertrain not in Powertrain.values:
        raise Invalid("invalid-powertrain", "动力类型无效", "Invalid powertrain",
                      errors=[FieldError("/powertrain", "取值 BEV/PHEV/EREV/ICE", "One of BEV/PHEV/EREV/ICE")])
    if registration_date and registration_date > business_date():
        raise Invalid("invalid-date", "上牌日期不能晚于今天", "Registration date is in the future",
                      errors=[FieldError("/registration_date", "不能晚于今天", "Must not be in the future")])
    if Vehicle.objects.filter(vin=vin).exists():
        raise Conflict("vin-registered", "该 VIN 已登记在其他车库中", "This VIN is already registered")
    if odometer_km is not None:
        _require_plausible(odometer_km, vin=vin, registration_date=registration_date, on=business_date(),
                           pointer="/odometer_km")
    vehicle = Vehicle.objects.create(
        vin=vin, plate=plate, registration_date=registration_date, trim_id=trim_id, brand_name=brand_name,
        model_name=model_name, powertrain=powertrain, reference_price_fen=reference_price_fen,
        owner_id=owner_user_id, status=Vehicle.Status.OWNED,
    )
    if odometer_km is not None:
        OdometerReading.objects.create(vehicle=vehicle, km=odometer_km, read_on=business_date(), source="owner")
    audit.record(_subject_ref(owner_user_id), "vehicles.registered", "vehicles.vehicle", vehicle.pk, {"vin": vin})
    return selectors.owned_dto(vehicle)


def add_to_garage(subject: Subject, *, vin: str, plate: str = "", registration_date: dt.date | None = None,
                  trim_id: uuid.UUID | None = None, brand_name: str = "", model_name: str = "", powertrain: str = "",
                  reference_price: str | None = None, odometer_km: int | None = None) -> OwnedVehicle:
    """A car owner adds a car they own (``reference_price`` in yuan, for cars outside the catalog); staff and
    organisation accounts have no garage (403)."""
    owner = subject.require_customer("车库仅供车主使用", "The garage is for car owners")
    price = parse_yuan(reference_price, field="reference_price") if reference_price is not None else None
    return register_vehicle(owner_user_id=owner, vin=vin, plate=plate, registration_date=registration_date,
                            trim_id=trim_id, brand_name=brand_name, model_name=model_name, powertrain=powertrain,
                            reference_price_fen=price, odometer_km=odometer_km)


def _owned_for_update(owner_user_id: uuid.UUID, vehicle_id: uuid.UUID) -> Vehicle:
    vehicle = (Vehicle.objects.select_for_update()
               .filter(pk=vehicle_id, owner_id=owner_user_id, status=Vehicle.Status.OWNED).first())
    if vehicle is None:
        raise NotFound()
    return vehicle


@transaction.atomic
def record_odometer(*, vehicle_id: uuid.UUID, km: int, read_on: dt.date | None = None, source: str = "owner",
                    meter_replaced: bool = False, owner_user_id: uuid.UUID | None = None) -> OdometerReading:
    """Append a reading; one lower than the latest is refused unless recorded as a meter replacement, and one more
    than the car's age allows (:func:`max_plausible_km`) always."""
    qs = Vehicle.objects.select_for_update().filter(pk=vehicle_id)
    if owner_user_id is not None:
        qs = qs.filter(owner_id=owner_user_id, status=Vehicle.Status.OWNED)
    vehicle = qs.first()
    if vehicle is None:
        raise NotFound()
    read_on = read_on or business_date()
    if km < 0 or km > 3_000_000:
        raise Invalid("invalid-odometer", "里程读数无效", "Invalid odometer reading",
                      errors=[FieldError("/km", "应在 0 到 3,000,000 公里之间", "Must be between 0 and 3,000,000 km")])
    if read_on > business_date():
        raise Invalid("invalid-date", "读数日期不能晚于今天", "Reading date is in the future",
                      errors=[FieldError("/read_on", "不能晚于今天", "Must not be in the future")])
    _require_plausible(km, vin=vehicle.vin, registration_date=vehicle.registration_date, on=read_on, pointer="/km")
    last = selectors.latest_odometer_km(vehicle.pk)
    if last is not None and km < last and not meter_replaced:
        raise Invalid("odometer-rollback", f"里程 {km} 公里低于上次读数 {last} 公里；若更换过仪表请注明",
                      f"{km} km is lower than the last reading of {last} km; mark it as a meter replacement if so",
                      errors=[FieldError("/km", f"不得低于 {last}", f"Must not be lower than {last}")])
    reading = OdometerReading.objects.create(vehicle=vehicle, km=km, read_on=read_on, source=source,
                                             meter_replaced=meter_replaced)
    if meter_replaced:
        audit.record(_subject_ref(owner_user_id), "vehicles.meter_replaced", "vehicles.vehicle", vehicle.pk,
                     {"previous_km": last, "km": km})
    return reading


INSPECTOR_ROLES = (authz.STORE_MANAGER, authz.TECHNICIAN)


def inspect_vehicle(subject: Subject, *, vin: str, grade: str, odometer_km: int, inspected_on: dt.date | None = None,
                    inspector_org_id: uuid.UUID | None = None, notes: str = "") -> tuple[uuid.UUID, uuid.UUID]:
    """A store's staff (for their store: the one named, else their first) or operations record an inspection of the
    car with this VIN; returns (report id, vehicle id)."""
    subject.require_authenticated()
    org_id = inspector_org_id
    own_orgs = sorted(subject.org_ids(*INSPECTOR_ROLES))
    if org_id is None and own_orgs:
        org_id = own_orgs[0]
    if not subject.has_role(authz.OPS) and not subject.in_org(org_id, *INSPECTOR_ROLES):
        raise Forbidden()
    vehicle_id = selectors.vehicle_id_for_vin(vin)
    if vehicle_id is None:
        raise NotFound()
    report_id = record_condition_report(vehicle_id=vehicle_id, grade=grade, odometer_km=odometer_km,
                                        inspected_on=inspected_on, inspector_org_id=org_id, notes=notes,
                                        actor=subject.ref)
    return report_id, vehicle_id


@transaction.atomic
def record_condition_report(*, vehicle_id: uuid.UUID, grade: str, odometer_km: int, inspected_on: dt.date | None = None,
                            inspector_org_id: uuid.UUID | None = None, notes: str = "",
                            actor: str = "system") -> uuid.UUID:
    """Store an inspection result and publish ``vehicles.condition_report.created``."""
    if grade not in ConditionReport.Grade.values:
        raise Invalid("invalid-grade", "车况等级应为 A–E", "Condition grade must be A to E",
                      errors=[FieldError("/grade", "A–E", "A to E")])
    vehicle = Vehicle.objects.filter(pk=vehicle_id).first()
    if vehicle is None:
        raise NotFound()
    inspected_on = inspected_on or business_date()
    _require_plausible(odometer_km, vin=vehicle.vin, registration_date=vehicle.registration_date, on=inspected_on,
                       pointer="/odometer_km")
    last = selectors.latest_odometer_km(vehicle.pk)
    if last is None or odometer_km >= last:
        record_odometer(vehicle_id=vehicle.pk, km=odometer_km, read_on=inspected_on, source="inspection")
    report = ConditionReport.objects.create(vehicle=vehicle, grade=grade, inspected_on=inspected_on,
                                            odometer_km=odometer_km, inspector_org_id=inspector_org_id, notes=notes)
    audit.record(actor, "vehicles.condition_report.created", "vehicles.vehicle", vehicle.pk, {"grade": grade})
    events.publish(CONDITION_REPORT_CREATED, f"vehicles:vehicle:{vehicle.pk}", {
        "report_id": str(report.pk), "vehicle_id": str(vehicle.pk),
        "owner_user_id": str(vehicle.owner_id) if vehicle.owner_id else None, "trim_id": str(vehicle.trim_id or ""),
        "grade": grade, "odometer_km": odometer_km, "inspected_on": inspected_on.isoformat(),
        "inspector_org_id": str(inspector_org_id) if inspector_org_id else None,
    }, actor=actor)
    return report.pk


def value(vehicle_id: uuid.UUID | str, as_of: dt.date | None = None) -> Valuation:
    """Valuation from age, mileage, brand tier and powertrain residual curves and the latest condition grade."""
    vehicle = Vehicle.objects.select_related("trim__series__brand").filter(pk=vehicle_id).first()
    if vehicle is None:
        raise NotFound()
    as_of = as_of or business_date()
    if vehicle.trim is not None:
        msrp, powertrain, tier = vehicle.trim.msrp_fen, vehicle.trim.powertrain, vehicle.trim.series.brand.tier
    elif vehicle.reference_price_fen and vehicle.powertrain:
        msrp, powertrain, tier = vehicle.reference_price_fen, vehicle.powertrain, "mainstream"
    else:
        raise Invalid("valuation-unavailable", "缺少新车指导价或动力类型，无法估值",
                      "The new price or the powertrain is missing, so the vehicle cannot be valued")
    registered = vehicle.registration_date or as_of
    odometer = selectors.latest_odometer_km(vehicle.pk) or 0
    return appraise(ValuationInput(msrp, powertrain, tier, registered, odometer,
                                   selectors.latest_condition_grade(vehicle.pk)), as_of)


@transaction.atomic
def allocate_stock(*, trim_id: uuid.UUID, colour_code: str) -> OwnedVehicle | None:
    """Reserve one stock vehicle of the trim and colour (skipping rows other orders are locking)."""
    vehicle = (Vehicle.objects.select_for_update(skip_locked=True)
               .filter(trim_id=trim_id, colour_code=colour_code, status=Vehicle.Status.STOCK)
               .order_by("created_at").first())
    if vehicle is None:
        return None
    vehicle.status = Vehicle.Status.ALLOCATED
    vehicle.save(update_fields=["status", "updated_at"])
    return selectors.owned_dto(vehicle)


@transaction.atomic
def release_allocation(vehicle_id: uuid.UUID) -> None:
    Vehicle.objects.filter(pk=vehicle_id, status=Vehicle.Status.ALLOCATED).update(status=Vehicle.Status.STOCK)


@transaction.atomic
def hand_over_to_owner(*, vehicle_id: uuid.UUID, owner_user_id: uuid.UUID, registration_date: dt.date,
                       odometer_km: int = 0) -> OwnedVehicle:
    """Delivery: the allocated vehicle joins the buyer's garage."""
    vehicle = Vehicle.objects.select_for_update().filter(pk=vehicle_id, status=Vehicle.Status.ALLOCATED).first()
    if vehicle is None:
        raise Conflict("vehicle-not-allocated", "车辆未分配给该订单", "The vehicle is not allocated")
    vehicle.owner_id = owner_user_id
    vehicle.status = Vehicle.Status.OWNED
    vehicle.registration_date = registration_date
    vehicle.save(update_fields=["owner", "status", "registration_date", "updated_at"])
    OdometerReading.objects.create(vehicle=vehicle, km=odometer_km, read_on=registration_date, source="delivery")
    audit.record(_subject_ref(owner_user_id), "vehicles.delivered", "vehicles.vehicle", vehicle.pk, {})
    return selectors.owned_dto(vehicle)


@transaction.atomic
def mark_traded_in(*, vehicle_id: uuid.UUID, owner_user_id: uuid.UUID, odometer_km: int | None = None) -> None:
    """The customer handed the car over to the platform as a trade-in."""
    vehicle = _owned_for_update(owner_user_id, vehicle_id)
    if odometer_km is not None:
        record_odometer(vehicle_id=vehicle.pk, km=odometer_km, source="trade_in")
    vehicle.status = Vehicle.Status.TRADED_IN
    vehicle.owner = None
    vehicle.save(update_fields=["status", "owner", "updated_at"])
    audit.record(_subject_ref(owner_user_id), "vehicles.traded_in", "vehicles.vehicle", vehicle.pk, {})
