"""Personal data: encryption at rest, blind indexes for exact-match lookups, masking for display and logs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings


@cache
def _keys() -> tuple[Fernet, bytes]:
    configured = settings.FIELD_ENCRYPTION_KEY
    if configured:
        fernet_key = configured.encode()
    else:
        fernet_key = base64.urlsafe_b64encode(hashlib.sha256(("fernet:" + settings.SECRET_KEY).encode()).digest())
    index_key = hashlib.sha256(b"blind-index:" + fernet_key).digest()
    return Fernet(fernet_key), index_key


def encrypt(value: str) -> str:
    return _keys()[0].encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _keys()[0].decrypt(token.encode()).decode()
    except InvalidToken as exc:  # a wrong key is a deployment error, not a user error
        raise RuntimeError("PII cannot be decrypted with the configured CARLOOP_FIELD_KEY") from exc


def normalize(kind: str, value: str) -> str:
    value = value.strip()
    if kind in {"phone", "bank_card"}:
        return re.sub(r"[\s-]", "", value).removeprefix("+86")
    if kind in {"id_number", "uscc"}:
        return value.upper().replace(" ", "")
    return value.lower()


def blind_index(kind: str, value: str) -> str:
    """Keyed hash of a normalized value so equal values can be matched without storing them in clear."""
    message = f"{kind}:{normalize(kind, value)}".encode()
    return hmac.new(_keys()[1], message, hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    digits = normalize("phone", phone)
    if len(digits) < 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_id(id_number: str) -> str:
    value = normalize("id_number", id_number)
    if len(value) < 8:
        return "*" * len(value)
    return f"{value[:4]}{'*' * (len(value) - 8)}{value[-4:]}"


def mask_name(name: str) -> str:
    """A person's name as operators see it in lists: the first character, the rest starred (王小明 → 王**)."""
    name = name.strip()
    return f"{name[:1]}{'*' * (len(name) - 1)}" if len(name) > 1 else "*" * len(name)


def mask_bank_card(card: str) -> str:
    digits = normalize("bank_card", card)
    return f"{'*' * max(len(digits) - 4, 0)}{digits[-4:]}"


_ID_RE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
_PHONE_RE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")


def scrub(text: str) -> str:
    """Mask anything in free text that looks like a resident ID number or a mainland mobile number."""
    text = _ID_RE.sub(lambda m: m.group(1)[:4] + "*" * 10 + m.group(3), text)
    return _PHONE_RE.sub(lambda m: f"{m.group(1)}****{m.group(3)}", text)


class MaskPiiFilter(logging.Filter):
    """Logging filter: masks ID and phone numbers in every record before it is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        scrubbed = scrub(message)
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return True
