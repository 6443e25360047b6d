"""The API's edge: authentication before anything else, JSON-only bodies, and problem+json for every refusal.

``carloop.api`` builds the one ``NinjaAPI`` from these parts. Apps use :data:`PUBLIC` (with
:data:`PUBLIC_DOC`) on the few operations anonymous callers may use; every other operation requires a caller,
checked before the body is parsed or validated, so an anonymous call is 401 whatever its body.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from ninja.parser import Parser
from ninja.security import HttpBearer
from ninja.types import DictStrAny
from ninja.utils import check_csrf

from carloop.core.errors import Problem, Unauthorized
from carloop.core.i18n import current

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PROBLEM_TYPE = "application/problem+json"


_token_authenticator: Callable[[str], Any] | None = None


def client_ip(request: HttpRequest) -> str:
    """The caller's address: ``REMOTE_ADDR``, or behind our reverse proxy (``CARLOOP_BEHIND_PROXY``) the address
    that proxy saw, which it appended last to ``X-Forwarded-For``. Earlier entries are whatever the client sent."""
    if settings.BEHIND_PROXY:
        forwarded = [part.strip() for part in request.headers.get("X-Forwarded-For", "").split(",") if part.strip()]
        if forwarded:
            return forwarded[-1]
    return str(request.META.get("REMOTE_ADDR", ""))


def set_token_authenticator(authenticate: Callable[[str], Any]) -> None:
    """Identity registers the function that turns a bearer token into a user (or None) in ``ready()``."""
    global _token_authenticator
    _token_authenticator = authenticate


class CarloopAuth(HttpBearer):
    """Bearer token or session; anonymous callers are 401 unless the operation is ``optional`` (public).

    A session-authenticated unsafe request must carry a CSRF token; token-authenticated requests need none.
    """

    def __init__(self, *, optional: bool = False) -> None:
        super().__init__()
        self.optional = optional
        if optional:
            # A public operation documents "token optional" itself (PUBLIC_DOC), not "token required".
            del self.openapi_security_schema

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise Unauthorized()
            return self.authenticate(request, secret.strip())
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if request.method not in SAFE_METHODS and check_csrf(request) is not None:
                raise Problem(403, "csrf-failed", "CSRF 校验失败，请刷新页面后重试", "CSRF verification failed; reload the page and retry")
            return user
        return "anonymous" if self.optional else None

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        user = _token_authenticator(token) if _token_authenticator is not None else None
        if user is None:
            raise Problem(401, "invalid-token", "访问令牌无效、已过期或已吊销", "The API token is invalid, expired or revoked")
        request.user = user
        return user


REQUIRED = CarloopAuth()
PUBLIC = CarloopAuth(optional=True)
PUBLIC_DOC: dict[str, Any] = {"security": [{}, {"CarloopAuth": []}]}
"""``openapi_extra`` for a public operation: callable without a token, or with one."""


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


class JsonParser(Parser):
    """Request bodies are JSON, declared as such: anything else is 415, malformed JSON is 400."""

    def parse_body(self, request: HttpRequest) -> DictStrAny:
        if not _is_json(request.content_type or ""):
            raise Problem(415, "unsupported-media-type", "请求体须为 JSON（Content-Type: application/json）",
                          "The request body must be JSON (Content-Type: application/json)")
        try:
            data: DictStrAny = json.loads(request.body)
        except ValueError:
            raise Problem(400, "invalid-json", "请求体不是有效的 JSON", "The request body is not valid JSON") from None
        return data


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; detail is in the negotiated language, detail_i18n has both.",
    "type": "object",
    "required": ["type", "title", "status", "detail", "detail_i18n"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "detail_i18n": {"type": "object", "additionalProperties": {"type": "string"}},
        "instance": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object", "required": ["pointer", "detail"],
            "properties": {"pointer": {"type": "string"}, "detail": {"type": "string"},
                           "detail_i18n": {"type": "object", "additionalProperties": {"type": "string"}}},
        }},
    },
}

_WRITE_METHODS = {"post", "put", "patch", "delete"}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Add the Problem component and each operation's 4xx answers (all problem+json) to an OpenAPI schema."""
    schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    content = {PROBLEM_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}

    def answer(description: str) -> dict[str, Any]:
        return {"description": description, "content": content}

    for operations in schema.get("paths", {}).values():
        for method, op in operations.items():
            responses = op.setdefault("responses", {})
            extra = {"4XX": answer("Refused: a problem (RFC 9457)")}
            if {} not in op.get("security", [{}]):
                extra["401"] = answer("No caller, or an invalid token")
            if op.get("parameters") or op.get("requestBody"):
                extra["422"] = answer("Invalid input, with a JSON pointer per field")
            if any(p.get("in") == "path" for p in op.get("parameters", [])):
                extra["404"] = answer("Not found, or not the caller's to see")
            if method in _WRITE_METHODS:
                extra["403"] = answer("The caller may see this but not do it")
                extra["409"] = answer("The object's state does not allow it")
            if op.get("requestBody"):
                extra["413"] = answer("The body is larger than the upload limit")
                extra["415"] = answer("The body is not JSON")
            for status, spec in extra.items():
                responses.setdefault(status, spec)
    return schema


class ApiProblemMiddleware:
    """Under /api/, answers that Django or ninja give themselves (405, an unknown path's 404, the site's 403 and
    500 pages) are problem+json too."""

    _PROBLEMS = {
        403: ("forbidden", "无权执行此操作", "You are not allowed to do this"),
        404: ("not-found", "未找到该对象", "Not found"),
        405: ("method-not-allowed", "此路径不支持该请求方法", "This method is not allowed on this path"),
        500: ("internal-error", "服务器内部错误，我们已记录此问题", "Internal server error; it has been logged"),
    }

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        known = self._PROBLEMS.get(response.status_code)
        if known is None or not request.path.startswith("/api/") or response.get("Content-Type", "").startswith(PROBLEM_TYPE):
            return response
        problem = Problem(response.status_code, *known)
        replacement = HttpResponse(json.dumps(problem.as_dict(current(), instance=request.path), ensure_ascii=False),
                                   status=response.status_code, content_type=PROBLEM_TYPE)
        if response.has_header("Allow"):
            replacement["Allow"] = response["Allow"]
        return replacement
