"""The JSON API: one NinjaAPI, each app's ``api.router`` mounted at /api/v1/<app>/, problem+json errors."""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import Http404, HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from carloop.core.discovery import app_modules
from carloop.core.errors import FieldError, NotFound, Problem, Unauthorized
from carloop.core.http import PROBLEM_TYPE, REQUIRED, JsonParser, document_problems
from carloop.core.i18n import current

log = logging.getLogger(__name__)


class CarloopAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None) -> Any:
        return document_problems(super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params))


api = CarloopAPI(
    title="carloop API",
    version="1",
    description="The car-ownership loop: identity, ledger, vehicles, commerce, finance and risk. "
    "Amounts are yuan decimal strings; errors are RFC 9457 problem+json.",
    auth=REQUIRED,
    parser=JsonParser(),
    urls_namespace="api",
    docs_url="/docs",
)


def problem_response(request: HttpRequest, problem: Problem) -> HttpResponse:
    response = api.create_response(request, problem.as_dict(current(), instance=request.path), status=problem.status)
    response["Content-Type"] = PROBLEM_TYPE
    for name, value in problem.headers.items():
        response[name] = value
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
    if isinstance(exc.__cause__, Problem):  # raised while ninja parsed the body (JsonParser)
        return problem_response(request, exc.__cause__)
    return problem_response(request, Problem(exc.status_code, "http-error", str(exc), str(exc)))


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem_response(request, Problem(413, "payload-too-large", "请求体超过上传上限", "The request body is larger than the upload limit"))


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem_response(request, Problem(500, "internal-error", "服务器内部错误，我们已记录此问题", "Internal server error; it has been logged"))


for label, module in app_modules("api"):
    router = getattr(module, "router", None)
    if router is not None:
        api.add_router(f"/v1/{label}/", router)
