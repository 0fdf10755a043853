"""The console page (staff only) and its static files.

The app serves its own scripts and style sheet through the staticfiles finders: the hub runs under
daphne alone, which serves no static files, and the console must work without a build or collectstatic.
The socket client it imports is the one apps use, read from clients/js/ (its one copy, which `npm pack`
also packs), so the console always runs the client of this very commit.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.contrib.staticfiles import finders
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_safe

ASSET_TYPES = {
    "console.js": "text/javascript; charset=utf-8",
    "hub-client.js": "text/javascript; charset=utf-8",
    "team.js": "text/javascript; charset=utf-8",
    "templates.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
# Assets that live outside the console app, by name; the others are `console/<name>` of the finders.
OUTSIDE_ASSETS = {"hub-client.js": Path(settings.BASE_DIR) / "clients" / "js" / "hub-client.js"}
INBOX_SOCKET_PATH = "/ws/whatsapp/inbox/"
YEAR_SECONDS = 365 * 24 * 3600


@cache
def _asset(name: str) -> tuple[bytes, str]:
    """The bytes of asset `name` and a short hash of them (the cache-busting version)."""
    found = OUTSIDE_ASSETS.get(name) or finders.find(f"console/{name}")
    if not isinstance(found, str | Path):
        raise Http404("No such console asset.")
    data = Path(found).read_bytes()
    return data, hashlib.sha256(data).hexdigest()[:12]


def asset_version(name: str) -> str:
    if settings.DEBUG:
        _asset.cache_clear()
    return _asset(name)[1]


@require_safe
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """The console's script or style sheet; cached for a year when asked for by its current version."""
    if name not in ASSET_TYPES:
        raise Http404("No such console asset.")
    if settings.DEBUG:
        _asset.cache_clear()
    data, version = _asset(name)
    response = HttpResponse(data, content_type=ASSET_TYPES[name])
    if request.GET.get("v") == version:
        response["Cache-Control"] = f"public, max-age={YEAR_SECONDS}, immutable"
    else:
        response["Cache-Control"] = "no-cache"
    return response


def _content_security_policy(request: HttpRequest) -> str:
    """Only this site's script, styles, images and sockets: message text can never load or run anything."""
    host = request.get_host()
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data: blob:",
            "media-src 'self'",
            f"connect-src 'self' ws://{host} wss://{host}",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ]
    )


@require_safe
def console_page(request: HttpRequest) -> HttpResponse:
    """The console: anonymous users go to the login page, users who are not staff get 403."""
    user = request.user
    if not user.is_authenticated:
        return redirect_to_login(request.get_full_path(), settings.LOGIN_URL)
    if not user.is_staff:
        raise PermissionDenied("The console is for staff users.")
    config = {
        "api": "/api/whatsapp/",
        "inbox": INBOX_SOCKET_PATH,
        "client": f"{reverse('console:asset', args=['hub-client.js'])}?v={asset_version('hub-client.js')}",
        "csrf_token": get_token(request),
        "username": user.get_username(),
        "login_url": f"{settings.LOGIN_URL}?next={reverse('console:index')}",
    }
    context = {
        "config": config,
        "script_version": asset_version("console.js"),
        "team_version": asset_version("team.js"),
        "templates_version": asset_version("templates.js"),
        "style_version": asset_version("console.css"),
    }
    response = render(request, "console/index.html", context)
    response["Content-Security-Policy"] = _content_security_policy(request)
    response["Cache-Control"] = "no-store"
    return response
