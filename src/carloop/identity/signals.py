"""Login events feed risk (devices, login cities) and the audit trail."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from carloop.core import events
from carloop.core.http import client_ip
from carloop.identity.models import User


@receiver(user_logged_in)
def publish_login(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    payload = {"user_id": str(user.pk)}
    if request is not None:
        payload |= {
            "ip": client_ip(request),
            "device_id": request.headers.get("X-Device-Id", "") or request.COOKIES.get("carloop_device", ""),
            "city": request.headers.get("X-City", ""),
            "user_agent": request.headers.get("User-Agent", "")[:200],
        }
    events.publish("identity.login", f"identity:user:{user.pk}", payload, actor=f"user:{user.pk}")
