"""Vehicles API: VIN decoding, the public catalog, the customer's garage, valuations and condition reports."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from ninja import Field, Router, Schema, Status

from carloop.core import authz
from carloop.core.errors import FieldError, NotFound, Problem
from carloop.core.http import PUBLIC, PUBLIC_DOC
from carloop.core.money import Yuan, yuan_str
from carloop.core.timeutil import BusinessDate, business_date
from carloop.identity.selectors import subject_of
from carloop.vehicles import selectors, services
from carloop.vehicles.contracts import OwnedVehicle, TrimInfo
from carloop.vehicles.vin import decode_vin

router = Router(tags=["vehicles"])

class VinIssueOut(Schema):
    code: str
    severity: str
    zh: str
    en: str


class VinOut(Schema):
    vin: str
    valid: bool
    check_digit_ok: bool | None
    wmi: str | None
    manufacturer: str | None
    country: str | None
    model_year: int | None
    errors: list[VinIssueOut]


class ColourOut(Schema):
    code: str
    name: str
    name_zh: str
    hex: str
    price: str


class OptionOut(Schema):
    code: str
    name: str
    name_zh: str
    price: str


class TrimOut(Schema):
    id: uuid.UUID
    code: str
    brand: str
    brand_zh: str
    series: str
    series_zh: str
    body_type: str
    model_year: int
    name: str
    name_zh: str
    powertrain: str
    battery_kwh: Decimal | None
    cltc_range_km: int | None
    seats: int
    msrp: str
    battery_swap_capable: bool
    battery_price: str


class TrimDetailOut(TrimOut):
    colours: list[ColourOut]
    options: list[OptionOut]


class VehicleOut(Schema):
    id: uuid.UUID
    vin: str
    plate: str
    brand: str
    model_name: str
    trim_id: uuid.UUID | None
    registration_date: date | None
    odometer_km: int | None


class VehicleIn(Schema):
    vin: str = Field(..., max_length=40)
    plate: str = Field("", max_length=20)
    registration_date: BusinessDate | None = None
    trim_id: uuid.UUID | None = None
    brand_name: str = Field("", max_length=100)
    model_name: str = Field("", max_length=120)
    powertrain: str = Field("", max_length=4)
    reference_price: Yuan | None = Field(None, description="New price in yuan, for cars outside the catalog")
    odometer_km: int | None = Field(None, ge=0, le=3_000_000)


class OdometerIn(Schema):
    km: int = Field(..., ge=0, le=3_000_000)
    read_on: BusinessDate | None = None
    meter_replaced: bool = False


class OdometerOut(Schema):
    km: int
    read_on: date
    source: str
    meter_replaced: bool


class ValuationOut(Schema):
    vehicle_id: uuid.UUID
    as_of: date
    value: str
    low: str
    high: str
    factors: dict[str, str]


class ConditionReportIn(Schema):
    vin: str = Field(..., max_length=40)
    grade: str = Field(..., max_length=1)
    odometer_km: int = Field(..., ge=0, le=3_000_000)
    inspected_on: BusinessDate | None = None
    notes: str = Field("", max_length=2000)
    inspector_org_id: uuid.UUID | None = None


class ConditionReportOut(Schema):
    id: uuid.UUID
    vehicle_id: uuid.UUID


def trim_out(info: TrimInfo) -> dict[str, Any]:
    return {
        "id": info.id, "code": info.code, "brand": info.brand, "brand_zh": info.brand_zh, "series": info.series,
        "series_zh": info.series_zh, "body_type": info.body_type, "model_year": info.model_year, "name": info.name,
        "name_zh": info.name_zh, "powertrain": info.powertrain, "battery_kwh": info.battery_kwh,
        "cltc_range_km": info.cltc_range_km, "seats": info.seats, "msrp": yuan_str(info.msrp_fen),
        "battery_swap_capable": info.battery_swap_capable, "battery_price": yuan_str(info.battery_price_fen),
    }


def vehicle_out(v: OwnedVehicle) -> dict[str, Any]:
    return {"id": v.id, "vin": v.vin, "plate": v.plate, "brand": v.brand, "model_name": v.model_name,
            "trim_id": v.trim_id, "registration_date": v.registration_date, "odometer_km": v.odometer_km}


@router.get("/vin/{vin}", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response={200: VinOut}, summary="Decode and validate a VIN")
def vin_decode(request: HttpRequest, vin: str) -> Any:
    report = decode_vin(vin)
    if not report.valid:
        # A problem's "errors" are field errors (RFC 9457 shape); the VIN's own findings travel as "issues".
        details = report.as_dict()
        issues = details.pop("errors")
        raise Problem(422, "invalid-vin", "车辆识别代号（VIN）无效", "Invalid vehicle identification number (VIN)",
                      errors=[FieldError("/path/vin", i.zh, i.en) for i in report.errors], extra=details | {"issues": issues})
    return report.as_dict()


@router.get("/catalog/trims", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=list[TrimOut], summary="Active trims (public)")
def catalog_trims(request: HttpRequest, brand: str = "", powertrain: str = "", swap_only: bool = False) -> Any:
    return [trim_out(t) for t in selectors.catalog(brand=brand, powertrain=powertrain, swap_only=swap_only)]


@router.get("/catalog/trims/{trim_id}", auth=PUBLIC, openapi_extra=PUBLIC_DOC, response=TrimDetailOut, summary="One trim with colours and options")
def catalog_trim(request: HttpRequest, trim_id: uuid.UUID) -> Any:
    info = selectors.get_trim(trim_id)
    if info is None or not info.is_active:
        raise NotFound()
    return {**trim_out(info),
            "colours": [{"code": c.code, "name": c.name, "name_zh": c.name_zh, "hex": c.hex, "price": yuan_str(c.price_fen)}
                        for c in selectors.colours(info.series_id)],
            "options": [{"code": o.code, "name": o.name, "name_zh": o.name_zh, "price": yuan_str(o.price_fen)}
                        for o in selectors.options(info.series_id)]}


def _owned(request: HttpRequest, vehicle_id: uuid.UUID) -> tuple[authz.Subject, OwnedVehicle]:
    subject = subject_of(request)
    subject.require_authenticated()
    vehicle = selectors.get_owned_vehicle(subject.user_id, vehicle_id) if subject.user_id else None
    if vehicle is None:
        raise NotFound()
    return subject, vehicle


@router.get("/garage", response=list[VehicleOut], summary="The caller's vehicles")
def garage(request: HttpRequest) -> Any:
    subject = subject_of(request)
    subject.require_authenticated()
    return [vehicle_out(v) for v in selectors.garage(subject.user_id)] if subject.user_id else []


@router.post("/garage", response={201: VehicleOut}, summary="Add a car the caller owns")
def garage_add(request: HttpRequest, body: VehicleIn) -> Any:
    vehicle = services.add_to_garage(
        subject_of(request), vin=body.vin, plate=body.plate, registration_date=body.registration_date,
        trim_id=body.trim_id, brand_name=body.brand_name, model_name=body.model_name, powertrain=body.powertrain,
        reference_price=body.reference_price, odometer_km=body.odometer_km,
    )
    return Status(201, vehicle_out(vehicle))


@router.get("/garage/{vehicle_id}", response=VehicleOut, summary="One of the caller's vehicles")
def garage_vehicle(request: HttpRequest, vehicle_id: uuid.UUID) -> Any:
    return vehicle_out(_owned(request, vehicle_id)[1])


@router.get("/garage/{vehicle_id}/odometer", response=list[OdometerOut], summary="Odometer history")
def odometer_history(request: HttpRequest, vehicle_id: uuid.UUID) -> Any:
    _, vehicle = _owned(request, vehicle_id)
    return [{"km": r.km, "read_on": r.read_on, "source": r.source, "meter_replaced": r.meter_replaced}
            for r in selectors.odometer_history(vehicle.id)]


@router.post("/garage/{vehicle_id}/odometer", response={201: OdometerOut}, summary="Record an odometer reading")
def odometer_add(request: HttpRequest, vehicle_id: uuid.UUID, body: OdometerIn) -> Any:
    subject, vehicle = _owned(request, vehicle_id)
    reading = services.record_odometer(vehicle_id=vehicle.id, km=body.km, read_on=body.read_on,
                                       meter_replaced=body.meter_replaced, owner_user_id=selectors.user_id_of(subject))
    return Status(201, {"km": reading.km, "read_on": reading.read_on, "source": reading.source,
                        "meter_replaced": reading.meter_replaced})


@router.get("/garage/{vehicle_id}/valuation", response=ValuationOut, summary="Current value estimate")
def valuation(request: HttpRequest, vehicle_id: uuid.UUID, as_of: BusinessDate | None = None) -> Any:
    _, vehicle = _owned(request, vehicle_id)
    day = as_of or business_date()
    result = services.value(vehicle.id, day)
    return {"vehicle_id": vehicle.id, "as_of": day, "value": yuan_str(result.value_fen), "low": yuan_str(result.low_fen),
            "high": yuan_str(result.high_fen), "factors": result.factors}


@router.post("/condition-reports", response={201: ConditionReportOut}, summary="Record an inspection (stores, ops)")
def condition_report(request: HttpRequest, body: ConditionReportIn) -> Any:
    report_id, vehicle_id = services.inspect_vehicle(
        subject_of(request), vin=body.vin, grade=body.grade, odometer_km=body.odometer_km,
        inspected_on=body.inspected_on, inspector_org_id=body.inspector_org_id, notes=body.notes)
    return Status(201, {"id": report_id, "vehicle_id": vehicle_id})
