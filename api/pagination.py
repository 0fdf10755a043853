"""The `next` link of a keyset-paginated list: the same query with the new cursor."""

from __future__ import annotations

from django.http import HttpRequest


def next_url(request: HttpRequest, cursor: str | None, limit: int) -> str | None:
    """The absolute URL of the next page, keeping every filter the client sent, or None on the last page."""
    if cursor is None:
        return None
    params = request.GET.copy()
    params["cursor"] = cursor
    params["limit"] = str(limit)
    return request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
