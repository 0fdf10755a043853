"""A local fake of Meta's Graph API (messages, media, errors, status webhooks) for tests and the demo."""

# Served by the standard library's threading HTTP server: real HTTP/1.1 with keep-alive on loopback and no
# ASGI stack, so tests start it in-process (`FakeGraph().start()`) and the demo runs
# `python -m outbound.fake_graph --port P [--webhook-url URL --app-secret S]`.

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, cast
from urllib.parse import parse_qs, unquote

import httpx

from outbound.error_catalogue import describe_error
from outbound.fake_graph_requests import check_message, parse_multipart
from outbound.fake_graph_templates import TEMPLATES_PATH, sample_templates, template_page
from webhook.samples import encode, envelope, status_update
from webhook.signature import compute_signature

logger = logging.getLogger(__name__)

# status, content type, body, extra headers
Reply = tuple[int, str, bytes, list[tuple[str, str]]]
# A reply with this status is never written: the server closes the connection instead.
DROP = 0

DEFAULT_TOKEN = "fake-graph-token"
# Meta's HTTP status per code (https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes);
# every other code, throttling included, comes with 400.
_STATUS_FOR_CODE = {0: 401, 190: 401, 10: 403, 200: 403, 368: 403, 131005: 403, 131031: 403, 132001: 404}
_STATUS_FOR_CODE |= {2: 503, 131000: 500, 131016: 503, 133004: 503}
_EDGE = re.compile(r"^/v\d+\.\d+/(?P<pnid>[^/]+)/(?P<edge>messages|media)$")
_NODE = re.compile(r"^/v\d+\.\d+/(?P<id>[^/]+)$")


@dataclass
class Failure:
    """An error answered instead of the next `times` requests whose path ends with `path`.

    By default nothing is done (Meta refused). With `after_send`, the message is sent first and the
    error answered after (Meta's 5xx that comes after it acted); with `drop`, it is sent and the
    connection closed with no answer; with `delay` alone, it is sent and its answer comes that many
    seconds later (past a client's read timeout). The hub must treat these three as "maybe sent".
    """

    code: int = 131000
    status: int | None = None
    times: int = 1
    details: str | None = None
    error_subcode: int | None = None
    retry_after: str | None = None
    path: str = "/messages"
    after_send: bool = False
    drop: bool = False
    delay: float = 0.0

    @property
    def acts(self) -> bool:
        """True when Meta acts on the request before failing to answer it."""
        return self.after_send or self.drop or self.delay > 0


@dataclass
class Media:
    data: bytes
    mime_type: str
    sha256: str = field(init=False)

    def __post_init__(self) -> None:
        self.sha256 = hashlib.sha256(self.data).hexdigest()


def normalise_wa_id(number: str) -> str:
    """What the fake resolves a typed number to: its digits (`+1 (650) 555-1234` -> `16505551234`)."""
    return re.sub(r"\D", "", number)


def error_body(
    code: int,
    message: str | None = None,
    *,
    details: str | None = None,
    subcode: int | None = None,
    type_: str = "OAuthException",
) -> dict[str, Any]:
    """Meta's error body for `code`; Meta writes the code's title into `message` as `(#code) title`."""
    guidance = describe_error(code)
    error: dict[str, Any] = {"message": message or f"(#{code}) {guidance.title}", "type": type_, "code": code}
    if subcode is not None:
        error["error_subcode"] = subcode
    error["error_data"] = {"messaging_product": "whatsapp", "details": details or guidance.hint}
    error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return {"error": error}


def _json(status: int, payload: object, extra: Sequence[tuple[str, str]] = ()) -> Reply:
    return status, "application/json", json.dumps(payload).encode(), list(extra)


class FakeGraphApp:
    """The fake's state and routes; `handle` is called once per request, from any server thread."""

    def __init__(
        self,
        *,
        access_token: str = DEFAULT_TOKEN,
        webhook_url: str | None = None,
        app_secret: str | None = None,
        status_delays: Sequence[float] = (0.2, 0.6, 1.2),
    ) -> None:
        self.access_token = access_token
        self.webhook_url = webhook_url
        self.app_secret = app_secret
        self.status_delays = tuple(status_delays)
        self.sent: list[dict[str, Any]] = []
        self.media: dict[str, Media] = {}
        self.failures: list[Failure] = []
        # Served for every WABA id; tests change the list to taste.
        self.templates: list[dict[str, Any]] = sample_templates()
        self.lock = threading.Lock()

    def fail_next(self, failure: Failure) -> None:
        with self.lock:
            self.failures.append(failure)

    def add_media(self, data: bytes, mime_type: str) -> str:
        media_id = str(10**15 + secrets.randbelow(9 * 10**15))
        with self.lock:
            self.media[media_id] = Media(data, mime_type)
        return media_id

    def handle(self, method: str, path: str, query: bytes, headers: Mapping[str, str], body: bytes) -> Reply:
        """Route one request; header names are lower case."""
        if path.startswith("/_fake/"):
            return self._control(method, path, headers, body)
        if headers.get("authorization") != f"Bearer {self.access_token}":
            message = "Invalid OAuth access token - Cannot parse access token"
            challenge = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
            return _json(401, error_body(190, message, details=message), [("www-authenticate", challenge)])
        with self.lock:
            failure = next((f for f in self.failures if path.endswith(f.path)), None)
            if failure is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self.failures.remove(failure)
        if failure is not None:
            return self._fail(failure, method, path, body)
        if method == "GET" and path.startswith("/media-files/"):
            media = self.media.get(path.removeprefix("/media-files/"))
            if media is None or parse_qs(query.decode()).get("hash") != [media.sha256[:16]]:
                return 404, "text/plain", b"Not Found", []
            return 200, media.mime_type, media.data, []
        if method == "GET" and TEMPLATES_PATH.match(path):
            status, page = template_page(self.templates, host=headers.get("host", ""), path=path, query=query)
            return _json(status, page if status == 200 else {"error": page})
        edge, node = _EDGE.match(path), _NODE.match(path)
        if method == "POST" and edge and edge["edge"] == "messages":
            return self._message(edge["pnid"], body)
        if method == "POST" and edge:
            return self._upload(headers.get("content-type", ""), body)
        if method == "GET" and node and node["id"] in self.media:
            media, media_id = self.media[node["id"]], node["id"]
            url = f"http://{headers.get('host')}/media-files/{media_id}?ext={int(time.time())}&hash={media.sha256[:16]}"
            info = {"url": url, "mime_type": media.mime_type, "sha256": media.sha256, "id": media_id}
            return _json(200, {**info, "file_size": len(media.data), "messaging_product": "whatsapp"})
        message = f"Unsupported {method.lower()} request. Object with ID '{path.strip('/')}' does not exist."
        return _json(400, error_body(100, message, subcode=33, type_="GraphMethodException"))

    def _fail(self, failure: Failure, method: str, path: str, body: bytes) -> Reply:
        edge = _EDGE.match(path)
        if failure.acts and method == "POST" and edge and edge["edge"] == "messages":
            sent = self._message(edge["pnid"], body)
            time.sleep(failure.delay)
            if failure.drop:
                return DROP, "", b"", []
            if not failure.after_send:
                return sent  # a slow answer: the client's read timeout decides
        answer = error_body(failure.code, details=failure.details, subcode=failure.error_subcode)
        extra = [("retry-after", failure.retry_after)] if failure.retry_after else []
        return _json(failure.status or _STATUS_FOR_CODE.get(failure.code, 400), answer, extra)

    def _message(self, phone_number_id: str, raw: bytes) -> Reply:
        try:
            body = json.loads(raw)
        except ValueError:
            return _json(400, error_body(100, "(#100) The request body is not valid JSON."))
        problem = check_message(body)
        if problem is not None:
            return _json(400, error_body(problem[0], details=problem[1]))
        if body.get("status") == "read":
            return _json(200, {"success": True})
        wamid = "wamid." + base64.b64encode(secrets.token_bytes(24)).decode()
        to = body.get("to")
        contact = (
            {"input": to, "wa_id": normalise_wa_id(to)}
            if to
            else {"input": body["recipient"], "user_id": body["recipient"]}
        )
        message: dict[str, Any] = {"id": wamid}
        if body["type"] == "template":
            message["message_status"] = "accepted"  # Meta reports pacing for template sends only
        with self.lock:
            self.sent.append({"phone_number_id": phone_number_id, "wamid": wamid, "body": body})
        if self.webhook_url and self.app_secret:
            recipient = contact.get("wa_id") or contact.get("user_id") or ""
            callback = body.get("biz_opaque_callback_data")
            callback = callback if isinstance(callback, str) else ""
            args = (self.webhook_url, self.app_secret, phone_number_id, wamid, recipient, callback)
            threading.Thread(target=self._post_statuses, args=args, daemon=True).start()
        return _json(200, {"messaging_product": "whatsapp", "contacts": [contact], "messages": [message]})

    def _post_statuses(
        self, url: str, secret: str, phone_number_id: str, wamid: str, recipient: str, callback: str
    ) -> None:
        """Tell the hub its message was sent, delivered and read, signed as Meta signs webhooks.

        Each status echoes the send's `biz_opaque_callback_data`, as Meta's do.
        """
        with httpx.Client(timeout=10.0) as client:
            for status, delay in zip(("sent", "delivered", "read"), self.status_delays, strict=False):
                time.sleep(delay)
                value = status_update(wamid, recipient, status, int(time.time()))
                if callback:
                    for item in value["statuses"]:
                        item["biz_opaque_callback_data"] = callback
                body = encode(envelope([value], phone_number_id=phone_number_id))
                headers = {
                    "Content-Type": "application/json",
                    "X-Hub-Signature-256": compute_signature(secret, body),
                }
                try:
                    response = client.post(url, content=body, headers=headers)
                    logger.info(
                        "status %s of %s posted: hub answered %s", status, wamid, response.status_code
                    )
                except httpx.HTTPError as exc:
                    logger.warning("status %s of %s not delivered: %s", status, wamid, type(exc).__name__)

    def _upload(self, content_type: str, body: bytes) -> Reply:
        fields = parse_multipart(content_type, body)
        file = fields.get("file")
        if fields.get("messaging_product", (None, b""))[1] != b"whatsapp" or file is None:
            return _json(
                400, error_body(100, "(#100) The parameters messaging_product and file are required.")
            )
        mime_type = fields.get("type", (None, b""))[1].decode() or file[0] or "application/octet-stream"
        return _json(200, {"id": self.add_media(file[1], mime_type)})

    def _control(self, method: str, path: str, headers: Mapping[str, str], body: bytes) -> Reply:
        if method == "POST" and path == "/_fake/fail-next":
            spec = json.loads(body or b"{}")
            known = {"code", "status", "times", "details", "error_subcode", "retry_after", "path"}
            known |= {"after_send", "drop", "delay"}
            self.fail_next(Failure(**{k: v for k, v in spec.items() if k in known}))
            return _json(200, {"queued": len(self.failures)})
        if method == "POST" and path == "/_fake/media":
            mime_type = headers.get("content-type", "application/octet-stream")
            media_id = self.add_media(body, mime_type)
            return _json(200, {"id": media_id, "sha256": self.media[media_id].sha256, "file_size": len(body)})
        if method == "GET" and path == "/_fake/sent":
            with self.lock:
                return _json(200, list(self.sent))
        if method == "POST" and path == "/_fake/reset":
            with self.lock:
                self.sent.clear()
                self.media.clear()
                self.failures.clear()
                self.templates = sample_templates()
            return _json(200, {"reset": True})
        return 404, "text/plain", b"Not Found", []


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients reuse connections as they do with Meta

    def _serve(self) -> None:
        app = cast("_Server", self.server).app
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, ctype, payload, extra = app.handle(self.command, unquote(path), query.encode(), headers, body)
        if status == DROP:
            # Meta acted, then the connection broke before its answer.
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in [("Content-Type", ctype), ("Content-Length", str(len(payload))), *extra]:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_DELETE = _serve

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("fake graph: " + format, *args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], app: FakeGraphApp) -> None:
        super().__init__(address, _Handler)
        self.app = app


class FakeGraph:
    """Serves a `FakeGraphApp` over real HTTP on loopback from a background thread."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, **options: Any) -> None:
        self.app = FakeGraphApp(**options)
        self._server = _Server((host, port), self.app)
        # A short poll keeps `stop()` quick; it only bounds how fast shutdown is noticed.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> str:
        """Called once; serves until `stop()` and returns the base URL."""
        self._thread.start()
        return self.base_url

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def serve_forever(self) -> None:
        """Serve in the calling thread (the command line)."""
        self._server.serve_forever()

    def __enter__(self) -> FakeGraph:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", default=os.environ.get("WHATSAPP_ACCESS_TOKEN", DEFAULT_TOKEN))
    parser.add_argument("--webhook-url", help="where to POST signed status webhooks after each send")
    parser.add_argument("--app-secret", default=os.environ.get("WHATSAPP_APP_SECRET"))
    parser.add_argument("--status-delays", default="0.5,1.5,3", help="seconds before sent, delivered, read")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # One line per status webhook is this process's log; httpx would add one per request at INFO.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    delays = [float(d) for d in args.status_delays.split(",") if d]
    fake = FakeGraph(
        host=args.host,
        port=args.port,
        access_token=args.token,
        webhook_url=args.webhook_url,
        app_secret=args.app_secret,
        status_delays=delays,
    )
    logger.info("Fake Graph API on %s", fake.base_url)
    fake.serve_forever()
