"""Verifying Meta's X-Hub-Signature-256 over the raw body, and the GET subscription handshake."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from tests.support import TEST_APP_SECRET, TEST_VERIFY_TOKEN, dumps_like_meta, fixture_bytes, fixture_json
from webhook.signature import compute_signature, verify_signature, verify_subscription

BODY = dumps_like_meta(fixture_json("text.json"))


def test_compute_signature_is_prefixed_hex_hmac_sha256_of_the_body() -> None:
    digest = hmac.new(TEST_APP_SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert compute_signature(TEST_APP_SECRET, BODY) == "sha256=" + digest


def test_verify_signature_right_signature_verifies() -> None:
    assert verify_signature(TEST_APP_SECRET, BODY, compute_signature(TEST_APP_SECRET, BODY))


def test_verify_signature_fixture_file_bytes_verify_as_received() -> None:
    body = fixture_bytes("batch_multi_entry.json")
    assert verify_signature(TEST_APP_SECRET, body, compute_signature(TEST_APP_SECRET, body))


def test_verify_signature_other_secret_fails() -> None:
    assert not verify_signature(TEST_APP_SECRET, BODY, compute_signature("another-secret", BODY))


@pytest.mark.parametrize("header", [None, "", "sha256=", "sha256"])
def test_verify_signature_missing_or_empty_header_fails(header: str | None) -> None:
    assert not verify_signature(TEST_APP_SECRET, BODY, header)


def test_verify_signature_truncated_digest_fails() -> None:
    assert not verify_signature(TEST_APP_SECRET, BODY, compute_signature(TEST_APP_SECRET, BODY)[:-1])


def test_verify_signature_uppercase_hex_fails() -> None:
    signature = compute_signature(TEST_APP_SECRET, BODY)
    digest = signature.removeprefix("sha256=")
    assert digest != digest.upper()
    assert not verify_signature(TEST_APP_SECRET, BODY, "sha256=" + digest.upper())


@pytest.mark.parametrize("prefix", ["sha1=", "SHA256=", "sha512=", ""])
def test_verify_signature_wrong_prefix_fails(prefix: str) -> None:
    digest = compute_signature(TEST_APP_SECRET, BODY).removeprefix("sha256=")
    assert not verify_signature(TEST_APP_SECRET, BODY, prefix + digest)


def test_verify_signature_body_changed_after_signing_fails() -> None:
    signature = compute_signature(TEST_APP_SECRET, BODY)
    tampered = BODY.replace(b"on its way", b"cancelled!")
    assert tampered != BODY
    assert not verify_signature(TEST_APP_SECRET, tampered, signature)


def test_verify_signature_non_ascii_body_signed_as_meta_escapes_it_verifies() -> None:
    data = fixture_json("non_ascii.json")
    body = dumps_like_meta(data)
    assert b"\\u00e9" in body
    assert body.isascii()
    assert verify_signature(TEST_APP_SECRET, body, compute_signature(TEST_APP_SECRET, body))


def test_verify_signature_non_ascii_body_reserialized_unescaped_fails() -> None:
    data = fixture_json("non_ascii.json")
    signature = compute_signature(TEST_APP_SECRET, dumps_like_meta(data))
    reencoded = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(reencoded) == data
    assert not verify_signature(TEST_APP_SECRET, reencoded, signature)


def test_verify_subscription_right_mode_and_token_echoes_challenge() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": TEST_VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert verify_subscription(params, TEST_VERIFY_TOKEN) == "1158201444"


def test_verify_subscription_wrong_token_is_refused() -> None:
    params = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    assert verify_subscription(params, TEST_VERIFY_TOKEN) is None


@pytest.mark.parametrize("mode", ["unsubscribe", "", "SUBSCRIBE"])
def test_verify_subscription_wrong_mode_is_refused(mode: str) -> None:
    params = {"hub.mode": mode, "hub.verify_token": TEST_VERIFY_TOKEN, "hub.challenge": "1158201444"}
    assert verify_subscription(params, TEST_VERIFY_TOKEN) is None


def test_verify_subscription_missing_params_are_refused() -> None:
    assert verify_subscription({}, TEST_VERIFY_TOKEN) is None
    assert verify_subscription({"hub.challenge": "1"}, TEST_VERIFY_TOKEN) is None
