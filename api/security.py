"""Who is asking: a bearer token or a Django session, as a `Principal` on `request.auth`."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthenticationError
from ninja.security import APIKeyCookie, HttpBearer
from ninja.utils import check_csrf

from store.auth import Principal, authenticate_token, session_principal
from store.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


class BearerAuth(HttpBearer):
    """`Authorization: Bearer <token>` with a token from `manage.py issue_token`."""

    def __call__(self, request: HttpRequest) -> Principal | None:
        # ninja's own parsing logs an unexpected header whole under DEBUG: it may hold a credential.
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Principal | None:
        return authenticate_token(token)


class SessionAuth(APIKeyCookie):
    """A logged-in staff user (the admin login, as the console requires); unsafe methods also pass
    Django's CSRF check."""

    param_name = settings.SESSION_COOKIE_NAME

    def __init__(self) -> None:
        # The CSRF check runs below, once a session is known: a request without any credentials must
        # get 401, not a CSRF failure.
        super().__init__(csrf=False)

    def authenticate(self, request: HttpRequest, key: str | None) -> Principal | None:
        user = getattr(request, "user", None)
        principal = session_principal(user)
        if principal is None:
            if user is not None and user.is_authenticated and user.is_active:
                raise Forbidden("A session gives API access to staff users only; use a token.", "forbidden")
            return None
        if request.method not in SAFE_METHODS and check_csrf(request) is not None:
            raise Forbidden(
                "CSRF check failed: send the csrftoken cookie's value in X-CSRFToken.", "csrf_failed"
            )
        return principal


def principal_of(request: HttpRequest) -> Principal:
    """The principal the auth classes stored on the request."""
    found = getattr(request, "auth", None)
    if not isinstance(found, Principal):
        raise AuthenticationError()
    return found
