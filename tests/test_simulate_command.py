"""`manage.py simulate` against a real hub process: every post acknowledged, every update stored."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from outbound.fake_graph import DEFAULT_TOKEN, FakeGraph
from outbound.media import download_media_job
from store import jobs
from store.actions.record import MEDIA_DOWNLOAD_JOB
from store.models import MediaStatus, WebhookEvent, WhatsAppMessage, WhatsAppMessageStatus
from tests.support import TEST_APP_SECRET, free_port, running_hub
from webhook.management.commands.simulate import webhook_url
from webhook.payload import parse_webhook
from webhook.simulation import simulate

COUNT = 40
SEED = 5


def run_simulate(*args: str) -> str:
    out = StringIO()
    call_command("simulate", *args, "--secret", TEST_APP_SECRET, stdout=out)
    return out.getvalue()


def expected_updates(count: int, seed: int) -> tuple[set[str], set[tuple[str, str]]]:
    """The wamids and (wamid, status) pairs the stream for `seed` carries (timestamps aside, it repeats)."""
    wamids: set[str] = set()
    statuses: set[tuple[str, str]] = set()
    for item in simulate(count, seed=seed):
        payload = parse_webhook(json.loads(item.body))
        wamids |= {m.wamid for m in payload.messages}
        statuses |= {(s.wamid, s.status_name) for s in payload.statuses}
    return wamids, statuses


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simulate_command_posts_signed_bodies_all_acknowledged_and_stored() -> None:
    with running_hub(HUB_WORKER="external") as base:
        output = run_simulate("--url", base, "--count", str(COUNT), "--rate", "50", "--seed", str(SEED))
    last = output.strip().splitlines()[-1]
    assert last.startswith(f"Done: {COUNT} sent, {COUNT} 2xx, 0 non-2xx, 0 unanswered")
    assert WebhookEvent.objects.count() == COUNT
    assert not WebhookEvent.objects.filter(processed_at__isnull=True).exists()
    wamids, statuses = expected_updates(COUNT, SEED)
    assert set(WhatsAppMessage.objects.values_list("message_id", flat=True)) == wamids
    assert set(WhatsAppMessageStatus.objects.values_list("wamid", "status")) == statuses


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simulate_command_with_fake_graph_registers_media_the_hub_can_download(
    settings: Settings, tmp_path: Path
) -> None:
    with FakeGraph() as fake:
        with running_hub(HUB_WORKER="external") as base:
            args = ["--url", base, "--count", str(COUNT), "--rate", "0", "--seed", "3"]
            output = run_simulate(*args, "--graph-url", fake.base_url)
        assert f"{COUNT} sent, {COUNT} 2xx" in output
        media = WhatsAppMessage.objects.exclude(media_id="")
        assert media.exists()
        assert set(media.values_list("media_id", flat=True)) <= set(fake.app.media)
        # The download job (run here, the hub's worker being external) fetches every announced file intact.
        settings.WHATSAPP_GRAPH_URL = fake.base_url
        settings.WHATSAPP_ACCESS_TOKEN = DEFAULT_TOKEN
        settings.MEDIA_ROOT = tmp_path
        while (job := jobs.claim_next([MEDIA_DOWNLOAD_JOB])) is not None:
            async_to_sync(download_media_job)(job)
            jobs.complete(job)
    assert set(media.values_list("media_status", flat=True)) == {MediaStatus.DOWNLOADED}


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simulate_command_counts_refused_posts_and_fails() -> None:
    out = StringIO()
    with running_hub() as base, pytest.raises(CommandError, match="5 of 5 posts"):
        call_command(
            "simulate", "--url", base, "--count", "5", "--rate", "0", "--secret", "wrong", stdout=out
        )
    assert "5 sent, 0 2xx, 5 non-2xx, 0 unanswered" in out.getvalue()
    assert "403 x5" in out.getvalue()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_simulate_command_nobody_listening_counts_unanswered() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(CommandError, match="3 of 3 posts"):
        run_simulate("--url", url, "--count", "3", "--rate", "0", "--timeout", "2")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:8000", "http://127.0.0.1:8000/api/whatsapp/webhook/"),
        ("http://hub.example/", "http://hub.example/api/whatsapp/webhook/"),
        ("https://hub.example/api/whatsapp/webhook", "https://hub.example/api/whatsapp/webhook/"),
    ],
)
def test_webhook_url_appends_the_webhook_path_to_a_bare_host(url: str, expected: str) -> None:
    assert webhook_url(url) == expected
