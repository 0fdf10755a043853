"""`python manage.py run_worker`: run the durable jobs in their own process (HUB_WORKER=external)."""

from __future__ import annotations

import asyncio
import signal
from typing import Any

from django.core.management.base import BaseCommand

from outbound.handlers import HANDLERS
from outbound.worker import Worker


class Command(BaseCommand):
    help = "Run media downloads, read receipts and send retries until stopped (SIGTERM or Ctrl-C)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--concurrency", type=int, default=4)

    def handle(self, *args: Any, **options: Any) -> None:
        asyncio.run(self._run(options["concurrency"]))

    async def _run(self, concurrency: int) -> None:
        worker = Worker(HANDLERS, concurrency=concurrency)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, worker.stop)
        self.stdout.write("worker running")
        await worker.run()
        self.stdout.write("worker stopped")
