"""KYC provider adapters: the two-factor real-name check (name + resident ID number) Chinese providers offer.

A provider answers whether a name and an ID number belong together in the national register: ``match``,
``mismatch`` or ``no_record``. It may also fail to answer (timeout, a reply without a result): the adapter then
raises ``ProviderUnavailable`` and the check is asked again later with the same reference, which providers
treat as the same order, so an answer that arrives late is still collected.

``settings.KYC_PROVIDER`` selects the adapter: ``simulator`` (demo and tests), ``none`` (nobody is verified;
the default in production until a licensed provider's adapter is configured) or the dotted path of a class
implementing ``KycProvider``. The simulator is refused in production.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from carloop.core import pii
from carloop.identity.models import KycSimulatorRecord


class Outcome(StrEnum):
    MATCH = "match"
    MISMATCH = "mismatch"
    NO_RECORD = "no_record"


@dataclass(frozen=True)
class KycAnswer:
    outcome: Outcome
    provider_ref: str = ""


class ProviderUnavailable(Exception):  # noqa: N818 - a condition, not a programming error
    """The provider gave no usable answer this time (timeout, connection error, a reply without a result)."""


class KycProvider(Protocol):
    name: str

    def check(self, *, reference: str, real_name: str, id_number: str, retry: bool) -> KycAnswer:
        """Ask whether ``real_name`` holds ``id_number``; ``reference`` identifies the order across retries."""
        ...


class NoProvider:
    """No provider configured: every check stays unanswered, so declarations stay self-declared."""

    name = "none"

    def check(self, *, reference: str, real_name: str, id_number: str, retry: bool) -> KycAnswer:
        raise ProviderUnavailable("no KYC provider is configured (CARLOOP_KYC_PROVIDER)")


# The simulator's scripted test data (documented in docs/identity.md). Every number has a valid checksum.
SIMULATED_PEOPLE = {
    "11010519491231002X": "张三",  # the GB 11643 example number
    "110105198001010016": "李四",
}
SIMULATED_TIMEOUT = "110105198001010024"  # never answers in time
SIMULATED_NO_RESULT = "110105198001010032"  # answers without a result
SIMULATED_LATE = ("110105198001010040", "王五")  # times out on the first call, answers "match" when asked again


def _name_digest(real_name: str) -> str:
    return hmac.new(settings.SECRET_KEY.encode(), f"kyc-simulator:{real_name.strip()}".encode(), hashlib.sha256).hexdigest()


class SimulatorProvider:
    """Answers from the scripted test data and from its register of enrolled people (``enrol``).

    A number it knows under another name is a mismatch; a number it does not know is ``no_record`` — a valid
    checksum alone is never a match.
    """

    name = "simulator"

    def check(self, *, reference: str, real_name: str, id_number: str, retry: bool) -> KycAnswer:
        number = pii.normalize("id_number", id_number)
        if number in (SIMULATED_TIMEOUT, SIMULATED_NO_RESULT) or (number == SIMULATED_LATE[0] and not retry):
            raise ProviderUnavailable(f"simulated: no answer for order {reference}")
        ref = f"sim-{reference}"
        known = SIMULATED_PEOPLE.get(number) or (SIMULATED_LATE[1] if number == SIMULATED_LATE[0] else None)
        if known is not None:
            return KycAnswer(Outcome.MATCH if known == real_name.strip() else Outcome.MISMATCH, ref)
        record = KycSimulatorRecord.objects.filter(id_index=pii.blind_index("id_number", number)).first()
        if record is None:
            return KycAnswer(Outcome.NO_RECORD, ref)
        return KycAnswer(Outcome.MATCH if hmac.compare_digest(record.name_digest, _name_digest(real_name)) else Outcome.MISMATCH, ref)

    @staticmethod
    def enrol(real_name: str, id_number: str) -> None:
        """Put a person into the simulated register (seeds and tests), so the simulator confirms them."""
        KycSimulatorRecord.objects.update_or_create(id_index=pii.blind_index("id_number", id_number),
                                                    defaults={"name_digest": _name_digest(real_name)})


BACKENDS: dict[str, type[KycProvider]] = {"simulator": SimulatorProvider, "none": NoProvider}


def provider() -> KycProvider:
    configured = settings.KYC_PROVIDER
    cls: type[KycProvider] = BACKENDS.get(configured) or import_string(configured)
    if settings.PRODUCTION and cls is SimulatorProvider:
        raise ImproperlyConfigured("CARLOOP_PRODUCTION is set: the KYC simulator cannot verify real people; "
                                   "set CARLOOP_KYC_PROVIDER to a licensed provider's adapter (or `none`).")
    return cls()
