"""Authentication: sign-in by username or mobile number, and bearer tokens for the API."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from carloop.core import pii
from carloop.identity.models import User


class PhoneOrUsernameBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any) -> User | None:
        if not username or not password:
            return None
        user = User.objects.filter(username=username).first()
        if user is None and username.strip().lstrip("+").isdigit():
            user = User.objects.filter(phone_index=pii.blind_index("phone", username)).first()
        if user is not None and user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
