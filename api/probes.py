"""Lets the liveness and readiness probes through Django's Host check, and nothing else.

Orchestrators call probes by the pod's IP address, which is not (and should not be) in ALLOWED_HOSTS;
Django refuses such a request in CommonMiddleware before any view runs. Install
`api.probes.probe_host_middleware` first in MIDDLEWARE: for GET or HEAD of the two probe paths
only, an unknown Host is replaced by an allowed one. Those answers never use the host, so nothing is
spoofed; every other address keeps the full check.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase
from django.http.request import split_domain_port, validate_host
from django.utils.decorators import sync_and_async_middleware

PROBE_PATHS = frozenset({"/api/health/", "/api/ready/"})

Handler = Callable[[HttpRequest], HttpResponseBase]
AsyncHandler = Callable[[HttpRequest], Awaitable[HttpResponseBase]]


@sync_and_async_middleware
def probe_host_middleware(get_response: Handler | AsyncHandler) -> Handler | AsyncHandler:
    if iscoroutinefunction(get_response):
        async_response: AsyncHandler = get_response

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            allow_probe_host(request)
            return await async_response(request)

        return async_middleware

    sync_response: Handler = get_response  # type: ignore[assignment]

    def middleware(request: HttpRequest) -> HttpResponseBase:
        allow_probe_host(request)
        return sync_response(request)

    return middleware


def allow_probe_host(request: HttpRequest) -> None:
    if request.path_info not in PROBE_PATHS or request.method not in ("GET", "HEAD"):
        return
    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        return  # Django then allows the local names by itself.
    domain, _ = split_domain_port(request.META.get("HTTP_HOST", ""))
    if domain and validate_host(domain, allowed):
        return
    stand_in = next((h.lstrip(".") for h in allowed if h and h != "*" and h.lstrip(".")), None)
    if stand_in is not None:
        request.META["HTTP_HOST"] = stand_in
