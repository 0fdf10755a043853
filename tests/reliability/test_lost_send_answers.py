"""Scenario: a Graph API that loses its answers, under agents sending through two hub processes.

Four agents send six messages each, every one through one server and again, with the same
`Idempotency-Key`, through the other (as a client whose own answer was lost would). Meta (the fake) loses
the answer to some sends after acting on them (the connection dropped, a 5xx after the send) and
throttles others before acting. Whatever happens, each message must reach Meta exactly once: a lost
answer leaves it `unknown` (never sent again by the hub), a throttled one is sent later by its job, and
Meta's status webhooks, which echo `biz_opaque_callback_data`, settle every `unknown` one.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from django.contrib.auth.models import User

from outbound.fake_graph import DEFAULT_TOKEN, Failure, FakeGraph
from store.actions.record import record_batch
from store.auth import issue_token
from store.models import HubEvent, WhatsAppMessage
from tests import factories
from tests.reliability.clients import Figures
from tests.reliability.cluster import HubProcess
from tests.support import TEST_APP_SECRET

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

AGENTS, PER_AGENT = 4, 6
DROPPED, FAILED_AFTER_SEND, THROTTLED = 6, 5, 5
SETTLED = {"sent", "delivered", "read"}


@pytest.fixture
def graph() -> Iterator[FakeGraph]:
    with FakeGraph(app_secret=TEST_APP_SECRET, status_delays=(0.1, 0.2)) as fake:
        yield fake


@pytest.fixture
def servers(graph: FakeGraph, db: None) -> Iterator[list[HubProcess]]:
    env = {"WHATSAPP_GRAPH_URL": graph.base_url, "WHATSAPP_ACCESS_TOKEN": DEFAULT_TOKEN}
    started = [HubProcess(f"lost-{name}", env=env).start() for name in "ab"]
    # Meta posts every status of every send (those whose answer it lost included) to the first server.
    graph.app.webhook_url = f"{started[0].base}/api/whatsapp/webhook/"
    yield started
    for server in started:
        server.stop()


def agent_sends(servers: list[HubProcess], token: str, agent: int, customer: str) -> list[dict[str, Any]]:
    """Every message of one agent, each posted twice with one key: the two answers of each."""
    answers = []
    with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for index in range(PER_AGENT):
            body = {"to": customer, "text": f"agent {agent} message {index}"}
            key = {"Idempotency-Key": f"agent-{agent}-{index}"}
            pair = [
                client.post(f"{server.base}/api/whatsapp/messages/", json=body, headers=key)
                for server in (servers[index % 2], servers[(index + 1) % 2])
            ]
            bodies = [response.json() for response in pair]
            assert all("message" in body for body in bodies), bodies
            answers.append(
                {"status": [r.status_code for r in pair], "message": [b["message"] for b in bodies]}
            )
    return answers


def states_logged(status: str) -> set[int]:
    """The messages some logged event showed in `status`."""
    return {
        event.payload["message"]["id"]
        for event in HubEvent.objects.filter(type__startswith="message.")
        if event.payload.get("message", {}).get("status") == status
    }


def test_lost_answers_every_send_reaches_meta_once_and_ends_sent_or_unknown(
    graph: FakeGraph, servers: list[HubProcess]
) -> None:
    customers = [f"1650555{1000 + n}" for n in range(AGENTS)]
    for customer in customers:  # an open 24-hour window with each
        record_batch(factories.batch(factories.inbound(customer, at=datetime.now(UTC))))
    tokens = [issue_token(User.objects.create_user(f"agent-{n}")) for n in range(AGENTS)]
    graph.app.fail_next(Failure(drop=True, times=DROPPED))
    graph.app.fail_next(Failure(code=131000, after_send=True, times=FAILED_AFTER_SEND))
    graph.app.fail_next(Failure(code=130429, retry_after="1", times=THROTTLED))

    with ThreadPoolExecutor(AGENTS) as pool:
        results = list(pool.map(agent_sends, [servers] * AGENTS, tokens, range(AGENTS), customers))
    answers = [answer for agent in results for answer in agent]
    first_states = Counter(answer["message"][0]["status"] for answer in answers)

    def outbound() -> list[WhatsAppMessage]:
        return list(WhatsAppMessage.objects.filter(direction="outbound"))

    # The throttled ones wait for their job's retry; the statuses of the rest arrive meanwhile.
    deadline = 60.0
    started = time.monotonic()
    while any(m.status not in SETTLED for m in outbound()) and time.monotonic() - started < deadline:
        time.sleep(0.2)
    final = outbound()
    texts = Counter(sent["body"]["text"]["body"] for sent in graph.app.sent)
    figures = Figures(
        "lost send answers",
        sent=AGENTS * PER_AGENT,
        stored=len(final),
        delivered=len(texts),
        duplicated=sum(n - 1 for n in texts.values()),
        extra={
            "first answers": dict(first_states),
            "final": dict(Counter(m.status for m in final)),
            "seconds to settle": round(time.monotonic() - started, 1),
        },
    )
    figures.report()

    assert all(a["status"] == [201, 201] for a in answers), answers
    # The second post of each key answered the first message, wherever it went.
    assert all(a["message"][0]["id"] == a["message"][1]["id"] for a in answers), figures
    assert len(final) == AGENTS * PER_AGENT, figures
    # Each message reached Meta exactly once, the ones whose answer was lost included.
    assert sorted(texts) == sorted(f"agent {a} message {i}" for a in range(AGENTS) for i in range(PER_AGENT))
    assert set(texts.values()) == {1}, figures
    # The lost answers were `unknown` (never `failed`, never sent again), as every socket was told
    # (a status may settle one before its REST answer is written, so the log is the witness).
    assert len(states_logged("unknown")) == DROPPED + FAILED_AFTER_SEND, figures
    assert first_states["pending"] == THROTTLED, figures
    assert not states_logged("failed"), figures
    # Then Meta's statuses settled every unknown one, and the jobs sent the throttled ones.
    assert all(m.status in SETTLED for m in final), figures
    assert {m.message_id for m in final} == {sent["wamid"] for sent in graph.app.sent}, figures
