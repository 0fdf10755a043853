"""`manage.py simulate`: post signed, realistic webhook bodies to a running hub (demo and load generator)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webhook.signature import compute_signature
from webhook.simulation import MediaRegistrar, SimulatedBody, TrafficSimulator

WEBHOOK_PATH = "/api/whatsapp/webhook/"
DEFAULT_DURATION = 60.0


@dataclass
class Tally:
    """What the hub answered so far; `latencies` in seconds, one per answered post."""

    sent: int = 0
    ok: int = 0
    rejected: int = 0
    unanswered: int = 0
    codes: Counter[int] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return self.ok + self.rejected + self.unanswered

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000 if ordered else 0.0

    def summary(self) -> str:
        elapsed = max(time.monotonic() - self.started, 1e-9)
        line = (
            f"{self.sent} sent, {self.ok} 2xx, {self.rejected} non-2xx, {self.unanswered} unanswered"
            f" in {elapsed:.1f} s ({self.done / elapsed:.1f}/s); latency p50 {self.percentile(0.5):.0f} ms,"
            f" p95 {self.percentile(0.95):.0f} ms, max {self.percentile(1.0):.0f} ms"
        )
        others = {code: n for code, n in sorted(self.codes.items()) if not 200 <= code < 300}
        if others:
            line += "; non-2xx: " + ", ".join(f"{code} x{n}" for code, n in others.items())
        return line


class Command(BaseCommand):
    help = (
        "Post a seeded stream of signed webhook bodies (every message type, statuses in and out of order, "
        "redeliveries) to a running hub at --rate per second for --duration seconds or --count posts."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the hub (or its webhook URL)")
        parser.add_argument(
            "--rate", type=float, default=2.0, help="posts per second; 0: as fast as answered"
        )
        limit = parser.add_mutually_exclusive_group()
        limit.add_argument("--duration", type=float, help=f"seconds to run (default {DEFAULT_DURATION:.0f})")
        limit.add_argument("--count", type=int, help="posts to send")
        parser.add_argument("--seed", type=int, help="repeat a run's traffic (default: a new seed, printed)")
        parser.add_argument("--secret", help="app secret to sign with (default WHATSAPP_APP_SECRET)")
        parser.add_argument("--graph-url", help="a running fake Graph API to upload the media files to")
        parser.add_argument("--concurrency", type=int, default=16, help="posts in flight at most")
        parser.add_argument("--report-every", type=int, default=50, help="print a line every N answers")
        parser.add_argument("--timeout", type=float, default=30.0, help="seconds per post")

    def handle(self, *args: Any, **options: Any) -> None:
        rate: float = options["rate"]
        count: int | None = options["count"]
        duration: float | None = options["duration"]
        if count is None and duration is None:
            duration = DEFAULT_DURATION
        if rate < 0 or options["concurrency"] < 1 or options["report_every"] < 1:
            raise CommandError("--rate must be 0 or more; --concurrency and --report-every at least 1.")
        if (count is not None and count < 0) or (duration is not None and duration < 0):
            raise CommandError("--count and --duration must be 0 or more.")
        seed: int = options["seed"] if options["seed"] is not None else secrets.randbelow(2**31)
        url = webhook_url(options["url"])
        secret: str = options["secret"] or settings.WHATSAPP_APP_SECRET
        graph_url: str | None = options["graph_url"]
        uploads = httpx.Client(base_url=graph_url.rstrip("/"), timeout=10.0) if graph_url else None
        simulator = TrafficSimulator(
            seed,
            register_media=media_registrar(uploads) if uploads else None,
            clock=lambda: int(time.time()),
        )
        limit = f"{count} posts" if count is not None else f"{duration:g} s"
        self.stdout.write(f"Posting to {url} at {rate:g}/s for {limit}, seed {seed}")
        tally = Tally()
        poster = Poster(url, secret, options["concurrency"], options["timeout"], tally)
        every: int = options["report_every"]
        poster.on_answer = lambda: self._progress(tally, every)
        try:
            asyncio.run(
                poster.run(simulator, rate=rate, count=count, duration=duration, threaded=bool(uploads))
            )
        except KeyboardInterrupt:
            self.stdout.write("Interrupted.")
        finally:
            if uploads is not None:
                uploads.close()
        self.stdout.write(f"Done: {tally.summary()}; seed {seed}")
        if tally.ok != tally.sent:
            raise CommandError(f"{tally.sent - tally.ok} of {tally.sent} posts were not answered with 2xx.")

    def _progress(self, tally: Tally, every: int) -> None:
        if tally.done % every == 0:
            self.stdout.write(tally.summary())


def webhook_url(url: str) -> str:
    """The hub's base URL gets the webhook path; a URL with a path is taken as it is."""
    url = url.rstrip("/")
    return url + WEBHOOK_PATH if urlsplit(url).path in ("", "/") else url + "/"


def media_registrar(client: httpx.Client) -> MediaRegistrar:
    """Uploads each file to the fake Graph API (`POST /_fake/media`) and returns the id it assigned."""

    def register(data: bytes, mime_type: str) -> str:
        response = client.post("/_fake/media", content=data, headers={"Content-Type": mime_type})
        response.raise_for_status()
        media_id: str = response.json()["id"]
        return media_id

    return register


class Poster:
    """Posts bodies on a schedule with at most `concurrency` in flight, counting answers in `tally`."""

    def __init__(self, url: str, secret: str, concurrency: int, timeout: float, tally: Tally) -> None:
        self.url = url
        self.secret = secret
        self.concurrency = concurrency
        self.timeout = timeout
        self.tally = tally
        self.on_answer: Callable[[], None] = lambda: None

    async def run(
        self,
        stream: TrafficSimulator,
        *,
        rate: float,
        count: int | None,
        duration: float | None,
        threaded: bool,
    ) -> None:
        """Called once; returns when every post it started has been answered (or has failed)."""
        gate = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        loop = asyncio.get_running_loop()
        started = loop.time()
        self.tally.started = time.monotonic()
        in_flight: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(timeout=self.timeout, limits=limits) as client:
            while count is None or self.tally.sent < count:
                if rate > 0 and (delay := started + self.tally.sent / rate - loop.time()) > 0:
                    await asyncio.sleep(delay)
                if duration is not None and loop.time() - started >= duration:
                    break
                await gate.acquire()
                # Uploading media to the fake is blocking I/O: keep it off the loop that posts.
                item = await asyncio.to_thread(stream.next_body) if threaded else stream.next_body()
                self.tally.sent += 1
                task = asyncio.create_task(self._post(client, item, gate))
                in_flight.add(task)
                task.add_done_callback(in_flight.discard)
            if in_flight:
                await asyncio.wait(in_flight)

    async def _post(self, client: httpx.AsyncClient, item: SimulatedBody, gate: asyncio.Semaphore) -> None:
        headers = {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": compute_signature(self.secret, item.body),
        }
        began = time.monotonic()
        try:
            response = await client.post(self.url, content=item.body, headers=headers)
        except httpx.HTTPError:
            self.tally.unanswered += 1
        else:
            self.tally.latencies.append(time.monotonic() - began)
            self.tally.codes[response.status_code] += 1
            if response.is_success:
                self.tally.ok += 1
            else:
                self.tally.rejected += 1
        finally:
            gate.release()
        self.on_answer()
