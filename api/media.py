"""The stored media file of a message, served so that a browser can never run it as part of the hub."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import IO

from django.core.files.storage import default_storage
from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse
from ninja import Router

from api.byte_range import ByteSpan, Unsatisfiable, requested_span
from api.schemas import ERRORS
from api.security import principal_of
from store import queries
from store.errors import NotFound
from store.models import MediaStatus

router = Router(tags=["media"])

INLINE_FAMILIES = ("image/", "audio/", "video/")
# SVG is an image that can carry scripts: it is always a download.
NEVER_INLINE = frozenset({"image/svg+xml"})
_MIME = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
_UNSAFE_NAME = re.compile(r"[^\w.\- ()]+")
SANDBOX = "default-src 'none'; sandbox"
CHUNK = 64 * 1024


def content_type_of(stored: str) -> str:
    """The stored mime type without parameters, or application/octet-stream when it is not one."""
    mime = stored.split(";", 1)[0].strip().lower()
    return mime if _MIME.match(mime) else "application/octet-stream"


def safe_filename(name: str, fallback: str) -> str:
    """A file name without paths, quotes or control characters (the customer chose it)."""
    base = re.split(r"[\\/]", name)[-1]
    cleaned = _UNSAFE_NAME.sub("_", base).strip(" ._")[:150]
    return cleaned or fallback


@router.get(
    "/media/{message_id}/", response={200: None, 206: None, 416: None, **ERRORS}, operation_id="get_media"
)
def get_media(request: HttpRequest, message_id: int) -> HttpResponse | StreamingHttpResponse:
    """The file of message `id`, with its stored content type; images, audio and video inline.

    One byte range (`Range: bytes=a-b`) is answered 206, as a browser seeking in a voice note or a
    video asks; one past the end 416. A message outside the token's scope is answered 404, exactly as
    an unknown id.
    """
    message = queries.get_message(principal_of(request).scope, message_id)
    if message.media_status != MediaStatus.DOWNLOADED or not message.media_path:
        raise NotFound(f"Message {message_id} has no stored media file.")
    try:
        stream = default_storage.open(message.media_path, "rb")
    except FileNotFoundError:
        raise NotFound(f"The media file of message {message_id} is missing from storage.") from None
    mime = content_type_of(message.media_mime_type)
    inline = mime.startswith(INLINE_FAMILIES) and mime not in NEVER_INLINE
    extension = message.media_path.rsplit(".", 1)[-1] if "." in message.media_path else "bin"
    name = safe_filename(message.media_filename, f"whatsapp-{message.pk}.{extension}")
    response: HttpResponse | StreamingHttpResponse
    try:
        span = requested_span(request.headers.get("Range"), stream.size)
    except Unsatisfiable:
        stream.close()
        response = HttpResponse(status=416, content_type=mime)
        response["Content-Range"] = f"bytes */{stream.size}"
        return _inert(response)
    if span is None:
        response = FileResponse(stream, as_attachment=not inline, filename=name, content_type=mime)
    else:
        response = StreamingHttpResponse(_read_span(stream, span), status=206, content_type=mime)
        response["Content-Range"] = span.content_range
        response["Content-Length"] = str(span.length)
    response["Accept-Ranges"] = "bytes"
    return _inert(response)


def _inert(response: HttpResponse | StreamingHttpResponse) -> HttpResponse | StreamingHttpResponse:
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = SANDBOX
    response["Cache-Control"] = "private, max-age=3600"
    return response


def _read_span(stream: IO[bytes], span: ByteSpan) -> Iterator[bytes]:
    try:
        stream.seek(span.start)
        left = span.length
        while left > 0:
            chunk = stream.read(min(CHUNK, left))
            if not chunk:
                break
            left -= len(chunk)
            yield chunk
    finally:
        stream.close()
