"""Idempotency-Key support for state-changing API operations.

Decorate a django-ninja view (below the router decorator)::

    @router.post("/transfers", response={201: TransferOut})
    @idempotent
    def create_transfer(request, body: TransferIn): ...

The first request with a key runs the view and stores its response (status and body) in the same transaction
as the view's own writes; a replay with the same key and the same request returns the stored response with its
original status (a 201 stays a 201) and the header ``Idempotent-Replayed: true``; the same key with a different
request is 422 ``idempotency-key-reused``. Keys are scoped per caller and per operation: another caller's key is
another key. Requests are compared by content: method, path, query and the JSON body as data (key order and
whitespace do not matter; ``1`` and ``1.0`` and ``"1"`` differ). Requests without the header run normally;
``required=True`` refuses them. Anonymous callers have no scope: their keys are ignored.
The view must return a pydantic schema instance (or ``Status(code, schema)``) so the response can be stored.

A service that must be exactly-once for its own callers (a ledger transfer id, a repayment key) takes an id
stored unique on the row it creates; an API view passes :func:`service_key` so the service's id is scoped the
same way as the request's key.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar, overload

from django.db import IntegrityError, transaction
from django.http import HttpRequest, HttpResponse
from ninja.responses import Response, Status

from carloop.core.errors import FieldError, Invalid
from carloop.core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


def _caller(request: HttpRequest) -> str | None:
    user = getattr(request, "user", None)
    return f"user:{user.pk}" if user is not None and user.is_authenticated else None


def _scope(caller: str, request: HttpRequest, operation: str) -> str:
    return f"{caller}|{request.method}|{operation}"[:200]


def _canonical(value: Any) -> Any:
    """JSON data in a form whose ``repr`` ignores key order (objects become sorted tuples of pairs)."""
    if isinstance(value, dict):
        return tuple(sorted((key, _canonical(item)) for key, item in value.items()))
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    return value


def _hash(request: HttpRequest) -> str:
    body = request.body
    try:
        # float-ok: JSON numbers are read as Decimals, so 1.0 and 1.00 stay what they were written as
        content = repr(_canonical(json.loads(body, parse_float=Decimal))).encode() if body else b""
    except ValueError:
        content = b"raw:" + body
    query = "&".join(sorted(request.META.get("QUERY_STRING", "").split("&")))
    return hashlib.sha256(b"\n".join([str(request.method).encode(), request.path.encode(), query.encode(), content])).hexdigest()


def service_key(request: HttpRequest) -> str | None:
    """The request's Idempotency-Key scoped to its caller, as a stable id a service can store (None without one)."""
    key = request.headers.get(HEADER, "").strip()
    caller = _caller(request)
    if not key or caller is None:
        return None
    return "idem:" + hashlib.sha256(f"{caller}\n{key}".encode()).hexdigest()


def _replay(record: IdempotencyRecord) -> HttpResponse:
    response = HttpResponse(bytes(record.response_body), status=record.status_code, content_type=record.content_type)
    response[REPLAY_HEADER] = "true"
    return response


F = TypeVar("F", bound=Callable[..., Any])


@overload
def idempotent(view: F) -> F: ...


@overload
def idempotent(*, required: bool = False) -> Callable[[F], F]: ...


def idempotent(view: Callable[..., Any] | None = None, *, required: bool = False) -> Any:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        operation = f"{func.__module__}.{func.__qualname__}"

        @functools.wraps(func)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            key = request.headers.get(HEADER, "").strip()
            caller = _caller(request)
            if not key and required:
                raise Invalid("idempotency-key-required", "此操作需要 Idempotency-Key 请求头",
                              "This operation requires an Idempotency-Key header",
                              errors=[FieldError("/headers/Idempotency-Key", "缺少请求头", "Header missing")])
            if not key or caller is None:
                return func(request, *args, **kwargs)
            if len(key) > 200:
                raise Invalid("idempotency-key-invalid", "Idempotency-Key 过长（最多 200 个字符）",
                              "Idempotency-Key is too long (200 characters at most)")
            scope, digest = _scope(caller, request, operation), _hash(request)
            existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
            if existing is not None:
                return _check_and_replay(existing, digest)
            try:
                with transaction.atomic():
                    result = func(request, *args, **kwargs)
                    response = _render(request, result)
                    if response.status_code < 500:
                        IdempotencyRecord.objects.create(
                            scope=scope, key=key, request_hash=digest, status_code=response.status_code,
                            response_body=response.content,
                            content_type=response.get("Content-Type", "application/json"),
                        )
                    return response
            except IntegrityError:
                # A concurrent request with the same key committed first: answer as a replay of it.
                existing = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
                if existing is None:
                    raise
                return _check_and_replay(existing, digest)

        # django-ninja reads the view's signature through ``__wrapped__`` but resolves string annotations (modules
        # with ``from __future__ import annotations``) in the wrapper's globals; hand it the resolved signature.
        wrapper.__signature__ = inspect.signature(func, eval_str=True)  # type: ignore[attr-defined]
        return wrapper

    return decorate(view) if view is not None else decorate


def _check_and_replay(record: IdempotencyRecord, digest: str) -> HttpResponse:
    if record.request_hash != digest:
        raise Invalid("idempotency-key-reused", "该 Idempotency-Key 已用于另一个不同的请求",
                      "This Idempotency-Key was already used for a different request")
    return _replay(record)


def _render(request: HttpRequest, result: Any) -> HttpResponse:
    """Turn a ninja view result into a concrete response so it can be stored."""
    if isinstance(result, HttpResponse):
        return result
    if isinstance(result, Status):
        status, data = result.status_code, result.value
    elif isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
        status, data = result
    else:
        status, data = 200, result
    return Response(_jsonable(data), status=status)


def _jsonable(data: Any) -> Any:
    if hasattr(data, "model_dump"):
        return data.model_dump(mode="json", by_alias=True)
    return data

