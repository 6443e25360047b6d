"""Authentication: sign-in by username or mobile number, and the account key the login throttle counts by."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from carloop.identity.models import User
from carloop.identity.services import canonical_phone, find_account


class PhoneOrUsernameBackend(ModelBackend):
    def authenticate(self, request: HttpRequest | None, username: str | None = None, password: str | None = None, **kwargs: Any) -> User | None:
        if not username or not password:
            return None
        user = find_account(username.strip())
        if user is not None and user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None


def lockout_key(request: HttpRequest | None, credentials: dict[str, Any] | None = None) -> str:
    """What django-axes counts failures against: the account, whichever of its names was typed.

    A name that designates no account is counted under its canonical form (a phone number without spaces or
    +86), so unknown names lock exactly like known ones and the lock reveals nothing about who is registered.
    """
    typed = ""
    if credentials:
        typed = str(credentials.get("username") or "")
    elif request is not None:
        typed = str(request.POST.get("username", ""))
    typed = typed.strip()
    user = find_account(typed)
    if user is not None:
        return f"account:{user.pk}"
    return canonical_phone(typed) or typed
