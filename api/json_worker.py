"""Large JSON bodies are parsed in a child process, so that no request stalls the others.

orjson holds the GIL while it builds objects (about 10 ms per MB of annotation JSON, 80 ms
for a batch of 50,000 notes, more for many tiny values), so a worker thread would stall the
event loop just the same. The child parses the body and splits its top-level lists into
one JSON text per element; the event loop then builds the elements a slice at a time,
letting other requests run in between. Small bodies are parsed in place: faster than the
round trip.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import orjson

LARGE = 1024 * 1024  # bodies above this are parsed in the child
SLICE = 256 * 1024  # bytes of elements built between two turns of the event loop

Split = tuple[str | None, bytes, dict[str, list[bytes]]]


def split(body: bytes) -> Split:
    """(the parse error or None, the top level without its lists, each list's elements as
    JSON texts). Runs in the child: standard library and orjson only."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        return str(error), b"", {}
    if isinstance(value, list):
        return None, b"null", {"": [orjson.dumps(item) for item in value]}
    if not isinstance(value, dict):
        return None, orjson.dumps(value), {}
    lists = {key: [orjson.dumps(item) for item in items]
             for key, items in value.items() if isinstance(items, list)}
    rest = {key: item for key, item in value.items() if key not in lists}
    return None, orjson.dumps(rest), lists


async def assemble(rest: bytes, lists: dict[str, list[bytes]]) -> Any:
    """The parsed value from a split, built a slice at a time."""
    value = orjson.loads(rest)
    built: dict[str, list[Any]] = {}
    size = 0
    for key, texts in lists.items():
        items = built[key] = []
        for text in texts:
            items.append(orjson.loads(text))
            size += len(text)
            if size >= SLICE:
                size = 0
                await asyncio.sleep(0)
    if "" in built:  # the body was a list
        return built[""]
    return {**value, **built} if isinstance(value, dict) else value


class JsonWorker:
    """The child process, started when a first large body arrives."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def split(self, body: bytes) -> Split:
        if self._pool is None:
            # Not fork: this process runs threads (writer, projector) whose locks a forked
            # child would inherit in whatever state they were.
            self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        return await asyncio.get_running_loop().run_in_executor(self._pool, split, body)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
