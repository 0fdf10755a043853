"""`manage.py prune_events`: old events go in batches, recent ones and the newest always stay."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from pytest_django.fixtures import Settings as SettingsWrapper

from store.models import HubEvent
from tests.realtime.helpers import record_messages

pytestmark = pytest.mark.django_db(transaction=True)


def age(seqs: list[int], days: int) -> None:
    HubEvent.objects.filter(seq__in=seqs).update(created_at=datetime.now(UTC) - timedelta(days=days))


def remaining() -> list[int]:
    return list(HubEvent.objects.order_by("seq").values_list("seq", flat=True))


def test_prune_events_old_events_deleted_in_batches_recent_kept() -> None:
    seqs = record_messages(7)
    age(seqs[:5], days=10)
    out = StringIO()
    call_command("prune_events", "--days", "7", "--batch-size", "2", stdout=out)
    assert remaining() == seqs[5:]
    assert "Deleted 5 events" in out.getvalue()


def test_prune_events_default_retention_from_settings(settings: SettingsWrapper) -> None:
    settings.HUB_EVENT_RETENTION_DAYS = 3
    seqs = record_messages(3)
    age(seqs[:1], days=4)
    call_command("prune_events", stdout=StringIO())
    assert remaining() == seqs[1:]


def test_prune_events_all_old_keeps_newest() -> None:
    seqs = record_messages(4)
    age(seqs, days=30)
    call_command("prune_events", "--days", "1", stdout=StringIO())
    assert remaining() == seqs[-1:]


def test_prune_events_empty_log_deletes_nothing() -> None:
    out = StringIO()
    call_command("prune_events", "--days", "0", stdout=out)
    assert "Deleted 0 events" in out.getvalue()


def test_prune_events_pauses_between_batches_not_after_the_last() -> None:
    seqs = record_messages(6)
    age(seqs[:5], days=10)
    started = time.monotonic()
    call_command("prune_events", "--days", "7", "--batch-size", "2", "--pause", "0.5", stdout=StringIO())
    elapsed = time.monotonic() - started
    assert remaining() == seqs[5:]
    # Three batches (2, 2, 1): two pauses; a third, after the short last batch, would make it 1.5 s.
    assert 1.0 <= elapsed < 1.5, elapsed


@pytest.mark.parametrize("args", [["--days", "-1"], ["--batch-size", "0"], ["--pause", "-1"]])
def test_prune_events_bad_arguments_refused(args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("prune_events", *args)
