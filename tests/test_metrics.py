"""Prometheus metrics: behind auth, and they move when the hub does something."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from store.auth import issue_token
from store.metrics import DUPLICATES_DROPPED
from tests.support import dumps_like_meta, fixture_json, post_webhook

pytestmark = pytest.mark.django_db


def metric_value(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_without_credentials_is_401(client: Client) -> None:
    response = client.get("/api/metrics/")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_metrics_count_webhooks_duplicates_and_queue(client: Client) -> None:
    token = issue_token(User.objects.create_user("ops"))
    auth = {"Authorization": f"Bearer {token}"}
    before = DUPLICATES_DROPPED.labels(kind="message")._value.get()
    body = dumps_like_meta(fixture_json("image.json"))
    for _ in range(2):
        assert post_webhook(body).status_code == 200
    response = client.get("/api/metrics/", headers=auth)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    text = response.content.decode()
    assert metric_value(text, 'hub_webhook_answer_seconds_count{status="200"}') >= 2
    assert metric_value(text, 'hub_duplicates_dropped_total{kind="message"}') == before + 1
    assert metric_value(text, "hub_job_queue_depth") == 1  # the image's download job
