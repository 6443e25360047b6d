"""Views in a module with postponed annotations, wrapped by ``@idempotent`` (see test_api_errors)."""

from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

from carloop.core.idempotency import idempotent


class EchoIn(Schema):
    text: str


api = NinjaAPI(urls_namespace="postponed-test")


@api.post("/echo")
@idempotent
def echo(request: HttpRequest, body: EchoIn) -> dict[str, str]:
    return {"text": body.text.upper()}
