"""The Graph API client through `httpx.MockTransport`: parsing, retries, limits and secrecy."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper

from outbound.graph import GraphClient, GraphError, SendingDisabled, graph_client_from_settings

TOKEN = "EAAG-secret-token-123456"
BASE = "https://graph.test"
Handler = Callable[[httpx.Request], httpx.Response]


def meta_error(code: int, status: int = 400, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {
        "error": {
            "message": f"(#{code}) Some title",
            "type": "OAuthException",
            "code": code,
            "error_data": {"messaging_product": "whatsapp", "details": "Some details"},
            "fbtrace_id": "AbCdEf",
        }
    }
    return httpx.Response(status, json=body, headers=headers)


def sent_ok() -> httpx.Response:
    return httpx.Response(
        200,
        json={
            "messaging_product": "whatsapp",
            "contacts": [{"input": "+1 650 555 1234", "wa_id": "16505551234"}],
            "messages": [{"id": "wamid.XYZ", "message_status": "accepted"}],
        },
    )


class Recorder:
    """A MockTransport handler answering from a script, recording requests and sleeps."""

    def __init__(self, *answers: httpx.Response | Exception) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.sleeps: list[float] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(self, delay: float) -> None:
        self.sleeps.append(delay)

    def client(self, max_retries: int = 3) -> GraphClient:
        transport = httpx.MockTransport(self)
        return GraphClient(
            BASE,
            "v24.0",
            TOKEN,
            transport=transport,
            sleep=self.sleep,
            backoff_base=0.01,
            max_retries=max_retries,
        )


@pytest.mark.asyncio
async def test_send_message_success_returns_wamid_and_resolved_wa_id() -> None:
    recorder = Recorder(sent_ok())
    async with recorder.client() as client:
        result = await client.send_message(
            "123", {"to": "+1 650 555 1234", "type": "text", "text": {"body": "hi"}}
        )
    assert (result.wamid, result.wa_id, result.message_status) == ("wamid.XYZ", "16505551234", "accepted")
    request = recorder.requests[0]
    assert request.url == "https://graph.test/v24.0/123/messages"
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert json.loads(request.content)["messaging_product"] == "whatsapp"


@pytest.mark.asyncio
async def test_mark_read_posts_read_status() -> None:
    recorder = Recorder(httpx.Response(200, json={"success": True}))
    async with recorder.client() as client:
        await client.mark_read("123", "wamid.IN")
    assert json.loads(recorder.requests[0].content) == {
        "messaging_product": "whatsapp",
        "status": "read",
        "message_id": "wamid.IN",
    }


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "failure",
    [httpx.Response(429, json={}), meta_error(130429), meta_error(4)],
)
async def test_send_message_throttled_retries_then_succeeds(failure: httpx.Response) -> None:
    recorder = Recorder(failure, sent_ok())
    async with recorder.client() as client:
        result = await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
    assert result.wamid == "wamid.XYZ"
    assert len(recorder.requests) == 2
    assert len(recorder.sleeps) == 1
    assert 0.005 <= recorder.sleeps[0] <= 0.01


@pytest.mark.asyncio
async def test_send_message_persistent_throttling_stops_after_max_retries_with_growing_backoff() -> None:
    recorder = Recorder(*[meta_error(130429) for _ in range(4)])
    async with recorder.client(max_retries=3) as client:
        with pytest.raises(GraphError) as caught:
            await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
    assert caught.value.code == 130429
    assert caught.value.retryable
    assert len(recorder.requests) == 4
    assert len(recorder.sleeps) == 3
    assert all(0.01 * 2**n / 2 <= delay <= 0.01 * 2**n for n, delay in enumerate(recorder.sleeps))


@pytest.mark.asyncio
async def test_send_message_pair_rate_limit_waits_at_least_six_seconds() -> None:
    recorder = Recorder(meta_error(131056), sent_ok())
    async with recorder.client() as client:
        await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
    assert recorder.sleeps == [6.0]


@pytest.mark.asyncio
async def test_send_message_retry_after_header_is_honoured() -> None:
    recorder = Recorder(httpx.Response(429, headers={"Retry-After": "2"}), sent_ok())
    async with recorder.client() as client:
        await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
    assert recorder.sleeps == [2.0]


@pytest.mark.asyncio
async def test_send_message_retry_after_beyond_limit_raises_for_the_caller_to_wait() -> None:
    recorder = Recorder(httpx.Response(429, headers={"Retry-After": "3600"}))
    async with recorder.client() as client:
        with pytest.raises(GraphError) as caught:
            await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
    assert (caught.value.retryable, caught.value.retry_after) == (True, 3600.0)
    assert recorder.sleeps == []


@pytest.mark.asyncio
@pytest.mark.parametrize(("code", "status"), [(131047, 400), (100, 400), (190, 401), (131048, 400)])
async def test_send_message_non_throttling_client_error_is_not_retried(code: int, status: int) -> None:
    recorder = Recorder(meta_error(code, status))
    async with recorder.client() as client:
        with pytest.raises(GraphError) as caught:
            await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
    error = caught.value
    assert (error.status, error.code, error.title, error.details, error.fbtrace_id) == (
        status,
        code,
        "Some title",
        "Some details",
        "AbCdEf",
    )
    assert len(recorder.requests) == 1
    assert error.retryable is (code == 131048)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "unsent",
    [httpx.ConnectError("refused"), httpx.ConnectTimeout("no route"), httpx.PoolTimeout("pool full")],
)
async def test_send_message_error_before_the_write_is_retried(unsent: Exception) -> None:
    recorder = Recorder(unsent, sent_ok())
    async with recorder.client() as client:
        result = await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
    assert result.wamid == "wamid.XYZ"
    assert len(recorder.requests) == 2


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "lost",
    [
        httpx.ReadTimeout("slow"),
        httpx.ReadError("reset"),
        httpx.RemoteProtocolError("closed without answer"),
        httpx.WriteTimeout("half written"),
        meta_error(131000, 500),
        meta_error(131016, 503),
        httpx.Response(502, text="Bad Gateway"),
        httpx.Response(200, text="<html>"),
        httpx.Response(200, json={"messaging_product": "whatsapp"}),
    ],
)
async def test_send_message_lost_answer_is_ambiguous_and_never_repeated(
    lost: httpx.Response | Exception,
) -> None:
    recorder = Recorder(lost, sent_ok())
    async with recorder.client(max_retries=3) as client:
        with pytest.raises(GraphError) as caught:
            await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
    assert (caught.value.ambiguous, caught.value.retryable) == (True, False)
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_mark_read_server_error_is_retried() -> None:
    recorder = Recorder(httpx.Response(500, text="oops"), httpx.Response(200, json={"success": True}))
    async with recorder.client() as client:
        await client.mark_read("123", "wamid.A")
    assert len(recorder.requests) == 2


@pytest.mark.asyncio
async def test_get_media_read_timeout_is_retried() -> None:
    info = {"url": f"{BASE}/f/1", "mime_type": "image/jpeg", "sha256": "ab", "file_size": "12", "id": "1"}
    recorder = Recorder(httpx.ReadTimeout("slow"), httpx.Response(200, json=info))
    async with recorder.client() as client:
        media = await client.get_media("1")
    assert (media.url, media.mime_type, media.sha256, media.file_size, media.id) == (
        f"{BASE}/f/1",
        "image/jpeg",
        "ab",
        12,
        "1",
    )


@pytest.mark.asyncio
async def test_download_media_redirect_is_refused() -> None:
    recorder = Recorder(httpx.Response(302, headers={"Location": "http://169.254.169.254/"}))
    async with recorder.client() as client:
        with pytest.raises(GraphError) as caught:
            await client.download_media(f"{BASE}/f/1", max_bytes=100)
    assert caught.value.status == 302
    assert not caught.value.retryable
    assert len(recorder.requests) == 1


@pytest.mark.asyncio
async def test_download_media_declared_size_over_limit_is_refused() -> None:
    recorder = Recorder(httpx.Response(200, content=b"x" * 101))
    async with recorder.client() as client:
        with pytest.raises(GraphError, match="limit"):
            await client.download_media(f"{BASE}/f/1", max_bytes=100)


@pytest.mark.asyncio
async def test_download_media_streamed_bytes_over_limit_are_refused() -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(50):
            yield b"x" * 10

    recorder = Recorder(httpx.Response(200, content=chunks()))
    async with recorder.client() as client:
        with pytest.raises(GraphError, match="limit"):
            await client.download_media(f"{BASE}/f/1", max_bytes=100)


@pytest.mark.asyncio
async def test_download_media_within_limit_returns_bytes_with_token() -> None:
    recorder = Recorder(httpx.Response(200, content=b"jpeg-bytes"))
    async with recorder.client() as client:
        assert await client.download_media("https://lookaside.test/a?mid=1", max_bytes=100) == b"jpeg-bytes"
    assert recorder.requests[0].headers["Authorization"] == f"Bearer {TOKEN}"


@pytest.mark.asyncio
async def test_upload_media_posts_multipart_and_returns_id() -> None:
    recorder = Recorder(httpx.Response(200, json={"id": "4490709327384033"}))
    async with recorder.client() as client:
        media_id = await client.upload_media("123", b"%PDF-1.4", "application/pdf", "a.pdf")
    assert media_id == "4490709327384033"
    request = recorder.requests[0]
    assert request.url.path == "/v24.0/123/media"
    assert request.headers["Content-Type"].startswith("multipart/form-data")
    assert b'name="messaging_product"' in request.content
    assert b"%PDF-1.4" in request.content


@pytest.mark.asyncio
async def test_token_never_in_logs_errors_or_reprs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    echo = meta_error(190, 401)
    echo_body = json.loads(echo.content)
    echo_body["error"]["message"] = f"Invalid OAuth access token {TOKEN}"
    recorder = Recorder(
        httpx.Response(429, json={}),
        httpx.Response(401, json=echo_body),
        httpx.ConnectError(f"failed for {TOKEN}"),
        httpx.ConnectError("again"),
        httpx.ConnectError("again"),
        httpx.ConnectError("again"),
    )
    errors: list[GraphError] = []
    async with recorder.client() as client:
        for _ in range(2):
            try:
                await client.send_message("123", {"to": "1", "type": "text", "text": {"body": "hi"}})
            except GraphError as error:
                errors.append(error)
        assert TOKEN not in repr(client)
    assert len(errors) == 2
    for failure in errors:
        assert TOKEN not in str(failure)
        assert TOKEN not in repr(failure)
        assert TOKEN not in (failure.title or "")
        assert failure.__cause__ is None
    assert TOKEN not in caplog.text
    assert "retry" in caplog.text


def test_graph_client_from_settings_without_token_raises_sending_disabled(settings: SettingsWrapper) -> None:
    settings.WHATSAPP_ACCESS_TOKEN = None
    with pytest.raises(SendingDisabled, match="WHATSAPP_ACCESS_TOKEN"):
        graph_client_from_settings()


@pytest.mark.asyncio
async def test_graph_client_from_settings_uses_graph_url_and_version(settings: SettingsWrapper) -> None:
    settings.WHATSAPP_ACCESS_TOKEN = TOKEN
    settings.WHATSAPP_GRAPH_URL = BASE
    settings.WHATSAPP_API_VERSION = "v24.0"
    recorder = Recorder(sent_ok())
    async with graph_client_from_settings(transport=httpx.MockTransport(recorder)) as client:
        await client.send_message("999", {"to": "1", "type": "text", "text": {"body": "hi"}})
    assert str(recorder.requests[0].url) == f"{BASE}/v24.0/999/messages"


@pytest.mark.asyncio
async def test_list_templates_follows_cursors_on_the_configured_host_only() -> None:
    requests: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        after = request.url.params.get("after")
        page = {None: ("t1", "c1"), "c1": ("t2", "c2"), "c2": ("t3", None)}[after]
        paging: dict[str, object] = {"cursors": {"before": "b", "after": page[1] or "end"}}
        if page[1]:
            paging["next"] = f"https://elsewhere.example/v24.0/1/message_templates?after={page[1]}"
        return httpx.Response(200, json={"data": [{"name": page[0]}, "not an object"], "paging": paging})

    async with GraphClient(BASE, "v24.0", TOKEN, transport=httpx.MockTransport(handler)) as client:
        templates = await client.list_templates("102290129340398")
    assert [t["name"] for t in templates] == ["t1", "t2", "t3"]
    assert {r.url.host for r in requests} == {"graph.test"}
    assert [r.url.path for r in requests] == ["/v24.0/102290129340398/message_templates"] * 3


@pytest.mark.asyncio
async def test_list_templates_stops_at_a_cursor_seen_twice() -> None:
    calls = 0

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        paging = {"cursors": {"after": "same"}, "next": "https://graph.test/next"}
        return httpx.Response(200, json={"data": [{"name": f"t{calls}"}], "paging": paging})

    async with GraphClient(BASE, "v24.0", TOKEN, transport=httpx.MockTransport(handler)) as client:
        templates = await client.list_templates("102290129340398")
    assert calls == 2
    assert len(templates) == 2


@pytest.mark.asyncio
async def test_list_templates_refuses_an_account_id_that_is_not_a_number() -> None:
    async with GraphClient(
        BASE, "v24.0", TOKEN, transport=httpx.MockTransport(lambda r: sent_ok())
    ) as client:
        with pytest.raises(GraphError, match="not a Graph API id"):
            await client.list_templates("../me")
