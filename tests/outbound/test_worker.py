"""The job worker: pending jobs survive a restart, failures back off or end, handlers run once each."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async

from outbound.worker import PermanentFailure, RetryLater, Worker, run_job
from store import jobs
from store.models import Job, JobState

pytestmark = [pytest.mark.asyncio, pytest.mark.django_db(transaction=True)]


async def run_until_idle(worker: Worker, seconds: float = 10.0) -> None:
    task = asyncio.create_task(worker.run())
    deadline = asyncio.get_running_loop().time() + seconds
    # The queue lives in the database: there is no event to wait on, so poll it.
    while await sync_to_async(jobs.queue_depth)() and asyncio.get_running_loop().time() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    worker.stop()
    await asyncio.wait_for(task, seconds)


async def test_worker_jobs_queued_before_start_all_run_once() -> None:
    for n in range(5):
        await sync_to_async(jobs.enqueue)("echo", {"n": n})
    seen: list[int] = []

    async def echo(job: Job) -> None:
        seen.append(job.payload["n"])

    await run_until_idle(Worker({"echo": echo}, idle_seconds=0.05))
    assert sorted(seen) == [0, 1, 2, 3, 4]
    assert await Job.objects.filter(state=JobState.DONE).acount() == 5


async def test_worker_retry_later_requeues_with_delay() -> None:
    await sync_to_async(jobs.enqueue)("flaky", {})

    async def flaky(job: Job) -> None:
        raise RetryLater("Meta answered 503", delay=timedelta(hours=1))

    worker = Worker({"flaky": flaky}, idle_seconds=0.05)
    task = asyncio.create_task(worker.run())
    await asyncio.sleep(0.5)
    worker.stop()
    await asyncio.wait_for(task, 5)
    job = await Job.objects.aget()
    assert (job.state, job.attempts, job.last_error) == (JobState.QUEUED, 1, "Meta answered 503")


async def test_worker_permanent_failure_marks_failed() -> None:
    await sync_to_async(jobs.enqueue)("doomed", {})

    async def doomed(job: Job) -> None:
        raise PermanentFailure("media id expired")

    await run_until_idle(Worker({"doomed": doomed}, idle_seconds=0.05))
    job = await Job.objects.aget()
    assert (job.state, job.last_error) == (JobState.FAILED, "media id expired")


async def test_run_job_renews_the_lease_of_a_long_job_so_no_one_reclaims_it() -> None:
    lease = timedelta(seconds=0.6)
    await sync_to_async(jobs.enqueue)("download", {})
    job = await sync_to_async(jobs.claim_next)(["download"], lease)
    assert job is not None
    stolen: list[Job | None] = []

    async def long_download(job: Job) -> None:
        await asyncio.sleep(1.0)  # past the first lease
        stolen.append(await sync_to_async(jobs.claim_next)(["download"], lease))
        await asyncio.sleep(0.5)

    await run_job(long_download, job, lease)

    assert stolen == [None]
    done = await Job.objects.aget(pk=job.pk)
    assert (done.state, done.attempts) == (JobState.DONE, 1)
