"""A durable job queue in the database: enqueue in the caller's transaction, claim with a lease.

Claiming uses `SELECT ... FOR UPDATE SKIP LOCKED` on PostgreSQL, so several workers never take the same
job; on SQLite the immediate write transaction serializes claims. A job whose lease ran out (its worker
died) is claimable again: that is the reaper. Handlers must be idempotent, since a job may run again
after a crash between its effect and its completion.

Each claim increments `attempts`, which is the lease's fencing token: `complete`, `retry_later`, `fail`
and `renew` change a job only while it is still running under the caller's claim, so a worker whose
lease ran out cannot finish (or requeue) a job another worker now holds. A job whose lease ran out on
its last attempt is failed with its last error instead of running again; the kind's `ABANDONED` hook
is told in the same transaction (a send marks its message).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Q, QuerySet

from store.models import Job, JobState

DEFAULT_LEASE = timedelta(seconds=60)
MAX_BACKOFF = timedelta(hours=1)
# How many lease-expired jobs past their last attempt one claim fails before giving up for this round.
_ABANDONED_PER_CLAIM = 20
# Called inside the transaction that fails a job abandoned on its last attempt, by kind.
ABANDONED: dict[str, Callable[[Job], None]] = {}


def now() -> datetime:
    return datetime.now(UTC)


def enqueue(
    kind: str,
    payload: dict[str, Any],
    *,
    dedupe_key: str | None = None,
    delay: timedelta = timedelta(0),
    max_attempts: int = 8,
    leased_for: timedelta | None = None,
) -> Job | None:
    """Queue a job; with `dedupe_key`, a second enqueue of the same key is a no-op (returns None).

    With `leased_for`, the job starts claimed by the caller (an outbox entry the request runs itself):
    if the caller never finishes it, the reaper hands it to a worker when the lease runs out.
    """
    moment = now()
    job = Job(
        kind=kind, payload=payload, dedupe_key=dedupe_key, run_after=moment + delay, max_attempts=max_attempts
    )
    if leased_for is not None:
        job.state, job.attempts, job.leased_until = JobState.RUNNING, 1, moment + leased_for
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
    for _ in range(_ABANDONED_PER_CLAIM):
        moment = now()
        due = Q(state=JobState.QUEUED, run_after__lte=moment) | Q(
            state=JobState.RUNNING, leased_until__lt=moment
        )
        with transaction.atomic():
            query = Job.objects.filter(due).order_by("run_after", "pk")
            if kinds:
                query = query.filter(kind__in=kinds)
            if connection.features.has_select_for_update_skip_locked:
                query = query.select_for_update(skip_locked=True)
            job = query.first()
            if job is None:
                return None
            if job.state == JobState.RUNNING and job.attempts >= job.max_attempts:
                _abandon(job, moment)
                continue
            return _lease(job, moment, lease)
    return None


def _abandon(job: Job, moment: datetime) -> None:
    """The job's last attempt lost its lease (its worker died or hung): it fails with its last error."""
    reason = f"lease expired on attempt {job.attempts} of {job.max_attempts}"
    job.last_error = (f"{reason}; last error: {job.last_error}" if job.last_error else reason)[:2000]
    job.state, job.finished_at, job.leased_until = JobState.FAILED, moment, None
    job.save(update_fields=["state", "finished_at", "leased_until", "last_error"])
    hook = ABANDONED.get(job.kind)
    if hook is not None:
        hook(job)


def _lease(job: Job, moment: datetime, lease: timedelta) -> Job:
    job.state = JobState.RUNNING
    job.attempts += 1
    job.leased_until = moment + lease
    job.save(update_fields=["state", "attempts", "leased_until"])
    return job


def _held(job: Job) -> QuerySet[Job]:
    """The job's row while it still runs under this claim (`attempts` is the fencing token)."""
    return Job.objects.filter(pk=job.pk, state=JobState.RUNNING, attempts=job.attempts)


def holds(job: Job) -> bool:
    """True while the caller's claim on `job` is current (not reclaimed by another worker)."""
    return _held(job).filter(leased_until__gte=now()).exists()


def renew(job: Job, lease: timedelta) -> bool:
    """Extend the caller's lease while a long job runs; False when the job is no longer the caller's."""
    until = now() + lease
    if _held(job).update(leased_until=until) == 0:
        return False
    job.leased_until = until
    return True


def complete(job: Job) -> bool:
    """Mark the caller's job done; False (and nothing changed) when another worker holds it now."""
    return _held(job).update(state=JobState.DONE, finished_at=now(), leased_until=None, last_error="") > 0


def retry_later(job: Job, error: str, delay: timedelta | None = None) -> bool:
    """Put a failed attempt back with backoff; False when attempts are used up (the job fails) or when
    the caller's claim is stale (nothing changes)."""
    if job.attempts >= job.max_attempts:
        fail(job, error)
        return False
    if delay is None:
        delay = backoff(job.attempts)
    updated = _held(job).update(
        state=JobState.QUEUED, run_after=now() + delay, leased_until=None, last_error=error[:2000]
    )
    return updated > 0


def fail(job: Job, error: str) -> bool:
    """Fail the caller's job for good; False (and nothing changed) when another worker holds it now."""
    updated = _held(job).update(
        state=JobState.FAILED, finished_at=now(), leased_until=None, last_error=error[:2000]
    )
    return updated > 0


def backoff(attempt: int) -> timedelta:
    """Exponential backoff with full jitter: up to 2, 4, 8 ... seconds, capped at an hour."""
    ceiling = min(2.0**attempt, MAX_BACKOFF.total_seconds())
    return timedelta(seconds=random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not security


def queue_depth() -> int:
    return Job.objects.filter(state__in=[JobState.QUEUED, JobState.RUNNING]).count()
