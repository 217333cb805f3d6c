"""A daemon thread with a stop signal: the shape of annolog's background workers."""

from __future__ import annotations

import threading


class BackgroundThread:
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

    def _run(self) -> None:
        raise NotImplementedError
