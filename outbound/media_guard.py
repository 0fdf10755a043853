"""Pure checks for media downloads: which URLs may be fetched, size limits, checksums, safe file names."""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import mimetypes
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# Hosts Meta serves media from (lookaside.fbsbx.com today); anything else is refused.
META_MEDIA_HOST_SUFFIXES = (".fbsbx.com", ".fbcdn.net", ".facebook.com", ".whatsapp.net")

# Meta's own limits per type (bytes); stickers: 100 KB static, 500 KB animated.
MEDIA_LIMITS = {
    "image": 5 * 1024 * 1024,
    "audio": 16 * 1024 * 1024,
    "video": 16 * 1024 * 1024,
    "document": 100 * 1024 * 1024,
    "sticker": 500 * 1024,
}
DEFAULT_LIMIT = 16 * 1024 * 1024
SAFE_EXTENSION = re.compile(r"^\.[a-z0-9]{1,8}$")


class MediaRefused(Exception):
    """The download must not happen or its result must not be kept; permanent."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def check_media_url(url: str, graph_url: str) -> str:
    """Return the host to resolve, or raise MediaRefused.

    A URL on the configured Graph API origin (scheme, host and port) is allowed as is, so a local fake
    works over http on loopback; any other must be https on one of Meta's media hosts.
    """
    scheme, host, port = _origin(url)
    if not host:
        raise MediaRefused("media URL has no host")
    if (scheme, host, port) == _origin(graph_url):
        return ""
    if scheme != "https":
        raise MediaRefused(f"media URL must be https, not {scheme or 'none'}")
    if not any(host.endswith(suffix) or host == suffix[1:] for suffix in META_MEDIA_HOST_SUFFIXES):
        raise MediaRefused(f"media host {host} is not one of Meta's")
    return host


def check_public_addresses(host: str, addresses: Iterable[str]) -> None:
    """Refuse a host that resolves to a private, loopback or otherwise non-public address (SSRF)."""
    found = list(addresses)
    if not found:
        raise MediaRefused(f"{host} does not resolve")
    for address in found:
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise MediaRefused(f"{host} resolves to a non-public address")


def limit_for(message_type: str) -> int:
    return MEDIA_LIMITS.get(message_type, DEFAULT_LIMIT)


def sha256_matches(data: bytes, expected: str) -> bool:
    """Meta gives the hash as hex (media endpoint) or base64 (webhook): accept either."""
    if not expected:
        return True
    digest = hashlib.sha256(data).digest()
    if expected.lower() == digest.hex():
        return True
    try:
        return base64.b64decode(expected, validate=True) == digest
    except (binascii.Error, ValueError):
        return False


def safe_storage_name(message_pk: int, data: bytes, mime_type: str, year: int, month: int) -> str:
    """A name of our own making: never the sender's file name, never a path outside the media folder."""
    extension = (mimetypes.guess_extension(mime_type.split(";")[0].strip()) or ".bin").lower()
    if not SAFE_EXTENSION.match(extension):
        extension = ".bin"
    digest = hashlib.sha256(data).hexdigest()[:16]
    return f"whatsapp/{year:04d}/{month:02d}/{message_pk}-{digest}{extension}"
