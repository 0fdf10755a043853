"""The hub's one client of Meta's Graph API: sends, read receipts and media, with bounded retries."""

# Endpoints: https://developers.facebook.com/docs/whatsapp/cloud-api/reference/messages and
# https://developers.facebook.com/docs/whatsapp/cloud-api/reference/media

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import random
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import KW_ONLY, dataclass
from types import TracebackType
from typing import Any, Self
from urllib.parse import quote

import httpx

from outbound.error_catalogue import Retry, describe_error

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = httpx.Timeout(20.0, connect=5.0)
# A Retry-After or documented wait longer than this is not slept through: the error goes to the caller
# (the job queue), which can wait without holding a request open.
MAX_DELAY = 60.0
_CODE_PREFIX = re.compile(r"^\(#\d+\)\s*")
# Graph ids (phone_number_id, media id) are numbers; a path is built only from such parts.
_GRAPH_ID = re.compile(r"^[0-9]{1,32}$")
# Errors raised before any byte of the request was written (connection refused, DNS failure, no pooled
# connection in time): they prove Meta received nothing, so they are the only ones a send may repeat.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(eq=False, repr=False)
class GraphError(Exception):
    """A Graph API call failed; carries Meta's error fields and whether trying again can help."""

    message: str
    _: KW_ONLY
    status: int | None = None
    code: int | None = None
    error_subcode: int | None = None
    title: str | None = None
    details: str | None = None
    fbtrace_id: str | None = None
    retryable: bool = False
    retry_after: float | None = None
    # The request was written but no answer proves what Meta did (lost connection, read timeout, a 5xx
    # or an unreadable 200 to a send): Meta may have acted, so the call must not be repeated blindly.
    ambiguous: bool = False

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"title={self.title!r}, retryable={self.retryable!r}, ambiguous={self.ambiguous!r})"
        )


class SendingDisabled(GraphError):
    """WHATSAPP_ACCESS_TOKEN is not set, so the hub cannot send anything to Meta."""


@dataclass(frozen=True, slots=True, kw_only=True)
class SendResult:
    """Meta's answer to an accepted send."""

    wamid: str
    # The customer's WhatsApp id as Meta resolved it; it may differ from the number typed.
    wa_id: str | None
    # The business-scoped user id, when the message was addressed to one.
    user_id: str | None
    input: str | None
    message_status: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class MediaInfo:
    """What `GET /{media_id}` tells about a media object; `url` is short-lived and needs the token."""

    id: str
    url: str
    mime_type: str
    sha256: str
    file_size: int | None


def _int(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _obj(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value.strip() else None
        return None if parsed is None else max(0.0, parsed.timestamp() - time.time())


class GraphClient:
    """One pooled HTTP client per instance; close it with `aclose()` or `async with`."""

    def __init__(
        self,
        base_url: str,
        api_version: str,
        access_token: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: httpx.Timeout | float = DEFAULT_TIMEOUT,
        max_retries: int = 3,
        backoff_base: float = 0.5,
        max_backoff: float = 30.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not access_token:
            raise SendingDisabled("No WhatsApp access token is configured.")
        self.api_version = api_version.strip("/")
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.max_backoff = max_backoff
        self._token = access_token
        self._sleep = sleep
        self._random = random.Random()  # noqa: S311 - jitter, not security
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {access_token}"},
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        )

    def __repr__(self) -> str:
        return f"GraphClient(base_url={str(self._client.base_url)!r}, api_version={self.api_version!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Called once when the owner is done: closes the pooled connections."""
        await self._client.aclose()

    def _path(self, graph_id: str, edge: str = "") -> str:
        """`/{version}/{id}[/{edge}]` from validated, quoted parts: an id can never rewrite the path."""
        if not _GRAPH_ID.match(graph_id):
            raise GraphError(f"{graph_id[:40]!r} is not a Graph API id (digits only).")
        parts = [self.api_version, graph_id, *([edge] if edge else [])]
        return "/" + "/".join(quote(part, safe=".") for part in parts)

    async def send_message(self, phone_number_id: str, payload: Mapping[str, Any]) -> SendResult:
        """POST one message; a send that may have reached Meta is never repeated on a lost answer."""
        body = {**payload, "messaging_product": "whatsapp"}
        data = await self._json("POST", self._path(phone_number_id, "messages"), idempotent=False, json=body)
        messages, contacts = data.get("messages"), data.get("contacts")
        message = (
            messages[0] if isinstance(messages, list) and messages and isinstance(messages[0], dict) else {}
        )
        contact = (
            contacts[0] if isinstance(contacts, list) and contacts and isinstance(contacts[0], dict) else {}
        )
        wamid = _str(message.get("id"))
        if wamid is None:
            raise GraphError("Meta accepted the send but returned no message id.", status=200, ambiguous=True)
        return SendResult(
            wamid=wamid,
            wa_id=_str(contact.get("wa_id")),
            user_id=_str(contact.get("user_id")),
            input=_str(contact.get("input")),
            message_status=_str(message.get("message_status")),
        )

    async def mark_read(self, phone_number_id: str, wamid: str, *, typing: bool = False) -> None:
        """Send the blue ticks for an inbound message (and, for Meta, every earlier one); with `typing`,
        also show the customer that the business is typing (for 25 s or until it replies)."""
        body: dict[str, Any] = {"messaging_product": "whatsapp", "status": "read", "message_id": wamid}
        if typing:
            body["typing_indicator"] = {"type": "text"}
        await self._json("POST", self._path(phone_number_id, "messages"), idempotent=True, json=body)

    async def get_media(self, media_id: str) -> MediaInfo:
        """The short-lived download URL and the checksum of a media object."""
        data = await self._json("GET", self._path(media_id), idempotent=True)
        url, mime_type = _str(data.get("url")), _str(data.get("mime_type"))
        if url is None or mime_type is None:
            raise GraphError(f"Meta's answer for media {media_id} has no url or mime_type.", status=200)
        return MediaInfo(
            id=_str(data.get("id")) or media_id,
            url=url,
            mime_type=mime_type,
            sha256=_str(data.get("sha256")) or "",
            file_size=_int(data.get("file_size")),
        )

    async def list_templates(self, waba_id: str, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every message template of a WABA, page by page with Meta's `after` cursor (never by `next`'s
        URL: the token goes to the configured Graph URL only). A cursor seen twice ends the walk."""
        templates: list[dict[str, Any]] = []
        path, seen = self._path(waba_id, "message_templates"), set[str]()
        params: dict[str, str | int] = {"limit": page_size}
        while True:
            page = await self._json("GET", path, idempotent=True, params=params)
            data, paging = page.get("data"), _obj(page.get("paging"))
            templates.extend(t for t in (data if isinstance(data, list) else []) if isinstance(t, dict))
            after = _str(_obj(paging.get("cursors")).get("after"))
            if not paging.get("next") or after is None or after in seen:
                return templates
            seen.add(after)
            params = {"limit": page_size, "after": after}

    async def download_media(self, url: str, *, max_bytes: int) -> bytes:
        """The bytes behind a `MediaInfo.url`; more than `max_bytes` or a redirect is an error."""
        response = await self._send("GET", url, idempotent=True, stream=True)
        try:
            declared = _int(response.headers.get("Content-Length"))
            if declared is not None and declared > max_bytes:
                raise GraphError(f"Media is {declared} bytes, over the {max_bytes} byte limit.", status=200)
            chunks: list[bytes] = []
            received = 0
            async for chunk in response.aiter_bytes():
                received += len(chunk)
                if received > max_bytes:
                    raise GraphError(f"Media is over the {max_bytes} byte limit.", status=200)
                chunks.append(chunk)
            return b"".join(chunks)
        finally:
            await response.aclose()

    async def upload_media(self, phone_number_id: str, data: bytes, mime_type: str, filename: str) -> str:
        """Upload bytes for a later send; returns the media id."""
        answer = await self._json(
            "POST",
            self._path(phone_number_id, "media"),
            # A repeated upload leaves at most an unused media object; nothing reaches a customer.
            idempotent=True,
            data={"messaging_product": "whatsapp", "type": mime_type},
            files={"file": (filename, data, mime_type)},
        )
        raw_id = answer.get("id")
        media_id = str(raw_id) if isinstance(raw_id, str | int) and str(raw_id) else None
        if media_id is None:
            raise GraphError("Meta accepted the upload but returned no media id.", status=200)
        return media_id

    async def _json(self, method: str, url: str, *, idempotent: bool, **kwargs: Any) -> dict[str, Any]:
        response = await self._send(method, url, idempotent=idempotent, **kwargs)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise GraphError(
                f"Meta answered {method} {httpx.URL(url).path} with a body that is not JSON.",
                status=200,
                ambiguous=not idempotent,
            )
        return data

    async def _send(
        self, method: str, url: str, *, idempotent: bool, stream: bool = False, **kwargs: Any
    ) -> httpx.Response:
        """One call with bounded retries: 429, 5xx, Meta's throttling codes and network failures.

        A call that is not idempotent (a send) is repeated only after an error proving Meta received
        nothing: a refused connection, or a throttling answer. Anything else raises `ambiguous`.
        """
        path = httpx.URL(url).path  # never the query string: media URLs carry access hashes
        attempt = 0
        while True:
            request = self._client.build_request(method, url, **kwargs)
            try:
                response = await self._client.send(request, stream=stream)
            except httpx.TransportError as exc:
                # A send that may have reached Meta is not repeated: the customer could get it twice.
                repeat = idempotent or isinstance(exc, _NOT_SENT)
                error = GraphError(
                    self._redact(f"{method} {path} failed: {type(exc).__name__}: {exc}"),
                    retryable=repeat,
                    ambiguous=not repeat,
                )
                delay = self._backoff(attempt)
            else:
                if response.is_success:
                    return response
                error = self._error(method, path, response, await self._error_body(response, stream))
                if not idempotent and response.status_code >= 500:
                    # Meta may fail after acting (131000 "Something went wrong"): the send is unknown.
                    error.retryable, error.ambiguous = False, True
                repeat = error.retryable and (
                    response.status_code == 429
                    or response.status_code >= 500
                    or describe_error(error.code).retry is Retry.BACKOFF
                )
                delay = max(
                    self._backoff(attempt), error.retry_after or 0.0, describe_error(error.code).min_delay
                )
            if not repeat or attempt >= self.max_retries or delay > MAX_DELAY:
                raise error
            attempt += 1
            retry_log = (error.status, error.code, attempt)
            logger.warning(
                "Graph %s %s: HTTP %s, code %s; retry %d in %.2fs", method, path, *retry_log, delay
            )
            await self._sleep(delay)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with equal jitter, so concurrent senders do not retry in step."""
        ceiling = min(self.max_backoff, self.backoff_base * 2.0**attempt)
        return ceiling / 2 + self._random.uniform(0, ceiling / 2)

    @staticmethod
    async def _error_body(response: httpx.Response, stream: bool) -> bytes:
        """The body of a failed call; from a stream, only its first 64 KiB (an error body is small)."""
        if not stream:
            return response.content
        content = b""
        async for chunk in response.aiter_bytes():
            content += chunk
            if len(content) >= 65536:
                break
        await response.aclose()
        return content

    def _error(self, method: str, path: str, response: httpx.Response, content: bytes) -> GraphError:
        try:
            body = json.loads(content)
        except ValueError:
            body = None
        fields = body.get("error") if isinstance(body, dict) else None
        fields = fields if isinstance(fields, dict) else {}
        status = response.status_code
        code = _int(fields.get("code"))
        message = _str(fields.get("message")) or f"HTTP {status}"
        if response.is_redirect:
            message = "a redirect, which the hub never follows"
        error_data = fields.get("error_data")
        details = _str(error_data.get("details")) if isinstance(error_data, dict) else None
        # Meta puts the code's title in `message` as "(#131047) Re-engagement message".
        title = _str(fields.get("error_user_title")) or _CODE_PREFIX.sub("", message)
        retryable = status == 429 or status >= 500 or describe_error(code).retryable
        return GraphError(
            self._redact(f"{method} {path}: HTTP {status}, Meta error {code}: {message}"),
            status=status,
            code=code,
            error_subcode=_int(fields.get("error_subcode")),
            title=self._redact(title),
            details=self._redact(details) if details else None,
            fbtrace_id=_str(fields.get("fbtrace_id")),
            retryable=retryable,
            retry_after=_retry_after(response),
        )

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "[token]")


def graph_client_from_settings(**options: Any) -> GraphClient:
    """A client configured from Django settings; raises `SendingDisabled` without an access token."""
    # Imported here so that the client (and the fake server's tests) never need Django configured.
    from django.conf import settings

    token = getattr(settings, "WHATSAPP_ACCESS_TOKEN", None)
    if not token:
        raise SendingDisabled("Sending is disabled: set WHATSAPP_ACCESS_TOKEN to send messages through Meta.")
    return GraphClient(settings.WHATSAPP_GRAPH_URL, settings.WHATSAPP_API_VERSION, token, **options)
