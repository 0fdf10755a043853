"""`manage.py prune_webhooks`: recorded raw bodies go after the retention, failed ones stay until
reprocessed, and a redelivered body keeps one raw copy."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings

from store.models import WebhookEvent
from tests.support import post_webhook
from webhook import samples

pytestmark = pytest.mark.django_db
NOW = 1_790_000_000


def body(wamid: str) -> bytes:
    return samples.encode(samples.envelope([samples.text_message(wamid, "15550001", "hi", NOW)]))


def age(days: int) -> None:
    WebhookEvent.objects.update(received_at=datetime.now(UTC) - timedelta(days=days))


def prune(*args: str) -> str:
    out = StringIO()
    call_command("prune_webhooks", *args, stdout=out)
    return out.getvalue()


def test_recorded_bodies_past_the_retention_go_failed_ones_stay(settings: Settings) -> None:
    settings.HUB_WEBHOOK_RETENTION_DAYS = 30
    assert post_webhook(body("wamid.old")).status_code == 200
    assert post_webhook(b"not json").status_code == 400
    age(days=31)
    assert post_webhook(body("wamid.new")).status_code == 200

    assert "Deleted 1 webhook bodies older than 30 days" in prune()
    kept = WebhookEvent.objects.order_by("pk")
    assert [bytes(e.body) for e in kept] == [b"not json", body("wamid.new")]


def test_a_failed_body_goes_once_reprocessed_and_past_the_retention() -> None:
    assert post_webhook(b"not json").status_code == 400
    WebhookEvent.objects.update(processed_at=datetime.now(UTC), error="")  # what reprocess leaves
    age(days=10)

    prune("--days", "7")

    assert not WebhookEvent.objects.exists()


def test_a_replayed_identical_body_keeps_one_raw_copy() -> None:
    replayed = body("wamid.again")
    for _ in range(5):
        assert post_webhook(replayed).status_code == 200
    assert WebhookEvent.objects.count() == 5

    assert "and 4 redelivered copies" in prune()
    first = WebhookEvent.objects.get()
    assert bytes(first.body) == replayed


@pytest.mark.parametrize("args", [["--days", "-1"], ["--batch-size", "0"]])
def test_bad_arguments_are_refused(args: list[str]) -> None:
    with pytest.raises(CommandError):
        prune(*args)
