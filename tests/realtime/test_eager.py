"""Starting a coroutine eagerly: no task when it finishes at once, a plain task for the part that waits."""

from __future__ import annotations

import asyncio

import pytest

from realtime.eager import start_eagerly

pytestmark = pytest.mark.asyncio


class Recorder:
    def __init__(self) -> None:
        self.events: list[str] = []

    async def finishes_at_once(self) -> None:
        self.events.append("done")

    async def waits_on(self, future: asyncio.Future[str]) -> None:
        self.events.append("started")
        try:
            self.events.append(await future)
        except asyncio.CancelledError:
            self.events.append("cancelled")
            raise

    async def yields_twice(self) -> None:
        for turn in ("first", "second"):
            await asyncio.sleep(0)
            self.events.append(turn)


async def test_start_eagerly_coroutine_that_does_not_wait_runs_now_without_a_task() -> None:
    recorder = Recorder()
    assert start_eagerly(recorder.finishes_at_once()) is None
    assert recorder.events == ["done"]


async def test_start_eagerly_error_before_the_first_wait_is_raised_to_the_caller() -> None:
    async def fails() -> None:
        raise OSError("connection reset")

    with pytest.raises(OSError, match="connection reset"):
        start_eagerly(fails())


async def test_start_eagerly_coroutine_that_waits_is_finished_by_a_task_with_the_result() -> None:
    recorder = Recorder()
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = start_eagerly(recorder.waits_on(future))
    assert task is not None
    assert recorder.events == ["started"]
    future.set_result("written")
    await asyncio.wait_for(task, 5)
    assert recorder.events == ["started", "written"]


async def test_start_eagerly_bare_yields_are_finished_by_the_task() -> None:
    recorder = Recorder()
    task = start_eagerly(recorder.yields_twice())
    assert task is not None
    assert recorder.events == []
    await asyncio.wait_for(task, 5)
    assert recorder.events == ["first", "second"]


@pytest.mark.parametrize("after_first_step", [False, True])
async def test_start_eagerly_cancelled_task_cancels_the_wait_and_the_coroutine(
    after_first_step: bool,
) -> None:
    recorder = Recorder()
    future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = start_eagerly(recorder.waits_on(future))
    assert task is not None
    if after_first_step:
        await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # The future is cancelled either way, as a server that refuses a second wait needs it to be.
    assert future.cancelled()
    assert recorder.events == ["started", "cancelled"]
