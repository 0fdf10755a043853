"""Scenario: a token revoked while its sockets are live closes them with 4401 in time, on a real server.

Two clients follow the inbox of one server process, each with its own token, while events flow. One
token is revoked with `manage.py revoke_token`: its socket must close with 4401 within a few re-check
intervals (`HUB_SOCKET_RECHECK_SECONDS`, 1 s here; 15 s by default, so well inside 30 s), receive
nothing after it, and leave the server's socket count; the other client gets every event.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import User
from django.core.management import call_command
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from store.actions.record import record_batch
from store.auth import issue_token
from tests import factories
from tests.reliability.clients import Figures, wait_until
from tests.reliability.cluster import HubProcess, Server, StartHub

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

INBOX = "/ws/whatsapp/inbox/"
RECHECK_SECONDS = 1.0
EVENTS = 20


@pytest.fixture(params=["daphne", "uvicorn"])
def hub(request: pytest.FixtureRequest, db: None, start_hub: StartHub) -> HubProcess:
    server: Server = request.param
    env = {"HUB_SOCKET_RECHECK_SECONDS": str(RECHECK_SECONDS)}
    return start_hub(f"revoke-{server}", env=env, server=server)


async def read_until_closed(socket: ClientConnection, seqs: list[int]) -> tuple[int | None, float]:
    """Every seq received until the socket closes; its close code and when it closed (monotonic)."""
    try:
        while True:
            frame = json.loads(await socket.recv())
            if "seq" in frame:
                seqs.append(frame["seq"])
    except ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), time.monotonic()


def record_events(count: int) -> list[int]:
    return [
        event.seq
        for _ in range(count)
        for event in record_batch(factories.batch(factories.inbound(text="after the revocation")))
    ]


@dataclass
class Outcome:
    code: int | None
    closed_after_s: float
    doomed_seqs: list[int]
    recorded_before: list[int]
    other_missing: list[int]
    other_duplicates: int
    open_sockets: float


async def scenario(hub: HubProcess, revoked: str, kept: str) -> Outcome:
    url = hub.ws_base + INBOX
    doomed = await connect(url, additional_headers={"Authorization": f"Bearer {revoked}"}, open_timeout=10)
    other = await connect(url, additional_headers={"Authorization": f"Bearer {kept}"}, open_timeout=10)
    doomed_seqs: list[int] = []
    other_seqs: list[int] = []
    watching = asyncio.create_task(read_until_closed(doomed, doomed_seqs))
    following = asyncio.create_task(read_until_closed(other, other_seqs))
    before = await asyncio.to_thread(record_events, 3)
    await asyncio.sleep(0.5)

    await asyncio.to_thread(call_command, "revoke_token", revoked[:10])
    revoked_at = time.monotonic()
    code, closed_at = await asyncio.wait_for(watching, RECHECK_SECONDS * 3 + 10)
    after = await asyncio.to_thread(record_events, EVENTS)
    await wait_until(lambda: not set(before + after) - set(other_seqs), within=15)
    open_sockets = await asyncio.to_thread(hub.metric, "hub_open_sockets", kept)
    await other.close()
    await following
    return Outcome(
        code=code,
        closed_after_s=round(closed_at - revoked_at, 2),
        doomed_seqs=doomed_seqs,
        recorded_before=before,
        other_missing=sorted(set(before + after) - set(other_seqs)),
        other_duplicates=len(other_seqs) - len(set(other_seqs)),
        open_sockets=open_sockets,
    )


def test_revoked_token_socket_closes_4401_in_time_and_the_other_gets_everything(hub: HubProcess) -> None:
    revoked = issue_token(User.objects.create_user("revoked-agent"))
    kept = issue_token(User.objects.create_user("kept-agent"))
    seen = asyncio.run(scenario(hub, revoked, kept))
    figures = Figures(
        f"revoked token: {hub.server}",
        sent=EVENTS + 3,
        delivered=EVENTS + 3 - len(seen.other_missing),
        lost=len(seen.other_missing),
        duplicated=seen.other_duplicates,
        extra={"closed_after_s": seen.closed_after_s, "open_sockets_after": seen.open_sockets},
    )
    figures.report()

    assert seen.code == 4401, seen
    assert seen.closed_after_s <= RECHECK_SECONDS * 3 + 2, seen
    # Nothing recorded after the revocation reached the revoked socket.
    assert set(seen.doomed_seqs) <= set(seen.recorded_before), seen
    assert not seen.other_missing, seen
    assert seen.other_duplicates == 0, seen
    assert seen.open_sockets == 1, seen
