"""Errors of the store's actions and queries; each carries its HTTP status and a stable code."""

from __future__ import annotations


class HubError(Exception):
    status = 400
    code = "invalid_request"

    def __init__(self, detail: str, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class InvalidRequest(HubError):
    status = 400
    code = "invalid_request"


class Forbidden(HubError):
    status = 403
    code = "forbidden"


class NotFound(HubError):
    status = 404
    code = "not_found"


class OutOfScope(NotFound):
    """A row that exists outside the credential's scope: answered exactly as an unknown one (404, the same
    detail), so that a credential cannot probe which ids exist elsewhere. Sockets still close a
    conversation outside the scope with 4403 (docs/websocket.md)."""


class Conflict(HubError):
    status = 409
    code = "conflict"


class Unprocessable(HubError):
    status = 422
    code = "unprocessable"
