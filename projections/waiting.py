"""Lets coroutines wait until the projector has passed a revision (read-your-writes)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import threading
from collections.abc import Callable


class RevisionWaiter:
    """Bridges the projector thread to the event loop without polling."""

    def __init__(self, loop: asyncio.AbstractEventLoop, position: int = 0) -> None:
        self.loop = loop
        self.position = position
        self._waiting: list[tuple[int, int, asyncio.Future[None]]] = []
        self._counter = itertools.count()
        self.listeners: list[Callable[[int], None]] = []  # told of advances, on the loop
        self._announced: int | None = None  # an advance the loop has not taken yet
        self._lock = threading.Lock()

    def advanced(self, position: int) -> None:
        """Called from the projector thread. Advances the loop has not taken yet are merged:
        waking the loop per projected batch cost more than the batches under load."""
        with self._lock:
            waking = self._announced is None
            self._announced = max(position, self._announced or 0)
        if waking:
            self.loop.call_soon_threadsafe(self._take_announced)

    def _take_announced(self) -> None:
        with self._lock:
            position, self._announced = self._announced, None
        if position is not None:
            self._release(position)

    def _release(self, position: int) -> None:
        self.position = max(self.position, position)
        for listener in self.listeners:
            listener(self.position)
        while self._waiting and self._waiting[0][0] <= self.position:
            _, _, future = heapq.heappop(self._waiting)
            if not future.done():
                future.set_result(None)

    async def wait_for(self, revision: int, timeout: float | None = None) -> bool:
        """True once the read model holds ``revision``; False if ``timeout`` passed first."""
        if revision <= self.position:
            return True
        future = self.loop.create_future()
        heapq.heappush(self._waiting, (revision, next(self._counter), future))
        try:
            await asyncio.wait_for(asyncio.shield(future), timeout)
        except TimeoutError:
            return False
        return True
