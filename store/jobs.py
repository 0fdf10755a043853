"""A durable job queue in the database: enqueue in the caller's transaction, claim with a lease.

Claiming uses `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers never take the same
job; on SQLite the immediate write transaction serializes claims. A job whose lease ran out (its worker
died) is claimable again: that is the reaper. Handlers must be idempotent, since a job may run again
after a crash between its effect and its completion.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q

from store.models import Job, JobState

DEFAULT_LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=1)


def now() -> datetime:
    return datetime.now(UTC)


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    delay: timedelta = timedelta(0),
    max_attempts: int = 8,
) -> Job | None:
    """Queue a job; with `dedupe_key`, a second enqueue of the same key is a no-op (returns None)."""
    job = Job(
        kind=kind, payload=payload, dedupe_key=dedupe_key, run_after=now() + delay, max_attempts=max_attempts
    )
    if dedupe_key is None:
        job.save()
        return job
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        return None
    return job


def enqueue_many(kind: str, items: list[tuple[dict[str, Any], str]], max_attempts: int = 8) -> None:
    """Queue one job per (payload, dedupe key); keys already queued are skipped."""
    if items:
        moment = now()
        Job.objects.bulk_create(
            [
                Job(kind=kind, payload=payload, dedupe_key=key, run_after=moment, max_attempts=max_attempts)
                for payload, key in items
            ],
            ignore_conflicts=True,
        )


def claim_next(kinds: list[str] | None = None, lease: timedelta = DEFAULT_LEASE) -> Job | None:
    """Take the next due job (or one whose lease expired) and lease it to the caller."""
    moment = now()
    due = Q(state=JobState.QUEUED, run_after__lte=moment) | Q(state=JobState.RUNNING, leased_until__lt=moment)
    with transaction.atomic():
        query = Job.objects.filter(due).order_by("run_after", "pk")
        if kinds:
            query = query.filter(kind__in=kinds)
        if connection.features.has_select_for_update_skip_locked:
            query = query.select_for_update(skip_locked=True)
        job = query.first()
        if job is None:
            return None
        job.state = JobState.RUNNING
        job.attempts += 1
        job.leased_until = moment + lease
        job.save(update_fields=["state", "attempts", "leased_until"])
        return job


def complete(job: Job) -> None:
    Job.objects.filter(pk=job.pk).update(
        state=JobState.DONE, finished_at=now(), leased_until=None, last_error=""
    )


def retry_later(job: Job, error: str, delay: timedelta | None = None) -> bool:
    """Put a failed attempt back with backoff; False (and the job failed) when attempts are used up."""
    if job.attempts >= job.max_attempts:
        fail(job, error)
        return False
    if delay is None:
        delay = backoff(job.attempts)
    Job.objects.filter(pk=job.pk).update(
        state=JobState.QUEUED, run_after=now() + delay, leased_until=None, last_error=error[:2000]
    )
    return True


def fail(job: Job, error: str) -> None:
    Job.objects.filter(pk=job.pk).update(
        state=JobState.FAILED, finished_at=now(), leased_until=None, last_error=error[:2000]
    )


def backoff(attempt: int) -> timedelta:
    """Exponential backoff with full jitter: up to 2, 4, 8 ... seconds, capped at an hour."""
    ceiling = min(2.0**attempt, MAX_BACKOFF.total_seconds())
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not security


def queue_depth() -> int:
    return Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING]).count()
