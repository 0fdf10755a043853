"""Scenarios 7 and 11: media download jobs run by `manage.py run_worker` against the fake Graph API.

7: a worker is SIGKILLed in the middle of a slow download; the job is not taken again while its lease
holds, is reclaimed once it has run out, and takes effect once (one file, one message.updated event).
11: hostile media (a host outside Meta's, a redirect to a private address, a file over the limit, a lying
size, a wrong sha256, a hostile file name) is refused and recorded, and nothing is written outside the
media root. The pure checks are unit-tested in tests/outbound/test_media_guard.py and the job in-process
in tests/outbound/test_media_job.py; these cases go through the worker process end to end.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph, Reply
from store.actions.record import record_batch
from store.models import HubEvent, Job, JobState, MediaStatus, WhatsAppMessage
from tests import factories
from tests.reliability.clients import Figures
from tests.reliability.cluster import WorkerProcess

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

JPEG = b"\xff\xd8\xff\xe0" + b"\x01" * 2048
Handle = Callable[[str, str, bytes, Mapping[str, str], bytes], Reply]


def worker_env(fake: FakeGraph, media_root: Path) -> dict[str, str]:
    return {
        "WHATSAPP_GRAPH_URL": fake.base_url,
        "WHATSAPP_ACCESS_TOKEN": DEFAULT_TOKEN,
        "MEDIA_ROOT": str(media_root),
        "REDIS_URL": "",
    }


def receive_media(media_id: str, message_type: str = "image", mime: str = "image/jpeg", **fields: Any) -> int:
    record = factories.inbound(
        text="", message_type=message_type, media_id=media_id, media_mime_type=mime, **fields
    )
    record_batch(factories.batch(record))
    return WhatsAppMessage.objects.get(media_id=media_id).pk


def job_of(message_pk: int) -> Job:
    return Job.objects.get(dedupe_key=f"media:{message_pk}")


def wait_for(predicate: Callable[[], bool], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def updates_of(message_pk: int) -> int:
    return HubEvent.objects.filter(type="message.updated", payload__message__id=message_pk).count()


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_worker_killed_mid_download_job_is_reclaimed_after_lease_and_takes_effect_once(
    fake_graph: FakeGraph, tmp_path: Path
) -> None:
    media_root = tmp_path / "media"
    media_id = fake_graph.app.add_media(JPEG, "image/jpeg")
    started = threading.Event()
    original: Handle = fake_graph.app.handle

    def slow_first_download(
        method: str, path: str, query: bytes, headers: Mapping[str, str], body: bytes
    ) -> Reply:
        if path.startswith("/media-files/") and not started.is_set():
            started.set()
            time.sleep(20)  # the worker is killed long before this ends
        return original(method, path, query, headers, body)

    fake_graph.app.handle = slow_first_download  # type: ignore[method-assign]
    message_pk = receive_media(media_id)
    first = WorkerProcess(**worker_env(fake_graph, media_root))
    try:
        assert started.wait(30), first.output()
        first.kill()
    finally:
        first.stop()
    leased = job_of(message_pk)
    second = WorkerProcess(**worker_env(fake_graph, media_root))
    try:
        # While the lease holds, nobody takes the job again.
        time.sleep(3)
        held = job_of(message_pk)
        # Time passing beyond the lease (outbound.worker.LEASE, 2 minutes), without waiting for it.
        Job.objects.filter(pk=leased.pk).update(leased_until=datetime.now(UTC) - timedelta(seconds=1))
        done = wait_for(lambda: job_of(message_pk).state == JobState.DONE, 30)
        time.sleep(1)
    finally:
        second.stop()
    message = WhatsAppMessage.objects.get(pk=message_pk)
    files = files_under(media_root)
    figures = Figures(
        "worker killed mid-download",
        sent=1,
        stored=len(files),
        delivered=updates_of(message_pk),
        duplicated=max(0, len(files) - 1) + max(0, updates_of(message_pk) - 1),
        extra={"attempts": job_of(message_pk).attempts, "state_while_leased": held.state},
    )
    figures.report()

    assert leased.state == JobState.RUNNING, figures
    assert held.state == JobState.RUNNING, figures
    assert held.attempts == 1, figures
    assert done, (figures, second.output()[-2000:])
    assert message.media_status == MediaStatus.DOWNLOADED, figures
    assert len(files) == 1, figures
    assert files[0].read_bytes() == JPEG
    assert updates_of(message_pk) == 1, figures
    assert job_of(message_pk).attempts == 2, figures


class _Private(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(200)
        self.send_header("Content-Length", "6")
        self.end_headers()
        self.wfile.write(b"secret")

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_worker_hostile_media_is_refused_recorded_and_nothing_lands_outside_media_root(
    fake_graph: FakeGraph, tmp_path: Path
) -> None:
    media_root = tmp_path / "media"
    private = ThreadingHTTPServer(("127.0.0.1", 0), _Private)
    threading.Thread(target=private.serve_forever, args=(0.05,), daemon=True).start()
    private_url = f"http://127.0.0.1:{private.server_address[1]}/latest/meta-data/"
    big = b"\x00" * (600 * 1024)
    ids = {
        "outside host": fake_graph.app.add_media(JPEG, "image/jpeg"),
        "redirect to private": fake_graph.app.add_media(JPEG + b"r", "image/jpeg"),
        "over limit": fake_graph.app.add_media(big, "image/webp"),
        "lying size": fake_graph.app.add_media(big + b"l", "image/webp"),
        "wrong sha256": fake_graph.app.add_media(JPEG + b"s", "image/jpeg"),
        "hostile file name": fake_graph.app.add_media(b"%PDF-1.4 harmless", "application/pdf"),
    }
    original: Handle = fake_graph.app.handle

    def hostile(method: str, path: str, query: bytes, headers: Mapping[str, str], body: bytes) -> Reply:
        status, kind, payload, extra = original(method, path, query, headers, body)
        if path.endswith(ids["outside host"]):
            payload = payload.replace(b"http://", b"https://evil.example.com/?", 1)
        if path.endswith(ids["lying size"]):
            payload = payload.replace(b'"file_size": ' + str(len(big) + 1).encode(), b'"file_size": 100')
        if path.startswith("/media-files/" + ids["redirect to private"]):
            return 302, "text/plain", b"", [("Location", private_url)]
        return status, kind, payload, extra

    fake_graph.app.handle = hostile  # type: ignore[method-assign]
    messages = {
        "outside host": receive_media(ids["outside host"]),
        "redirect to private": receive_media(ids["redirect to private"]),
        "over limit": receive_media(ids["over limit"], "sticker", "image/webp"),
        "lying size": receive_media(ids["lying size"], "sticker", "image/webp"),
        "wrong sha256": receive_media(ids["wrong sha256"], media_sha256=hashlib.sha256(b"other").hexdigest()),
        "hostile file name": receive_media(
            ids["hostile file name"],
            "document",
            "application/pdf",
            media_filename="../../../../outside.pdf",
        ),
    }
    worker = WorkerProcess(**worker_env(fake_graph, media_root))
    try:
        finished = wait_for(
            lambda: all(job_of(pk).state in (JobState.DONE, JobState.FAILED) for pk in messages.values()), 60
        )
    finally:
        worker.stop()
        private.shutdown()
        private.server_close()
    rows = {case: WhatsAppMessage.objects.get(pk=pk) for case, pk in messages.items()}
    outcome = {case: (row.media_status, row.media_error[:60]) for case, row in rows.items()}
    stray = [p for p in files_under(tmp_path) if media_root not in p.parents]
    figures = Figures(
        "hostile media",
        sent=len(messages),
        stored=len(files_under(media_root)),
        delivered=sum(updates_of(pk) for pk in messages.values()),
        extra={"outcome": outcome, "private_hits": _Private.hits, "stray_files": [str(p) for p in stray]},
    )
    figures.report()

    assert finished, (figures, worker.output()[-3000:])
    for case, row in rows.items():
        if case == "hostile file name":
            continue
        assert row.media_status == MediaStatus.FAILED, (case, figures)
        assert row.media_error, (case, figures)
        assert job_of(row.pk).state == JobState.FAILED, (case, figures)
        assert updates_of(row.pk) == 1, (case, figures)
    named = rows["hostile file name"]
    assert named.media_status == MediaStatus.DOWNLOADED, figures
    assert named.media_filename == "../../../../outside.pdf"
    assert ".." not in named.media_path
    assert (media_root / named.media_path).resolve().is_relative_to(media_root.resolve())
    assert files_under(media_root) == [media_root / named.media_path], figures
    assert _Private.hits == 0, figures
    assert not stray, figures
