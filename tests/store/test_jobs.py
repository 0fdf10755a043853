"""The durable job queue: dedupe, due times, leases reclaimed, no job claimed twice."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import close_old_connections

from store import jobs
from store.models import Job, JobState

pytestmark = pytest.mark.django_db


def test_enqueue_same_dedupe_key_twice_keeps_one_job() -> None:
    assert jobs.enqueue("media", {"message": 1}, dedupe_key="media:1") is not None
    assert jobs.enqueue("media", {"message": 1}, dedupe_key="media:1") is None
    assert Job.objects.count() == 1


def test_claim_next_takes_due_jobs_only_in_order() -> None:
    later = jobs.enqueue("media", {"n": 2}, delay=timedelta(hours=1))
    first = jobs.enqueue("media", {"n": 1})
    claimed = jobs.claim_next()
    assert claimed is not None
    assert first is not None
    assert later is not None
    assert claimed.pk == first.pk
    assert (claimed.state, claimed.attempts) == (JobState.RUNNING, 1)
    assert jobs.claim_next() is None


def test_claim_next_filters_by_kind() -> None:
    jobs.enqueue("receipt", {})
    assert jobs.claim_next(["media"]) is None
    assert jobs.claim_next(["receipt"]) is not None


def test_claim_next_reclaims_a_job_whose_lease_expired() -> None:
    jobs.enqueue("media", {})
    crashed = jobs.claim_next(lease=timedelta(seconds=-1))
    assert crashed is not None
    again = jobs.claim_next()
    assert again is not None
    assert (again.pk, again.attempts) == (crashed.pk, 2)


def test_claim_next_running_job_within_lease_is_not_taken() -> None:
    jobs.enqueue("media", {})
    assert jobs.claim_next(lease=timedelta(minutes=5)) is not None
    assert jobs.claim_next() is None


def test_retry_later_backs_off_then_fails_after_max_attempts() -> None:
    jobs.enqueue("media", {}, max_attempts=2)
    job = jobs.claim_next()
    assert job is not None
    assert jobs.retry_later(job, "timeout", delay=timedelta(0))
    job = jobs.claim_next()
    assert job is not None
    assert not jobs.retry_later(job, "timeout again")
    job.refresh_from_db()
    assert (job.state, job.last_error) == (JobState.FAILED, "timeout again")


def test_complete_marks_done_and_queue_depth_drops() -> None:
    jobs.enqueue("media", {})
    assert jobs.queue_depth() == 1
    job = jobs.claim_next()
    assert job is not None
    jobs.complete(job)
    assert jobs.queue_depth() == 0
    assert Job.objects.get().state == JobState.DONE


def test_backoff_grows_and_is_capped() -> None:
    assert timedelta(seconds=1) <= jobs.backoff(1) <= timedelta(seconds=2)
    assert jobs.backoff(30) <= jobs.MAX_BACKOFF


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_claim_next_concurrent_workers_never_share_a_job() -> None:
    total, workers = 60, 6
    for n in range(total):
        jobs.enqueue("media", {"n": n})
    claimed: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            while (job := jobs.claim_next()) is not None:
                with lock:
                    claimed.append(job.pk)
                jobs.complete(job)
        finally:
            close_old_connections()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(claimed) == sorted(Job.objects.values_list("pk", flat=True))
    assert len(set(claimed)) == total


def test_stale_holder_cannot_complete_retry_or_fail_a_reclaimed_job() -> None:
    jobs.enqueue("media", {})
    stale = jobs.claim_next(lease=timedelta(seconds=-1))
    assert stale is not None
    current = jobs.claim_next()
    assert current is not None

    assert not jobs.complete(stale)
    assert not jobs.retry_later(stale, "late", delay=timedelta(0))
    assert not jobs.fail(stale, "late")
    assert not jobs.renew(stale, timedelta(minutes=1))
    row = Job.objects.get(pk=current.pk)
    assert (row.state, row.attempts, row.last_error) == (JobState.RUNNING, 2, "")
    assert jobs.complete(current)
    assert Job.objects.get(pk=current.pk).state == JobState.DONE


def test_job_whose_last_attempt_lost_its_lease_fails_with_its_last_error() -> None:
    jobs.enqueue("media", {}, max_attempts=2)
    first = jobs.claim_next()
    assert first is not None
    jobs.retry_later(first, "HTTP 503 from the CDN", delay=timedelta(0))
    assert jobs.claim_next(lease=timedelta(seconds=-1)) is not None  # attempt 2 of 2; its worker dies

    assert jobs.claim_next() is None

    row = Job.objects.get()
    assert (row.state, row.attempts) == (JobState.FAILED, 2)
    assert row.last_error == "lease expired on attempt 2 of 2; last error: HTTP 503 from the CDN"


def test_enqueue_leased_for_starts_claimed_by_the_caller_until_the_lease_runs_out() -> None:
    job = jobs.enqueue("media", {}, leased_for=timedelta(minutes=1))
    assert job is not None
    assert (job.state, job.attempts) == (JobState.RUNNING, 1)
    assert jobs.claim_next() is None
    Job.objects.update(leased_until=jobs.now() - timedelta(seconds=1))
    reclaimed = jobs.claim_next()
    assert reclaimed is not None
    assert reclaimed.attempts == 2
