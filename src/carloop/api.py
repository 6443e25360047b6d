"""The JSON API: one NinjaAPI, each app's ``api.router`` mounted at /api/v1/<app>/, problem+json errors."""

from __future__ import annotations

import logging
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer
from ninja.utils import check_csrf

from carloop.core.discovery import app_modules
from carloop.core.errors import FieldError, NotFound, Problem, Unauthorized
from carloop.core.i18n import current

log = logging.getLogger(__name__)

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}


class CarloopAuth(HttpBearer):
    """Bearer token or session. Anonymous callers pass through; each endpoint decides what it needs.

    A session-authenticated unsafe request must carry a CSRF token; token-authenticated requests need none.
    """

    def __call__(self, request: HttpRequest) -> Any:
        header = request.headers.get("Authorization", "")
        if header:
            scheme, _, secret = header.partition(" ")
            if scheme.lower() != "bearer" or not secret.strip():
                raise Unauthorized()
            return self.authenticate(request, secret.strip())
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise Problem(403, "csrf-failed", "CSRF 校验失败，请刷新页面后重试", "CSRF verification failed; reload the page and retry")
        return user if user is not None and user.is_authenticated else "anonymous"

    def authenticate(self, request: HttpRequest, token: str) -> Any:
        from carloop.identity.services import authenticate_token

        user = authenticate_token(token)
        if user is None:
            raise Problem(401, "invalid-token", "访问令牌无效、已过期或已吊销", "The API token is invalid, expired or revoked")
        request.user = user
        return user


api = NinjaAPI(
    title="carloop API",
    version="1",
    description="The car-ownership loop: identity, ledger, vehicles, commerce, finance and risk. "
    "Amounts are yuan decimal strings; errors are RFC 9457 problem+json.",
    auth=CarloopAuth(),
    urls_namespace="api",
    docs_url="/docs",
)


def problem_response(request: HttpRequest, problem: Problem) -> HttpResponse:
    response = api.create_response(request, problem.as_dict(current(), instance=request.path), status=problem.status)
    response["Content-Type"] = "application/problem+json"
    return response


@api.exception_handler(Problem)
def _problem(request: HttpRequest, exc: Problem) -> HttpResponse:
    return problem_response(request, exc)


def _pointer(loc: list[Any] | tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "form", "cookie"}:
        source = parts.pop(0)
        if source == "body" and parts:
            parts.pop(0)  # ninja names the body parameter itself; the pointer starts inside the body
        if source != "body":
            parts.insert(0, source)
    return "/" + "/".join(parts)


@api.exception_handler(NinjaValidationError)
def _validation(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [FieldError(_pointer(e.get("loc", ())), e.get("msg", "无效"), e.get("msg", "Invalid")) for e in exc.errors]
    return problem_response(request, Problem(422, "validation-error", "请求参数校验失败", "The request is invalid", errors=errors))


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem_response(request, NotFound())


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem_response(request, Unauthorized())


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problem_response(request, Problem(exc.status_code, "http-error", str(exc), str(exc)))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(request, Problem(500, "internal-error", "服务器内部错误，我们已记录此问题", "Internal server error; it has been logged"))


for label, module in app_modules("api"):
    router = getattr(module, "router", None)
    if router is not None:
        api.add_router(f"/v1/{label}/", router)
