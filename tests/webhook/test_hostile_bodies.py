"""Bodies Meta may send (or that a redelivery repeats) that once failed: each answered, none a lasting 5xx."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import IntegrityError

from store.actions.record import record_batch
from store.models import WebhookEvent, WhatsAppConversation, WhatsAppMessage
from store.records import IngestBatch
from tests.support import TEST_APP_SECRET
from webhook import samples
from webhook.receive import Delivery, receive_updates
from webhook.signature import compute_signature

NOW = 1_790_000_000


def signed(payload: dict[str, Any]) -> Delivery:
    body = samples.encode(payload)
    return body, compute_signature(TEST_APP_SECRET, body)


def text(wamid: str, wa_id: str, body: str = "hello") -> dict[str, Any]:
    return samples.envelope([samples.text_message(wamid, wa_id, body, NOW)])


@pytest.mark.django_db
@pytest.mark.parametrize("wamid", ["wamid." + "x" * 300, "wamid.with\x00nul"], ids=["300 chars", "NUL"])
def test_a_redelivered_odd_wamid_is_answered_200_every_time(wamid: str) -> None:
    delivery = signed(text(wamid, "15550001"))
    answers = [receive_updates([delivery])[0] for _ in range(3)]

    assert [a.status for a in answers] == [200, 200, 200]
    assert WhatsAppMessage.objects.count() == 1
    assert WhatsAppConversation.objects.get().message_count == 1


@pytest.mark.django_db
def test_one_post_with_a_thousand_new_customers_is_recorded() -> None:
    values = [samples.text_message(f"wamid.{i}", f"1555{i:06d}", "hi", NOW) for i in range(1000)]
    answers = receive_updates([signed(samples.envelope(values))])

    assert answers[0].status == 200
    assert WhatsAppConversation.objects.count() == 1000
    assert WhatsAppMessage.objects.count() == 1000


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"a": [value]}
    return value


@pytest.mark.django_db
def test_deep_nesting_inside_a_message_is_stored() -> None:
    payload = text("wamid.deep", "15550001")
    payload["entry"][0]["changes"][0]["value"]["messages"][0]["extra"] = nested(300)
    body = json.dumps(payload, separators=(",", ":")).encode()
    answer = receive_updates([(body, compute_signature(TEST_APP_SECRET, body))])[0]

    assert answer.status < 500
    assert WebhookEvent.objects.count() == 1


@pytest.mark.django_db
def test_a_lone_surrogate_in_a_text_is_stored() -> None:
    body = samples.encode(text("wamid.sur", "15550001", "broken \ud800 half"))
    answers = [receive_updates([(body, compute_signature(TEST_APP_SECRET, body))])[0] for _ in range(2)]

    assert [a.status for a in answers] == [200, 200]
    assert WhatsAppMessage.objects.get().text_body.startswith("broken ")


@pytest.mark.django_db
def test_two_contacts_claiming_one_bsuid_do_not_fail_the_group() -> None:
    # Both customers are known without a BSUID; the body gives both the same one. Saving both would
    # violate the unique BSUID constraint and fail every POST written with it, on every redelivery.
    for wa_id in ("15550008", "15550009"):
        WhatsAppConversation.objects.create(
            business_phone_number_id=samples.DEFAULT_PHONE_NUMBER_ID, phone_number=wa_id
        )
    poison = samples.envelope(
        [
            samples.messages_value(
                [
                    samples.contact(name="P", wa_id="15550008", user_id="US.1"),
                    samples.contact(name="Q", wa_id="15550009", user_id="US.1"),
                ],
                [
                    samples.inbound_message("wamid.P", NOW, "text", {"body": "x"}, wa_id="15550008"),
                    samples.inbound_message("wamid.Q", NOW, "text", {"body": "y"}, wa_id="15550009"),
                ],
            )
        ]
    )
    group = [signed(text("wamid.A", "15550001")), signed(poison), signed(text("wamid.B", "15550002"))]
    answers = receive_updates(group)

    assert [a.status for a in answers] == [200, 200, 200]
    stored = set(WhatsAppMessage.objects.values_list("message_id", flat=True))
    assert stored == {"wamid.A", "wamid.B", "wamid.P", "wamid.Q"}
    assert WhatsAppConversation.objects.filter(user_id="US.1").count() == 1


@pytest.mark.django_db
def test_a_constraint_refusing_one_body_spares_its_group_and_keeps_it_for_reprocess(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = record_batch

    def refusing(batch: IngestBatch, **kwargs: Any) -> Any:
        if any(m.wamid == "wamid.BAD" for m in batch.messages):
            raise IntegrityError("duplicate key value violates unique constraint")
        return real(batch, **kwargs)

    monkeypatch.setattr("webhook.receive.record_batch", refusing)
    group = [signed(text("wamid.A", "15550001")), signed(text("wamid.BAD", "15550003"))]
    group.append(signed(text("wamid.B", "15550002")))
    answers = receive_updates(group)

    assert [a.status for a in answers] == [200, 200, 200]
    assert answers[1].body["status"] == "kept"
    assert sorted(WhatsAppMessage.objects.values_list("message_id", flat=True)) == ["wamid.A", "wamid.B"]
    kept = WebhookEvent.objects.get(error__startswith="not storable")
    assert b"wamid.BAD" in bytes(kept.body)
    assert kept.processed_at is None
