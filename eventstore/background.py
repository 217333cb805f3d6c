"""A daemon thread with a stop signal: the shape of annolog's background workers."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod


class BackgroundThread(ABC):
    """Runs ``_run`` in a daemon thread; ``_run`` watches ``self._stop`` and returns soon
    after ``stop()`` sets it."""

    def __init__(self, name: str) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    @abstractmethod
    def _run(self) -> None:
        """The thread's work: each worker class says what it is."""
