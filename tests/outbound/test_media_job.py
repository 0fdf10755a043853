"""The media download job against the fake Graph API over real HTTP: stored, checked, refused, recorded."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from pytest_django.fixtures import Settings

from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph
from outbound.media import download_media_job
from outbound.worker import PermanentFailure
from store import jobs
from store.actions.record import record_batch
from store.models import HubEvent, JobState, WhatsAppMessage
from tests.factories import batch, inbound

pytestmark = pytest.mark.django_db(transaction=True)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def fake_graph(settings: Settings, tmp_path: Path) -> Iterator[FakeGraph]:
    with FakeGraph() as fake:
        settings.WHATSAPP_GRAPH_URL = fake.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.MEDIA_ROOT = tmp_path
        yield fake


def receive_image(media_id: str, *, sha256: str = "", message_type: str = "image") -> WhatsAppMessage:
    record_batch(
        batch(
            inbound(
                text="",
                message_type=message_type,
                media_id=media_id,
                media_mime_type="image/png",
                media_sha256=sha256,
            )
        )
    )
    return WhatsAppMessage.objects.get(media_id=media_id)


def run_claimed_job() -> None:
    job = jobs.claim_next()
    assert job is not None
    async_to_sync(download_media_job)(job)
    jobs.complete(job)


def test_download_media_job_stores_file_and_announces_it(fake_graph: FakeGraph, tmp_path: Path) -> None:
    media_id = fake_graph.app.add_media(PNG, "image/png")
    message = receive_image(media_id)
    before = HubEvent.objects.count()
    run_claimed_job()
    message.refresh_from_db()
    assert message.media_status == "downloaded"
    assert message.media_url == f"/api/whatsapp/media/{message.pk}/"
    stored = tmp_path / message.media_path
    assert stored.read_bytes() == PNG
    assert stored.resolve().is_relative_to(tmp_path.resolve())
    assert stored.suffix == ".png"
    event = HubEvent.objects.order_by("-seq").first()
    assert HubEvent.objects.count() == before + 1
    assert event is not None
    assert event.type == "message.updated"
    assert event.payload["message"]["media_status"] == "downloaded"


def test_download_media_job_twice_keeps_one_file_and_one_event(fake_graph: FakeGraph, tmp_path: Path) -> None:
    media_id = fake_graph.app.add_media(PNG, "image/png")
    message = receive_image(media_id)
    run_claimed_job()
    events = HubEvent.objects.count()
    job = jobs.enqueue("media.download", {"message_id": message.pk})
    assert job is not None
    run_claimed_job()
    assert HubEvent.objects.count() == events
    assert len(list((tmp_path / "whatsapp").rglob("*.png"))) == 1


def test_download_media_job_wrong_sha256_is_refused_and_recorded(
    fake_graph: FakeGraph, tmp_path: Path
) -> None:
    media_id = fake_graph.app.add_media(PNG, "image/png")
    message = receive_image(media_id, sha256=hashlib.sha256(b"something else").hexdigest())
    job = jobs.claim_next()
    assert job is not None
    with pytest.raises(PermanentFailure, match="sha256"):
        async_to_sync(download_media_job)(job)
    message.refresh_from_db()
    assert message.media_status == "failed"
    assert "sha256" in message.media_error
    assert not (tmp_path / "whatsapp").exists()


def test_download_media_job_sticker_over_limit_is_refused(fake_graph: FakeGraph) -> None:
    media_id = fake_graph.app.add_media(b"R" * (600 * 1024), "image/webp")
    message = receive_image(media_id, message_type="sticker")
    job = jobs.claim_next()
    assert job is not None
    with pytest.raises(PermanentFailure, match="limit"):
        async_to_sync(download_media_job)(job)
    message.refresh_from_db()
    assert message.media_status == "failed"


def test_download_media_job_unknown_media_id_fails_permanently(fake_graph: FakeGraph) -> None:
    message = receive_image("1234567890")
    job = jobs.claim_next()
    assert job is not None
    with pytest.raises(PermanentFailure):
        async_to_sync(download_media_job)(job)
    message.refresh_from_db()
    assert message.media_status == "failed"
    assert jobs.queue_depth() == 1  # the worker marks the job failed, not the handler
    assert job.state == JobState.RUNNING
