"""Runs durable jobs (store/jobs.py): in the server process by default, or alone with `run_worker`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections

from store import jobs
from store.models import Job

logger = logging.getLogger(__name__)

Handler = Callable[[Job], Awaitable[None]]
LEASE = timedelta(minutes=2)


class RetryLater(Exception):
    """A transient failure: run the job again after `delay` (or the queue's backoff)."""

    def __init__(self, reason: str, delay: timedelta | None = None) -> None:
        super().__init__(reason)
        self.delay = delay


class PermanentFailure(Exception):
    """The job can never succeed; it is marked failed with this reason."""


async def keep_leased(job: Job, lease: timedelta = LEASE) -> None:
    """Renew `job`'s lease every third of it while its handler runs (a 100 MB download, a slow Meta)."""
    while True:
        await asyncio.sleep(lease.total_seconds() / 3)
        try:
            renewed = await sync_to_async(jobs.renew)(job, lease)
        except Exception:
            logger.warning("lease of job %s not renewed; retrying", job.pk, exc_info=True)
            continue
        if not renewed:
            logger.warning("job %s %s lost its lease to another worker", job.kind, job.pk)
            return


async def run_job(handler: Handler, job: Job, lease: timedelta = LEASE) -> None:
    """Run one claimed job under its renewed lease and record its fate: done, retried later, or failed.

    A fate recorded after the lease passed to another worker changes nothing (store/jobs.py fences it).
    """
    heartbeat = asyncio.create_task(keep_leased(job, lease))
    try:
        await handler(job)
    except RetryLater as retry:
        logger.info("job %s %s will retry: %s", job.kind, job.pk, retry)
        await sync_to_async(jobs.retry_later)(job, str(retry), retry.delay)
    except PermanentFailure as failure:
        logger.warning("job %s %s failed: %s", job.kind, job.pk, failure)
        await sync_to_async(jobs.fail)(job, str(failure))
    except Exception as error:
        logger.exception("job %s %s raised", job.kind, job.pk)
        await sync_to_async(jobs.retry_later)(job, f"{type(error).__name__}: {error}")
    else:
        if not await sync_to_async(jobs.complete)(job):
            logger.warning("job %s %s finished after its lease passed to another worker", job.kind, job.pk)
    finally:
        heartbeat.cancel()


class Worker:
    """Claims due jobs and runs up to `concurrency` of them at a time."""

    def __init__(
        self, handlers: Mapping[str, Handler], *, concurrency: int = 4, idle_seconds: float = 0.5
    ) -> None:
        self.handlers = dict(handlers)
        self.slots = asyncio.Semaphore(concurrency)
        self.idle_seconds = idle_seconds
        self.stopping = asyncio.Event()
        self.running: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        kinds = list(self.handlers)
        while not self.stopping.is_set():
            await self.slots.acquire()
            try:
                job = await sync_to_async(jobs.claim_next)(kinds, LEASE)
            except Exception:
                self.slots.release()
                logger.warning("job queue unavailable; retrying", exc_info=True)
                await self._idle(5.0)
                continue
            if job is None:
                self.slots.release()
                await sync_to_async(close_old_connections)()
                await self._idle(self.idle_seconds)
                continue
            task = asyncio.create_task(self._run_one(job))
            self.running.add(task)
            task.add_done_callback(self.running.discard)
        if self.running:
            await asyncio.wait(self.running, timeout=30)

    async def _idle(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):  # not wait_for, which can swallow a cancel on 3.11
                await self.stopping.wait()

    async def _run_one(self, job: Job) -> None:
        try:
            await run_job(self.handlers[job.kind], job)
        finally:
            self.slots.release()

    def stop(self) -> None:
        self.stopping.set()


_in_process: asyncio.Task[None] | None = None
_worker: Worker


def ensure_worker_started() -> None:
    """Start this server process's worker on first use (daphne runs no lifespan events)."""
    global _in_process
    if settings.HUB_WORKER == "external" or (_in_process is not None and not _in_process.done()):
        return
    from outbound.handlers import HANDLERS

    global _worker
    _worker = Worker(HANDLERS)
    _in_process = asyncio.get_running_loop().create_task(_worker.run())


def stop_worker() -> None:
    """Ask this process's worker to finish its running jobs and stop taking new ones."""
    if _in_process is not None and not _in_process.done():
        _worker.stop()
