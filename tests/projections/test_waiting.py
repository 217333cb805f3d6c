"""RevisionWaiter: the projector thread's advances reach waiting coroutines and listeners."""

from __future__ import annotations

import asyncio
import threading

from projections.waiting import RevisionWaiter


async def _settle() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_a_waiter_is_released_once_its_revision_is_projected():
    waiter = RevisionWaiter(asyncio.get_running_loop())
    waiting = asyncio.create_task(waiter.wait_for(5, timeout=5))
    await _settle()
    waiter.advanced(4)
    await _settle()
    assert not waiting.done()
    threading.Thread(target=waiter.advanced, args=(5,)).start()
    assert await waiting is True
    assert waiter.position == 5


async def test_a_waiter_gives_up_after_its_timeout():
    waiter = RevisionWaiter(asyncio.get_running_loop(), position=3)
    assert await waiter.wait_for(3, timeout=0) is True
    assert await waiter.wait_for(4, timeout=0.05) is False


async def test_advances_the_loop_has_not_taken_yet_reach_listeners_as_one():
    waiter = RevisionWaiter(asyncio.get_running_loop())
    told: list[int] = []
    waiter.listeners.append(told.append)
    for position in range(1, 101):  # the loop does not run between these
        waiter.advanced(position)
    await _settle()
    assert told == [100]
    waiter.advanced(90)  # an older position never moves the waiter back
    await _settle()
    assert told == [100, 100] and waiter.position == 100
