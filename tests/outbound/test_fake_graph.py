"""The Graph client against the fake Graph API over real HTTP on loopback."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph
from outbound.graph import GraphClient, GraphError
from outbound.payloads import build_message
from webhook.signature import verify_signature

PHONE_NUMBER_ID = "106540352242922"
SECRET = "fake-app-secret"


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    with FakeGraph(status_delays=(0.0, 0.01, 0.01)) as server:
        yield server


def client_for(fake: FakeGraph, token: str = DEFAULT_TOKEN) -> GraphClient:
    return GraphClient(fake.base_url, "v24.0", token, backoff_base=0.01)


def control(fake: FakeGraph, method: str, path: str, **kwargs: Any) -> Any:
    response = httpx.request(method, f"{fake.base_url}{path}", **kwargs)
    response.raise_for_status()
    return response.json()


@pytest.mark.asyncio
async def test_fake_send_text_returns_wamid_and_normalised_wa_id(fake: FakeGraph) -> None:
    payload = build_message({"to": "+1 (650) 555-1234", "text": "Hello"})
    async with client_for(fake) as client:
        result = await client.send_message(PHONE_NUMBER_ID, payload)
    assert result.wamid.startswith("wamid.")
    assert (result.wa_id, result.input, result.message_status) == ("16505551234", "+1 (650) 555-1234", None)
    sent = control(fake, "GET", "/_fake/sent")
    assert sent == [{"phone_number_id": PHONE_NUMBER_ID, "wamid": result.wamid, "body": payload}]


@pytest.mark.asyncio
async def test_fake_send_template_reports_accepted_status(fake: FakeGraph) -> None:
    payload = build_message(
        {"to": "16505551234", "template": {"name": "hello_world", "language": {"code": "en_US"}}}
    )
    async with client_for(fake) as client:
        result = await client.send_message(PHONE_NUMBER_ID, payload)
    assert result.message_status == "accepted"


@pytest.mark.asyncio
async def test_fake_send_to_business_scoped_user_id_returns_user_id(fake: FakeGraph) -> None:
    async with client_for(fake) as client:
        result = await client.send_message(
            PHONE_NUMBER_ID, build_message({"to": "US.1349120865", "text": "hi"})
        )
    assert (result.wa_id, result.user_id) == (None, "US.1349120865")


@pytest.mark.asyncio
async def test_fake_outside_window_failure_surfaces_meta_fields_not_retryable(fake: FakeGraph) -> None:
    control(fake, "POST", "/_fake/fail-next", json={"code": 131047, "times": 1})
    async with client_for(fake) as client:
        with pytest.raises(GraphError) as caught:
            await client.send_message(PHONE_NUMBER_ID, build_message({"to": "16505551234", "text": "late"}))
    error = caught.value
    assert (error.status, error.code, error.title, error.retryable) == (
        400,
        131047,
        "Re-engagement message",
        False,
    )
    assert error.details
    assert error.fbtrace_id
    assert control(fake, "GET", "/_fake/sent") == []


@pytest.mark.asyncio
async def test_fake_throughput_limit_is_retried_then_succeeds(fake: FakeGraph) -> None:
    control(fake, "POST", "/_fake/fail-next", json={"code": 130429, "times": 2})
    async with client_for(fake) as client:
        result = await client.send_message(
            PHONE_NUMBER_ID, build_message({"to": "16505551234", "text": "hi"})
        )
    assert [s["wamid"] for s in control(fake, "GET", "/_fake/sent")] == [result.wamid]


@pytest.mark.asyncio
async def test_fake_bad_token_answers_401_code_190(fake: FakeGraph) -> None:
    async with client_for(fake, token="wrong-token") as client:
        with pytest.raises(GraphError) as caught:
            await client.send_message(PHONE_NUMBER_ID, build_message({"to": "16505551234", "text": "hi"}))
    assert (caught.value.status, caught.value.code, caught.value.retryable) == (401, 190, False)


@pytest.mark.asyncio
async def test_fake_malformed_message_answers_missing_parameter(fake: FakeGraph) -> None:
    async with client_for(fake) as client:
        with pytest.raises(GraphError) as caught:
            await client.send_message(PHONE_NUMBER_ID, {"to": "16505551234", "type": "text", "text": {}})
    assert (caught.value.status, caught.value.code) == (400, 131008)


@pytest.mark.asyncio
async def test_fake_mark_read_succeeds(fake: FakeGraph) -> None:
    async with client_for(fake) as client:
        await client.mark_read(PHONE_NUMBER_ID, "wamid.INBOUND")


@pytest.mark.asyncio
async def test_fake_registered_media_downloads_with_matching_sha256(fake: FakeGraph) -> None:
    data = bytes(range(256)) * 40 + b"\r\n"
    registered = control(fake, "POST", "/_fake/media", content=data, headers={"Content-Type": "image/jpeg"})
    async with client_for(fake) as client:
        info = await client.get_media(registered["id"])
        downloaded = await client.download_media(info.url, max_bytes=1_000_000)
        with pytest.raises(GraphError):
            await client.download_media(info.url, max_bytes=100)
    assert (info.id, info.mime_type, info.file_size) == (registered["id"], "image/jpeg", len(data))
    assert downloaded == data
    assert hashlib.sha256(downloaded).hexdigest() == info.sha256 == registered["sha256"]


@pytest.mark.asyncio
async def test_fake_uploaded_media_round_trips(fake: FakeGraph) -> None:
    data = b"%PDF-1.4\n binary \x00\xff\r\n"
    async with client_for(fake) as client:
        media_id = await client.upload_media(PHONE_NUMBER_ID, data, "application/pdf", "invoice.pdf")
        info = await client.get_media(media_id)
        assert await client.download_media(info.url, max_bytes=1000) == data
    assert info.mime_type == "application/pdf"


@pytest.mark.asyncio
async def test_fake_unknown_media_id_answers_graph_method_exception(fake: FakeGraph) -> None:
    async with client_for(fake) as client:
        with pytest.raises(GraphError) as caught:
            await client.get_media("404404")
    assert (caught.value.status, caught.value.code, caught.value.error_subcode) == (400, 100, 33)


@pytest.mark.asyncio
async def test_fake_token_never_logged_over_real_http(
    fake: FakeGraph, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    control(fake, "POST", "/_fake/fail-next", json={"code": 130429, "times": 1})
    async with client_for(fake) as client:
        await client.send_message(PHONE_NUMBER_ID, build_message({"to": "16505551234", "text": "hi"}))
    assert "retry" in caplog.text
    assert DEFAULT_TOKEN not in caplog.text


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    received: list[tuple[dict[str, str], bytes]]
    all_three: threading.Event

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        if len(self.received) >= 3:
            self.all_three.set()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.asyncio
async def test_fake_posts_signed_status_webhooks_in_order() -> None:
    received: list[tuple[dict[str, str], bytes]] = []
    all_three = threading.Event()
    handler = type("Handler", (Receiver,), {"received": received, "all_three": all_three})
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=receiver.serve_forever, args=(0.05,), daemon=True).start()
    url = f"http://127.0.0.1:{receiver.server_address[1]}/api/whatsapp/webhook/"
    try:
        with FakeGraph(webhook_url=url, app_secret=SECRET, status_delays=(0.0, 0.01, 0.01)) as fake:
            async with client_for(fake) as client:
                result = await client.send_message(
                    PHONE_NUMBER_ID, build_message({"to": "+16505551234", "text": "x"})
                )
            assert await asyncio.to_thread(all_three.wait, 5)
    finally:
        receiver.shutdown()
        receiver.server_close()
    statuses = []
    for headers, body in received:
        assert verify_signature(SECRET, body, headers["x-hub-signature-256"])
        change = json.loads(body)["entry"][0]["changes"][0]["value"]
        assert change["metadata"]["phone_number_id"] == PHONE_NUMBER_ID
        status = change["statuses"][0]
        assert (status["id"], status["recipient_id"]) == (result.wamid, "16505551234")
        statuses.append(status["status"])
    assert statuses == ["sent", "delivered", "read"]
