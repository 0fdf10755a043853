"""Request ids on every response and in logs; JSON log lines with secrets redacted."""

from __future__ import annotations

import json
import logging

import pytest
from django.test import Client

from hub.observability import JsonFormatter, RequestIdFilter, redact


def test_request_id_is_generated_and_echoed(client: Client) -> None:
    response = client.get("/api/health/")
    assert len(response["X-Request-ID"]) == 32


def test_request_id_from_proxy_is_kept_when_valid(client: Client) -> None:
    response = client.get("/api/health/", headers={"X-Request-ID": "abc-123-def-456"})
    assert response["X-Request-ID"] == "abc-123-def-456"


def test_request_id_from_proxy_with_junk_is_replaced(client: Client) -> None:
    response = client.get("/api/health/", headers={"X-Request-ID": "evil\nline injected"})
    assert response["X-Request-ID"] != "evil\nline injected"
    assert len(response["X-Request-ID"]) == 32


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer wah_abcdefghijklmnopqrstuvwxyz", "wah_abcdefghijklmnopqrstuvwxyz"),
        ("GET /ws/whatsapp/inbox/?token=s3cr3t-value&after=5", "s3cr3t-value"),
        ("url https://graph/x?access_token=EAAGm0PX4ZCps", "EAAGm0PX4ZCps"),
        ("token wah_0123456789abcdef in text", "wah_0123456789abcdef"),
    ],
)
def test_redact_removes_tokens(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "[redacted]" in redact(text)


def test_json_formatter_writes_one_object_with_request_id() -> None:
    record = logging.LogRecord("hub", logging.WARNING, __file__, 1, "token=%s failed", ("abcdef",), None)
    RequestIdFilter().filter(record)
    line = JsonFormatter().format(record)
    entry = json.loads(line)
    assert entry["level"] == "WARNING"
    assert entry["request_id"] == "-"
    assert "abcdef" not in entry["message"]
