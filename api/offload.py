"""Heavy work done in a child process, so that no request stalls the others or leaves the
server's heap swollen.

- Large JSON bodies: orjson holds the GIL while it builds objects (about 10 ms per MB of
  annotation JSON, 80 ms for a batch of 50,000 notes, more for many tiny values), so a
  worker thread would stall the event loop just the same. The child parses the body and
  splits its top-level lists into one JSON text per element; the event loop then builds the
  elements a slice at a time, letting other requests run in between.
- Large PDFs: qpdf holds every object of the file while it is open (about 250 MB for a
  100,000-page PDF); in the child that memory is given back to the system once read.

Bodies and results travel as files, never through the pool's pipes: the pool's feeder thread
keeps the last message it sent alive, which held a 60 MB body for as long as the server ran.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, TypeVar

import orjson

log = logging.getLogger(__name__)
T = TypeVar("T")
# Bodies and PDFs above this go to the child. Below it, parsing in place stalls the event loop
# for at most about 50 ms, and the round trip to the child would cost more than it saves: it
# made a bulk of 10,000 notes (1.6 MB) 10% slower.
LARGE = 4 * 1024 * 1024
SLICE = 256 * 1024  # bytes of elements built between two turns of the event loop

Split = tuple[str | None, bytes, list[tuple[str, int]]]


def split_json(body_path: str, items_path: str) -> Split:
    """(the parse error or None, the top level without its lists, (key, count) of each list,
    whose elements are written to ``items_path`` one JSON text per line). Runs in the child.
    A body that is a list is one list under the key ""."""
    try:
        value = orjson.loads(Path(body_path).read_bytes())
    except orjson.JSONDecodeError as error:
        return str(error), b"", []
    if isinstance(value, list):
        lists, rest = {"": value}, None
    elif isinstance(value, dict):
        lists = {key: items for key, items in value.items() if isinstance(items, list)}
        rest = {key: item for key, item in value.items() if key not in lists}
    else:
        lists, rest = {}, value
    with open(items_path, "wb") as out:
        for items in lists.values():
            out.writelines(orjson.dumps(item) + b"\n" for item in items)  # no raw newlines
    return None, orjson.dumps(rest), [(key, len(items)) for key, items in lists.items()]


async def assemble(rest: bytes, counts: list[tuple[str, int]], lines: list[bytes]) -> Any:
    """The parsed value from a split, built a slice at a time."""
    value = orjson.loads(rest)
    built: dict[str, list[Any]] = {}
    position = size = 0
    for key, count in counts:
        items = built[key] = []
        for text in lines[position:position + count]:
            items.append(orjson.loads(text))
            size += len(text)
            if size >= SLICE:
                size = 0
                await asyncio.sleep(0)
        position += count
    if "" in built:  # the body was a list
        return built[""]
    return {**value, **built} if isinstance(value, dict) else value


def release_memory() -> None:
    """Give freed heap pages back to the system (glibc keeps them for reuse otherwise, and
    one large request left the server 500 MB larger for good)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


def in_child(function: Callable[..., T], *args: Any) -> T:
    """Run ``function`` in the child, then give the memory it used back to the system."""
    try:
        return function(*args)
    finally:
        release_memory()


class Offload:
    """The child process, started when first needed and replaced if it dies."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        """``function(*args)`` in the child (picklable arguments, small results); a child
        that died (killed, out of memory) is replaced once, then the failure is raised."""
        for attempt in range(2):
            if self._pool is None:
                # Not fork: this process runs threads (writer, projector) whose locks a
                # forked child would inherit in whatever state they were.
                self._pool = ProcessPoolExecutor(
                    1, mp_context=multiprocessing.get_context("spawn"))
            try:
                return await asyncio.get_running_loop().run_in_executor(
                    self._pool, in_child, function, *args)
            except BrokenProcessPool:
                log.warning("the offload process died; starting another")
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
