"""Follows the log, in revision order, into the read model (see ``read_model_writer``).

Each batch of events and the new position commit in ONE transaction, and every handler is
idempotent by stream version, so a crash, a restart or a replay never double-applies.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

from eventstore.log import EventLog, LoggedEvent
from projections.read_model_writer import Fact, ReadModelWriter
from projections.schema import open_read_model

log = logging.getLogger(__name__)

BATCH = 2000
MAX_OFFERED = 200_000  # events held for the projector; beyond that it reads the log
WAL_LIMIT = 256 << 20  # bytes of read-model WAL past which the projector truncates it
TRUNCATE_WAIT_MS = 100  # how long that truncation waits for the reads of the moment


class Projector:
    """Follows the log in a background thread and keeps the read model current."""

    def __init__(self, log: EventLog, path: Path,
                 on_advance: Callable[[int], None] | None = None,
                 poll_seconds: float = 1.0, background_checkpoints: bool = False) -> None:
        self.log = log
        self.path = path
        self.on_advance = on_advance
        self.poll_seconds = poll_seconds
        self.writer = ReadModelWriter(open_read_model(path))
        if background_checkpoints:  # a Checkpointer thread does them
            self.writer.db.execute("PRAGMA wal_autocheckpoint=0")
        self.position = self.writer.position()
        self._offered: deque[list[LoggedEvent]] = deque()
        self._offered_events = 0
        self._lock = threading.Lock()
        # Held while applying: by the projector's thread, or by the writer's (see
        # ``apply_committed``); the read model has one writer at a time.
        self._applying = threading.Lock()
        # The log may hold events not handed over: set by other processes' commits (poke),
        # the poll, dropped or gapped hand-overs; cleared when the log is read.
        self._unread = True
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="annolog-projector", daemon=True)

    def catch_up(self) -> int:
        """Apply everything the log holds now (blocking); returns the new position."""
        self._unread = True
        return self._follow()

    def _follow(self) -> int:
        with self._applying:
            self._apply_offered()
            self.bound_wal()  # here only: the writer's thread must not wait on readers
            return self.position

    def _apply_offered(self, from_log: bool = True) -> None:
        while batch := self._next_batch(from_log):
            self.position = self.writer.apply(batch)
            if self.on_advance is not None:
                self.on_advance(self.position)

    def bound_wal(self, limit: int = WAL_LIMIT) -> bool:
        """Truncate the read model's WAL once it is past ``limit`` bytes; whether it was.

        A WAL starts again from its beginning only when a write finds it wholly copied back
        and no reader using it, and a PASSIVE checkpoint copies only the frames that were
        there when it began: under steady writes that moment rarely comes. In 15 s of the
        mixed benchmark the read model's WAL reached 251 MB (the database 14 MB), and it
        would grow as long as the load lasts. The projector is the read model's one writer,
        so truncating between its batches holds up no other writer (a checkpointer thread
        doing it made the log's appends fail with "database is locked"); it waits at most
        ``TRUNCATE_WAIT_MS`` for the reads of the moment, and a busy answer is tried again
        after the next batch. The limit bounds the disk, not the speed: under the limit
        nothing changes, and runs with and without it differed by no more than the noise."""
        wal = Path(f"{self.path}-wal")
        try:
            if wal.stat().st_size <= limit:
                return False
        except FileNotFoundError:
            return False
        conn = self.writer.db.conn
        (waited,) = conn.execute("PRAGMA busy_timeout").fetchone()
        conn.execute(f"PRAGMA busy_timeout={TRUNCATE_WAIT_MS}")
        try:
            busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        except sqlite3.OperationalError:  # the checkpointer thread's PASSIVE at that moment
            busy = 1
        finally:
            conn.execute(f"PRAGMA busy_timeout={waited}")
        return not busy

    def _next_batch(self, from_log: bool = True) -> list[Fact] | list[LoggedEvent]:
        """The writer's handed-over events when they follow the position exactly (no read
        back and decode); otherwise the log itself, which is always right, when it may
        hold more (after its own writes alone, this process does not ask the log again).
        Without ``from_log`` the log is not read: nothing is returned instead."""
        with self._lock:
            while self._offered:
                offered = [e for e in self._offered.popleft() if e.revision > self.position]
                self._offered_events -= len(offered)
                if offered and offered[0].revision == self.position + 1:
                    return offered
                if offered:  # a gap: drop the hand-overs, the log will serve them
                    self._offered.clear()
                    self._offered_events = 0
                    self._unread = True
            if not self._unread or not from_log:
                return []
            self._unread = False
        facts = self.log.read_facts(self.position, BATCH, raw_timestamps=True)
        if len(facts) == BATCH:  # a full page: more may follow
            self._unread = True
        return facts

    def start(self) -> None:
        self._thread.start()

    def offer(self, committed: list[LoggedEvent]) -> None:
        """Called by the writer after a commit: events it just stored, with their revisions,
        for the projector's thread to apply."""
        self._hold(committed)
        self._wake.set()

    def apply_committed(self, committed: list[LoggedEvent]) -> None:
        """Called by the writer right after a commit, on the writer's thread: the events are
        applied there and then when they follow the position, unless the projector's
        thread is applying at that moment (then it takes them next, as with ``offer``).
        Whatever needs the log (another process's commits, a gap) is left to that thread,
        so the writer never waits on a read of the log. Never raises: the events are stored,
        and a failure here leaves them to the projector's thread, which reads the log.

        Why on the writer's thread: handing every commit to another thread cost a wake-up
        and a round of GIL hand-overs per write group, which on two cores cost more than
        the overlap gained (3-14 % less CPU per operation this way, the same throughput;
        see docs/benchmarks.md)."""
        self._hold(committed)
        if not self._applying.acquire(blocking=False):
            self._wake.set()  # the thread is applying: it looks again once done
            return
        try:
            self._apply_offered(from_log=False)
            if self._unread:  # a gap, or another process's commits: the thread reads them
                self._wake.set()
        except Exception:  # a disk problem: the thread retries from the log
            log.exception("applying revision %d on the writer's thread failed; the "
                          "projector retries", committed[-1].revision)
            self._unread = True
            self._wake.set()
        finally:
            self._applying.release()

    def _hold(self, committed: list[LoggedEvent]) -> None:
        with self._lock:
            if self._offered_events + len(committed) <= MAX_OFFERED:
                self._offered.append(committed)
                self._offered_events += len(committed)
            else:  # too much held already: the log will serve these
                self._unread = True

    def poke(self) -> None:
        """Look at the log now: another process has committed to it."""
        self._unread = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self.writer.db.conn.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._wake.wait(self.poll_seconds):
                self._unread = True  # the poll, in case a commit went unannounced
            self._wake.clear()
            try:
                self._follow()
            except Exception:  # a disk problem; the position is intact, so retry later
                log.exception("projector failed at revision %d; retrying", self.position)
                self._unread = True  # hand-overs taken for the failed batch are gone
                self._stop.wait(self.poll_seconds)
