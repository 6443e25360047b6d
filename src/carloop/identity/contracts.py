"""Published identity DTOs."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class CustomerFacts:
    user_id: uuid.UUID
    display_name: str
    kyc_verified: bool  # a KYC provider confirmed name and ID number (never a checksum alone)
    kyc_status: str  # none | self_declared | verified
    kyc_check: str  # the latest provider check as the customer may see it: "" | pending | not_confirmed | confirmed
    real_name: str
    birth_date: date | None
    gender: str
    region_code: str
    city: str
    id_index: str | None  # blind index of the ID number, for blacklist and graph matching
    phone_index: str | None
    id_number_masked: str
    phone_masked: str

    def age_on(self, day: date) -> int | None:
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))


@dataclass(frozen=True)
class OrganisationInfo:
    id: uuid.UUID
    kind: str
    name: str
    uscc: str
    city: str
    status: str
