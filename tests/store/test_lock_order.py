"""Writers that log events lock the conversation before the event log's sequence row, as the ingest
does, so two of them never wait for each other (PostgreSQL checks an event's reference to its
conversation at commit, with a share lock on that row)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.db import connection, transaction

from store.actions.media import record_media_downloaded
from store.eventlog import PendingEvent, append_events
from store.events import event_payload
from store.models import WhatsAppConversation, WhatsAppMessage
from tests.api.data import inbound, record

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


def in_thread(work: Callable[[], None], errors: list[BaseException]) -> threading.Thread:
    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported by the test, whatever it is
            errors.append(error)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_media_recorded_while_an_ingest_holds_its_conversation_waits_instead_of_deadlocking() -> None:
    record(inbound("wamid.picture", text="", message_type="image"))
    picture = WhatsAppMessage.objects.get(message_id="wamid.picture")
    holding = threading.Event()
    errors: list[BaseException] = []

    def ingest() -> None:
        # As a webhook's transaction: the conversation first, the sequence last.
        with transaction.atomic():
            conversation = WhatsAppConversation.objects.select_for_update().get(pk=picture.conversation_id)
            holding.set()
            time.sleep(0.5)  # the media writer starts meanwhile
            append_events([PendingEvent("conversation.updated", conversation, event_payload(conversation))])

    def media() -> None:
        holding.wait(10)
        record_media_downloaded(picture.pk, stored_name="p.jpg", mime_type="image/jpeg", sha256="0" * 64)

    threads = [in_thread(ingest, errors), in_thread(media, errors)]
    for thread in threads:
        thread.join(30)

    assert errors == []
    picture.refresh_from_db()
    assert picture.media_status == "downloaded"
