"""The embedded log's adapter: eventsourcing's SQLite recorder made durable (synchronous=FULL),
batched (one executemany per append, many heads per query), checkpointed from a thread of its
own, and guarded by a lock on the data directory."""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import IntegrityError, Notification, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)

from eventstore.background import BackgroundThread
from eventstore.errors import DataDirLockedError

BACKGROUND_CHECKPOINTS = "ANNOLOG_BACKGROUND_CHECKPOINTS"
# Page cache per log connection. The pages also sit in the OS's cache; 16 MB wrote as fast
# as 64 MB on a 415 MB log of 500,000 annotations (2,404 and 2,454 single writes/s against
# 2,405 and 2,116), with 60 MB less memory.
CACHE_KIB = 16_384
HEADS_CHUNK = 500  # SQLite's default limit on bound parameters is far above this

log = logging.getLogger(__name__)


class DurableSQLiteConnectionPool(SQLiteConnectionPool):
    """Every connection commits with ``synchronous=FULL``: a 200 means the events are on disk."""

    autocheckpoint = True  # off when a Checkpointer thread does the checkpoints

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        connection._sqlite_conn.execute("PRAGMA synchronous=FULL")
        # Stream ids are random, so the primary-key index is written all over: keep it in
        # memory (the default 2 MB cache made writes slow down as the log grew)
        connection._sqlite_conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
        if not self.autocheckpoint:
            connection._sqlite_conn.execute("PRAGMA wal_autocheckpoint=0")
        return connection


class Checkpointer(BackgroundThread):
    """Copies WAL pages back into the database files from a thread of its own.

    Left to itself SQLite checkpoints inside the commit that takes the WAL past 1,000 pages,
    so that commit, and every request waiting on it, pays for copying and syncing megabytes:
    the slowest writes of the benchmark. PASSIVE checkpoints never wait for, nor block, the
    writer or the readers; files whose connections turned autocheckpointing off rely on it.
    """

    def __init__(self, paths: Sequence[Path], interval: float = 0.5) -> None:
        super().__init__("annolog-checkpoint")
        self.paths = list(paths)
        self.interval = interval

    def _run(self) -> None:
        connections = [sqlite3.connect(path, isolation_level=None) for path in self.paths]
        try:
            while not self._stop.wait(self.interval):
                self.checkpoint(connections)
            self.checkpoint(connections)
        finally:
            for connection in connections:
                connection.close()

    @staticmethod
    def checkpoint(connections: Sequence[sqlite3.Connection]) -> None:
        for connection in connections:
            try:
                connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            except sqlite3.Error:  # busy or gone for a moment: the next round catches up
                log.warning("checkpoint failed; retrying", exc_info=True)


class HeadsSQLiteRecorder(SQLiteApplicationRecorder):
    """Inserts a batch with one ``executemany`` and reads many stream heads in one query."""

    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent],
                       **kwargs: Any) -> Sequence[int] | None:
        # The library inserts row by row to learn each rowid. Inside this write transaction
        # nothing else inserts, so one executemany assigns MAX(rowid)+1, +2, ...; the check
        # below proves it for every batch rather than assuming it.
        if not stored_events:
            return []
        c.execute(f"SELECT COALESCE(MAX(rowid), 0) FROM {self.events_table_name}")
        first = c.fetchone()[0] + 1
        c.executemany(self.insert_events_statement, [
            (s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
             s.originator_version, s.topic, s.state) for s in stored_events])
        last = first + len(stored_events) - 1
        c.execute(f"SELECT MAX(rowid) FROM {self.events_table_name}")
        if c.fetchone()[0] != last:
            raise IntegrityError("revisions of a batch were not consecutive")
        return list(range(first, last + 1))

    def select_heads(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        heads: list[StoredEvent] = []
        for start in range(0, len(originator_ids), HEADS_CHUNK):
            chunk = [i.hex for i in originator_ids[start:start + HEADS_CHUNK]]
            marks = ",".join("?" * len(chunk))
            statement = (
                f"SELECT e.* FROM {self.events_table_name} e "
                f"JOIN (SELECT originator_id, MAX(originator_version) AS v "
                f"FROM {self.events_table_name} WHERE originator_id IN ({marks}) "
                f"GROUP BY originator_id) h "
                f"ON e.originator_id = h.originator_id AND e.originator_version = h.v"
            )
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(statement, chunk)
                heads.extend(
                    StoredEvent(
                        originator_id=UUID(row["originator_id"]),
                        originator_version=row["originator_version"],
                        topic=row["topic"],
                        state=row["state"],
                    )
                    for row in cursor.fetchall()
                )
        return heads


    def select_raw(self, after: int, limit: int, upto: int | None
                   ) -> list[tuple[int, int, str, bytes]]:
        """(revision, version, topic, state) rows, with no per-row object building."""
        statement = (f"SELECT rowid, originator_version, topic, state FROM "
                     f"{self.events_table_name} WHERE rowid > ? ")
        params: list[int] = [after]
        if upto is not None:
            statement += "AND rowid <= ? "
            params.append(upto)
        statement += "ORDER BY rowid LIMIT ?"
        params.append(limit)
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(statement, params)
            return [tuple(row) for row in cursor.fetchall()]

    def revisions_of(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The revisions of exactly these events (same stream, version and bytes) when the
        log holds all of them; None when it does not."""
        found: dict[tuple[str, int], tuple[int, bytes]] = {}
        for start in range(0, len(stored_events), HEADS_CHUNK):
            chunk = stored_events[start:start + HEADS_CHUNK]
            pairs = ",".join("(?, ?)" for _ in chunk)
            params = [v for s in chunk
                      for v in (cast(UUID, s.originator_id).hex, s.originator_version)]
            with self.datastore.transaction(commit=False) as cursor:
                cursor.execute(f"SELECT rowid, originator_id, originator_version, state FROM "
                               f"{self.events_table_name} WHERE (originator_id, "
                               f"originator_version) IN (VALUES {pairs})", params)
                found.update(((row[1], row[2]), (row[0], bytes(row[3])))
                             for row in cursor.fetchall())
        return matching_revisions(stored_events, found, lambda s: s.originator_id.hex)

    def select_stream(self, originator_id: UUID) -> list[Notification]:
        """Every event of one stream, with its notification id (revision)."""
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT rowid, * FROM {self.events_table_name} "
                           "WHERE originator_id = ? ORDER BY originator_version",
                           [originator_id.hex])
            return [Notification(id=row["rowid"], originator_id=originator_id,
                                 originator_version=row["originator_version"],
                                 topic=row["topic"], state=row["state"])
                    for row in cursor.fetchall()]


def matching_revisions(stored_events: Sequence[StoredEvent],
                       found: dict[tuple[Any, int], tuple[int, bytes]],
                       key: Any) -> list[int] | None:
    """Revisions of ``stored_events`` from rows ``found`` by (stream, version), or None unless
    every event is there with its very bytes (each event holds its request id and time, so
    another writer's event in the same place differs)."""
    revisions = []
    for stored in stored_events:
        row = found.get((key(stored), stored.originator_version))
        if row is None or row[1] != stored.state:
            return None
        revisions.append(row[0])
    return revisions


class DurableSQLiteFactory(SQLiteFactory):
    application_recorder_class = HeadsSQLiteRecorder

    def __init__(self, env: Any) -> None:
        super().__init__(env)
        old = self.datastore.pool
        old.close()
        self.datastore.pool = DurableSQLiteConnectionPool(
            db_name=old.db_name, lock_timeout=old.lock_timeout
        )
        self.datastore.pool.autocheckpoint = self.env.get(BACKGROUND_CHECKPOINTS) != "1"


class DataDirLock:
    """An exclusive lock on the data directory: one serving process per embedded log.

    The kernel drops the lock when the process dies, even by SIGKILL.
    """

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "annolog.lock"
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise DataDirLockedError(
                f"{data_dir} is already served by another annolog process; "
                "stop it or choose another ANNOLOG_DATA_DIR"
            ) from None
        os.ftruncate(self._fd, 0)
        os.write(self._fd, str(os.getpid()).encode())

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1


def events_select(table: str, schema: str = "log") -> str:
    """The embedded log's events as SQL rows (revision, version, topic, state) for a
    connection that attached the log file as ``schema``: replays done by SQLite itself read
    the log through this, and only this module knows the library's table."""
    return (f"SELECT rowid AS revision, originator_version AS version, topic, state "
            f"FROM {schema}.{table}")
