"""Replay splices the stored payload's JSON text into the frame: the same frame as the live one."""

from __future__ import annotations

import json

import pytest

from store.publish import frame_text_of
from tests.realtime.helpers import amake_token, arecord_messages, communicator

INBOX = "/ws/whatsapp/inbox/"


def test_frame_text_of_splices_type_and_seq_before_the_payload() -> None:
    text = frame_text_of(7, "message.created", '{"conversation": {"id": 1}, "message": {"id": 2}}')
    assert json.loads(text) == {
        "type": "message.created",
        "seq": 7,
        "conversation": {"id": 1},
        "message": {"id": 2},
    }
    assert text.startswith('{"type":"message.created","seq":7,')


def test_frame_text_of_empty_payload_is_a_valid_frame() -> None:
    assert json.loads(frame_text_of(3, "conversation.updated", " {} ")) == {
        "type": "conversation.updated",
        "seq": 3,
    }


def test_frame_text_of_payload_not_an_object_raises() -> None:
    with pytest.raises(ValueError, match="not a JSON object"):
        frame_text_of(3, "conversation.updated", "[1]")


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("realtime_cleanup")
async def test_replayed_frame_equals_the_live_frame() -> None:
    token = await amake_token()
    live = communicator(INBOX, token)
    await live.connect()
    seqs = await arecord_messages(3)
    live_frames = [json.loads(await live.receive_from(timeout=5)) for _ in seqs]
    await live.disconnect()
    replaying = communicator(f"{INBOX}?after={seqs[0] - 1}", token)
    await replaying.connect()
    replayed = [json.loads(await replaying.receive_from(timeout=5)) for _ in seqs]
    assert await replaying.receive_nothing(timeout=0.2)
    await replaying.disconnect()
    assert [frame["seq"] for frame in live_frames] == seqs
    assert replayed == live_frames
