"""Pure media checks: allowed URLs (no server-side request forgery), limits, checksums, file names."""

from __future__ import annotations

import base64
import hashlib

import pytest

from outbound.media_guard import (
    MediaRefused,
    check_media_url,
    check_public_addresses,
    limit_for,
    safe_storage_name,
    sha256_matches,
)

GRAPH = "https://graph.facebook.com"


def test_check_media_url_meta_lookaside_host_is_allowed() -> None:
    url = "https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=1&ext=2&hash=3"
    assert check_media_url(url, GRAPH) == "lookaside.fbsbx.com"


def test_check_media_url_same_origin_as_configured_graph_url_is_allowed_over_http() -> None:
    assert check_media_url("http://127.0.0.1:8123/media-files/1", "http://127.0.0.1:8123") == ""


@pytest.mark.parametrize(
    "url",
    [
        "http://lookaside.fbsbx.com/x",  # not https
        "https://evil.example.com/x",  # not Meta
        "https://fbsbx.com.evil.example/x",  # suffix trick
        "https://lookaside.fbsbx.com.evil.example/x",
        "http://127.0.0.1:8124/media-files/1",  # loopback on another port than the Graph URL
        "file:///etc/passwd",
        "https:///nohost",
    ],
)
def test_check_media_url_other_hosts_are_refused(url: str) -> None:
    with pytest.raises(MediaRefused):
        check_media_url(url, "http://127.0.0.1:8123")


@pytest.mark.parametrize(
    "address", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "192.168.1.1", "::1", "fc00::1"]
)
def test_check_public_addresses_private_targets_are_refused(address: str) -> None:
    with pytest.raises(MediaRefused, match="non-public"):
        check_public_addresses("lookaside.fbsbx.com", ["157.240.1.1", address])


def test_check_public_addresses_public_only_passes() -> None:
    check_public_addresses("lookaside.fbsbx.com", ["157.240.1.1", "2a03:2880:f10c:83:face:b00c:0:25de"])


def test_check_public_addresses_unresolvable_is_refused() -> None:
    with pytest.raises(MediaRefused):
        check_public_addresses("lookaside.fbsbx.com", [])


def test_sha256_matches_hex_and_base64_and_rejects_others() -> None:
    data = b"file"
    digest = hashlib.sha256(data).digest()
    assert sha256_matches(data, digest.hex())
    assert sha256_matches(data, digest.hex().upper())
    assert sha256_matches(data, base64.b64encode(digest).decode())
    assert not sha256_matches(data, hashlib.sha256(b"other").hexdigest())
    assert not sha256_matches(data, "not-a-hash")


def test_limit_for_follows_meta_limits() -> None:
    assert limit_for("image") == 5 * 1024 * 1024
    assert limit_for("document") == 100 * 1024 * 1024
    assert limit_for("sticker") == 500 * 1024


@pytest.mark.parametrize("mime", ["image/png", "../../etc/passwd", "application/x-evil; name=../../a.sh", ""])
def test_safe_storage_name_stays_inside_the_media_folder(mime: str) -> None:
    name = safe_storage_name(42, b"data", mime, 2026, 11)
    assert name.startswith("whatsapp/2026/11/42-")
    assert ".." not in name
    assert name.count("/") == 3
