"""Every error under /api/ as JSON `{"error": code, "detail": text}` with the right status."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.db import DataError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.urls import Resolver404, resolve
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

from store.availability import database
from store.errors import HubError

logger = logging.getLogger(__name__)

STATUS_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    429: "throttled",
}

View = Callable[..., Any]


def error_response(
    status: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> HttpResponse:
    return JsonResponse({"error": code, "detail": detail}, status=status, headers=headers)


def install_error_handlers(api: NinjaAPI) -> None:
    for handled in HANDLED:
        api.add_exception_handler(handled, to_response)


HANDLED: tuple[type[Exception], ...] = (
    HubError,
    ValidationError,
    HttpError,
    Http404,
    PermissionDenied,
    SuspiciousOperation,
    Exception,
)


def to_response(request: HttpRequest, exc: object) -> HttpResponse:
    """The JSON error for an exception raised while answering an API request."""
    if isinstance(exc, HubError):
        return error_response(exc.status, exc.code, exc.detail)
    if isinstance(exc, ValidationError):
        return error_response(400, "invalid_request", _validation_detail(exc))
    if isinstance(exc, AuthenticationError):
        return _unauthenticated(request)
    if isinstance(exc, HttpError):
        return error_response(exc.status_code, STATUS_CODES.get(exc.status_code, "error"), str(exc))
    if isinstance(exc, Http404):
        return error_response(404, "not_found", "Nothing is at this address.")
    if isinstance(exc, PermissionDenied):
        return error_response(403, "forbidden", str(exc) or "Not allowed.")
    if isinstance(exc, RequestDataTooBig):
        return error_response(413, "payload_too_large", "The request body is too large.")
    if isinstance(exc, SuspiciousOperation):
        return error_response(400, "invalid_request", "The request was refused as suspicious.")
    if isinstance(exc, OverflowError | DataError):
        # A number or date past what a column holds (an id of 23 digits, a time past year 9999).
        return error_response(400, "invalid_request", "A value in the request is out of range.")
    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable in %s %s: %s", request.method, request.path, exc)
        database.report_outage()
        return error_response(
            503, "database_unavailable", "The database is unreachable; retry later.", {"Retry-After": "5"}
        )
    cause = exc if isinstance(exc, BaseException) else None
    logger.error("unhandled error in %s %s", request.method, request.path, exc_info=cause)
    return error_response(500, "internal_error", "The hub failed to answer; the error is logged.")


def _validation_detail(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors:
        # loc is (source, field, ...): ("query", "limit") reads as "query.limit".
        where = ".".join(str(part) for part in error.get("loc", ()))
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    return "; ".join(problems) or "The request is not valid."


def _unauthenticated(request: HttpRequest) -> HttpResponse:
    if request.headers.get("Authorization"):
        detail = "The bearer token is unknown, expired or its user is inactive."
    else:
        detail = "Send `Authorization: Bearer <token>` or log in."
    return error_response(401, "unauthenticated", detail, {"WWW-Authenticate": 'Bearer realm="api"'})


def not_found_view(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
    """Any /api/ address that names no endpoint (registered last)."""
    path = request.path_info
    if not path.endswith("/") and request.method in ("GET", "HEAD"):
        try:
            match = resolve(path + "/")
        except Resolver404:
            match = None
        if match is not None and match.func is not not_found_view:
            return error_response(404, "not_found", f"No endpoint here; did you mean {request.path}/ ?")
    return error_response(404, "not_found", f"No endpoint at {request.path}.")


def json_not_allowed(view: View) -> View:
    """`view` with ninja's plain-text 405 turned into the JSON error shape (keeping `Allow`)."""

    def convert(response: HttpResponseBase) -> HttpResponseBase:
        if response.status_code != 405 or response.get("Content-Type", "").startswith("application/json"):
            return response
        allowed = response.get("Allow", "")
        return error_response(
            405, "method_not_allowed", f"Allowed methods: {allowed}.", {"Allow": allowed} if allowed else None
        )

    if asyncio.iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return convert(await view(request, *args, **kwargs))

        return async_wrapper

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return convert(view(request, *args, **kwargs))

    return wrapper
