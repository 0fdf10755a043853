"""Scenario 9 (fuzzing): mutated real fixture bodies, signed correctly, POSTed to the in-process endpoint.

tests/webhook/test_payload.py fuzzes the parser alone with the same mutations; this goes through the
view, the raw store and the ingest transaction: never a 5xx, and a signed body is always kept raw.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from store.models import WebhookEvent
from tests.reliability.clients import Figures
from tests.support import fixture_json, post_webhook
from tests.webhook.test_payload import FIXTURE_NAMES, mutate

pytestmark = [pytest.mark.slow, pytest.mark.django_db]

ANSWERS: Counter[int] = Counter()


def without_nul(node: Any) -> Any:
    if isinstance(node, str):
        return node.replace("\x00", "")
    if isinstance(node, list):
        return [without_nul(item) for item in node]
    if isinstance(node, dict):
        return {without_nul(key): without_nul(value) for key, value in node.items()}
    return node


@settings(
    max_examples=300,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(name=st.sampled_from(FIXTURE_NAMES), data=st.data(), meta_escaping=st.booleans())
def test_fuzz_signed_mutated_fixture_is_never_5xx_and_always_kept_raw(
    name: str, data: st.DataObject, meta_escaping: bool
) -> None:
    body = fixture_json(name)
    mutate(body, data)
    # NUL is the one character PostgreSQL refuses: that known bug has its own case,
    # tests/reliability/test_hostile_http.py::test_hostile_nul_character_in_text_is_stored_not_503.
    body = without_nul(body)
    # NaN and Infinity are what a careless relay writes; Meta never does, the hub must still not crash.
    raw = json.dumps(body, separators=(",", ":"), ensure_ascii=meta_escaping).encode()
    before = WebhookEvent.objects.count()
    response = post_webhook(raw)
    ANSWERS[response.status_code] += 1

    assert response.status_code < 500, (name, response.content[:300])
    assert response.status_code in (200, 400), response.content[:300]
    assert WebhookEvent.objects.count() == before + 1
    assert bytes(WebhookEvent.objects.order_by("-pk").first().body) == raw  # type: ignore[union-attr]


def test_fuzz_report() -> None:
    # Runs after the property above (pytest keeps module order) and prints what it saw.
    Figures("fuzzed signed bodies", sent=sum(ANSWERS.values()), extra={"answers": dict(ANSWERS)}).report()
