"""Liveness and readiness probes (no auth, for load balancers and orchestrators) and metrics (auth)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from prometheus_client import CONTENT_TYPE_LATEST

from api.schemas import NotReadyOut, ReadyOut
from store.jobs import queue_depth
from store.metrics import JOB_QUEUE_DEPTH, render

logger = logging.getLogger(__name__)

router = Router(tags=["operations"])

CHECK_TIMEOUT_SECONDS = 2.0
PROBE_MESSAGE = {"type": "hub.ready_probe"}


@router.get("/health/", auth=None, response={200: dict[str, str]}, operation_id="health")
def health(request: HttpRequest) -> dict[str, str]:
    """Liveness: the process answers."""
    return {"status": "ok"}


@router.get("/metrics/", response={200: str}, operation_id="metrics", include_in_schema=True)
async def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus metrics of the process that answers (scrape each process; any valid token)."""
    JOB_QUEUE_DEPTH.set(await sync_to_async(queue_depth)())
    return HttpResponse(render(), content_type=CONTENT_TYPE_LATEST)


@router.get("/ready/", auth=None, response={200: ReadyOut, 503: NotReadyOut}, operation_id="ready")
async def ready(request: HttpRequest) -> Status[dict[str, object]]:
    """Readiness: a database query and a channel-layer round trip both succeed within a short timeout."""
    checks = {
        "database": await _run("database", sync_to_async(_query_database)),
        "channel_layer": await _run("channel_layer", _round_trip_channel_layer),
    }
    failed = [name for name, result in checks.items() if result != "ok"]
    if not failed:
        return Status(200, {"status": "ready", "checks": checks})
    detail = ", ".join(f"{name}: {checks[name]}" for name in failed)
    return Status(503, {"status": "not_ready", "checks": checks, "error": "not_ready", "detail": detail})


async def _run(name: str, check: Callable[[], Awaitable[None]]) -> str:
    try:
        await asyncio.wait_for(check(), CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        logger.warning("readiness check %s timed out after %ss", name, CHECK_TIMEOUT_SECONDS)
        return "timeout"
    except Exception as error:
        # The class name only: driver messages may carry host names; the log has the rest.
        logger.warning("readiness check %s failed", name, exc_info=True)
        return f"failed: {type(error).__name__}"
    return "ok"


def _query_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


async def _round_trip_channel_layer() -> None:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer is configured")
    channel = await layer.new_channel()
    await layer.send(channel, PROBE_MESSAGE)
    received = await layer.receive(channel)
    if received.get("type") != PROBE_MESSAGE["type"]:
        raise RuntimeError("the channel layer returned another message")
    # channels_redis's pub/sub layer only unsubscribes a channel when a receive on it is cancelled:
    # do that so that probes do not pile up subscriptions.
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.01)
