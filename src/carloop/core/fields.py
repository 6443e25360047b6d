"""Model fields shared by every app."""

from __future__ import annotations

from typing import Any

from django.db import models

from carloop.core import pii


class EncryptedTextField(models.TextField):  # type: ignore[type-arg]
    """Text encrypted at rest with the deployment's field key; reads return clear text to the service layer."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else pii.decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value in (None, "") else pii.encrypt(str(value))
