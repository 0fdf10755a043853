"""The traffic simulator: every kind of body, deterministic per seed, all of it parseable and mappable."""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter

import pytest

from webhook.ingest import batch_from_payload
from webhook.messages import Message
from webhook.payload import WebhookPayload, parse_webhook
from webhook.simulation import KINDS, MESSAGE_KINDS, SimulatedBody, TrafficSimulator, simulate

MESSAGE_TYPES = {
    "text", "image", "video", "audio", "document", "sticker", "location", "contacts", "interactive",
    "button", "reaction", "order", "system", "edit", "revoke", "unsupported",
}  # fmt: skip


def parsed(item: SimulatedBody) -> WebhookPayload:
    return parse_webhook(json.loads(item.body))


def messages(bodies: list[SimulatedBody]) -> list[Message]:
    return [m for item in bodies if item.kind != "redelivery" for m in parsed(item).messages]


def test_simulate_opening_bodies_show_every_kind_once() -> None:
    opening = simulate(len(KINDS), seed=1)
    assert sorted(item.kind for item in opening) == sorted(KINDS)
    assert opening[0].kind == "text"


@pytest.mark.parametrize("seed", [0, 1, 42])
def test_simulate_stream_covers_every_message_type_and_status(seed: int) -> None:
    bodies = simulate(1000, seed=seed)
    found = messages(bodies)
    assert {m.type_name for m in found} == MESSAGE_TYPES
    assert any(m.is_voice for m in found)
    assert any(m.media and not m.media.voice for m in found)
    assert {m.interactive.kind_name for m in found if m.interactive} == {"button_reply", "list_reply"}
    assert any(m.context and m.context.id for m in found if m.type_name == "text")
    assert any(m.reaction and m.reaction.removed for m in found)
    statuses = {s.status_name for item in bodies for s in parsed(item).statuses}
    assert {"sent", "delivered", "read", "failed"} <= statuses


def test_simulate_customers_have_names_and_some_only_a_bsuid_with_username() -> None:
    contacts = [c for item in simulate(200, seed=3) for ch in parsed(item).changes for c in ch.contacts]
    assert all(c.name for c in contacts)
    assert len({c.wa_id or c.user_id for c in contacts}) >= 4
    bsuid_only = [c for c in contacts if c.user_id and not c.wa_id]
    assert bsuid_only
    assert all(c.username for c in bsuid_only)
    assert any(not m.from_number and m.from_user_id for m in messages(simulate(200, seed=3)))


def test_simulate_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = simulate(150, seed=7)
    assert simulate(150, seed=7) == first
    other = simulate(150, seed=8)
    assert {item.body for item in other}.isdisjoint(item.body for item in first)


def test_simulate_every_body_parses_and_maps_every_update() -> None:
    for item in simulate(600, seed=5):
        payload = parsed(item)
        assert payload.object_type == "whatsapp_business_account"
        batch = batch_from_payload(payload)
        assert len(batch.messages) == len(list(payload.messages))
        assert len(batch.statuses) == len(list(payload.statuses))
        assert batch.messages or batch.statuses
        assert all(
            record.wamid and (record.customer.wa_id or record.customer.user_id) for record in batch.messages
        )


def test_simulate_redelivery_repeats_an_earlier_body_exactly() -> None:
    bodies = simulate(300, seed=9)
    redelivered = [i for i, item in enumerate(bodies) if item.kind == "redelivery"]
    assert redelivered
    for index in redelivered:
        assert bodies[index].body in {item.body for item in bodies[:index]}


def test_simulate_fresh_messages_have_unique_wamids() -> None:
    wamids = [m.wamid for m in messages(simulate(500, seed=2))]
    assert len(wamids) == len(set(wamids))


def test_simulate_statuses_arrive_sometimes_out_of_order() -> None:
    rank = {"sent": 0, "delivered": 1, "read": 2, "played": 3, "failed": 3}
    arrivals: dict[str, list[str]] = {}
    for item in simulate(800, seed=4):
        if item.kind != "redelivery":
            for status in parsed(item).statuses:
                arrivals.setdefault(status.wamid, []).append(status.status_name)
    in_order = [names == sorted(names, key=rank.__getitem__) for names in arrivals.values()]
    assert any(in_order)
    assert not all(in_order)


def test_simulate_replies_and_reactions_point_at_business_messages_with_statuses() -> None:
    bodies = simulate(300, seed=6)
    reported = {s.wamid for item in bodies for s in parsed(item).statuses}
    targets = {m.context.id for m in messages(bodies) if m.context} | {
        m.reaction.message_id for m in messages(bodies) if m.reaction
    }
    assert len(targets & reported) >= len(targets) // 2


def test_simulate_edits_and_revokes_target_the_customers_own_messages() -> None:
    found = messages(simulate(400, seed=8))
    sender = {m.wamid: m.from_number or m.from_user_id for m in found}
    for message in found:
        change = message.edit or message.revoke
        if change is not None:
            assert sender[change.original_message_id] == (message.from_number or message.from_user_id)


def test_simulate_register_media_gets_the_bytes_the_webhook_announces() -> None:
    files: dict[str, tuple[bytes, str]] = {}

    def register(data: bytes, mime_type: str) -> str:
        media_id = f"registered-{len(files)}"
        files[media_id] = (data, mime_type)
        return media_id

    bodies = TrafficSimulator(11, register_media=register).take(120)
    media = [m.media for m in messages(bodies) if m.media]
    assert media
    assert {m.id for m in media} == set(files)
    for item in media:
        data, mime_type = files[item.id]
        assert item.mime_type == mime_type
        assert item.sha256 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    # Registering changes the ids and nothing else of the stream.
    assert [item.kind for item in bodies] == [item.kind for item in simulate(120, seed=11)]


def test_simulate_clock_sets_the_timestamps() -> None:
    bodies = TrafficSimulator(1, clock=lambda: 1_800_000_000).take(40)
    stamps = Counter(int(m.timestamp.timestamp()) for m in messages(bodies) if m.timestamp)
    assert set(stamps) == {1_800_000_000}


def test_simulate_message_kinds_are_the_kinds_less_status_and_redelivery() -> None:
    assert set(KINDS) - set(MESSAGE_KINDS) == {"status", "redelivery"}
