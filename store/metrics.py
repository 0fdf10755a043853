"""Prometheus metrics of this process (each server process is scraped on its own)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

WEBHOOK_SECONDS = Histogram(
    "hub_webhook_answer_seconds",
    "Time from receiving a webhook POST to answering it, by status code.",
    ["status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0),
    registry=REGISTRY,
)
DUPLICATES_DROPPED = Counter(
    "hub_duplicates_dropped_total",
    "Messages and statuses Meta delivered again and the hub ignored.",
    ["kind"],
    registry=REGISTRY,
)
BROADCAST_FAILURES = Counter(
    "hub_broadcast_failures_total",
    "Channel-layer sends that failed (the event log still has the events).",
    registry=REGISTRY,
)
OPEN_SOCKETS = Gauge(
    "hub_open_sockets", "WebSocket subscribers connected to this process.", registry=REGISTRY
)
REPLAYS_SERVED = Counter(
    "hub_replays_served_total", "Reconnections that replayed missed events with `after`.", registry=REGISTRY
)
REPLAYED_EVENTS = Counter("hub_replayed_events_total", "Events sent during replays.", registry=REGISTRY)
JOB_QUEUE_DEPTH = Gauge("hub_job_queue_depth", "Durable jobs queued or running.", registry=REGISTRY)


def render() -> bytes:
    """The text exposition of every metric of this process."""
    return generate_latest(REGISTRY)
