"""The append-only log: an ``eventsourcing`` application on a durable SQLite file.

The application's notification id is the global, strictly increasing *revision* (gap-free in
the embedded log; on PostgreSQL a rolled-back insert leaves its numbers unused).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatabaseError,
    IntegrityError,
    Notification,
    StoredEvent,
    Transcoder,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteConnection,
    SQLiteConnectionPool,
    SQLiteCursor,
    SQLiteFactory,
)
from eventsourcing.utils import get_topic

from eventstore.background import BackgroundThread
from eventstore.errors import AppendOutcomeUnknownError, DataDirLockedError
from eventstore.transcoding import TopLevelOrjsonTranscoder

BACKGROUND_CHECKPOINTS = "ANNOLOG_BACKGROUND_CHECKPOINTS"
CACHE_KIB = 65_536  # page cache per log connection
HEADS_CHUNK = 500  # SQLite's default limit on bound parameters is far above this
WALK_PAGE = 4096  # events read at a time when looking for the edges of a write

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


class LogStore(Protocol):
    """What annolog's recorders (SQLite here, PostgreSQL in postgres_store) add."""

    def revisions_of(self, stored_events: Sequence[StoredEvent]) -> list[int] | None: ...

    def select_stream(self, originator_id: UUID) -> list[Notification]: ...


@dataclass(frozen=True)
class LoggedEvent:
    revision: int
    event: Any  # a domain event of any class in eventstore.domain


class EventLog(Application[UUID]):
    """The annolog event store. Only the writer appends; anyone may read."""

    name = "annolog"

    @property
    def store(self) -> LogStore:
        """The recorder, with what both of annolog's adapters add to the library's."""
        return cast(LogStore, self.recorder)

    def construct_transcoder(self) -> Transcoder:
        transcoder = TopLevelOrjsonTranscoder()
        # typed for the library's JSON transcoder; any transcoder that registers serves
        self.register_transcodings(transcoder)  # type: ignore[arg-type]
        return transcoder

    def heads(self, stream_ids: Iterable[UUID]) -> dict[UUID, tuple[Any, int]]:
        """The last event of each existing stream among ``stream_ids``, with the bytes it
        takes in the log."""
        ids = list(dict.fromkeys(stream_ids))
        if not ids:
            return {}
        recorder = self.recorder
        if hasattr(recorder, "select_heads"):
            stored = recorder.select_heads(ids)
        else:
            stored = [s for i in ids for s in recorder.select_events(i, desc=True, limit=1)]
        to_domain_event = self.mapper.to_domain_event
        return {cast(UUID, s.originator_id): (to_domain_event(s), len(s.state))
                for s in stored}

    def append(self, events: Sequence[Aggregate.Event]) -> list[int]:
        """Append ``events`` in one transaction; returns the revision of each.

        Goes straight to the recorder: ``Application.save`` would first run a
        ``typing.Protocol`` isinstance check per event, and ``EventStore.put`` builds two
        objects per event that are dropped at once; together they cost more than the
        insert.
        """
        return self.append_encoded(self.encode(events))

    def encode(self, events: Sequence[Aggregate.Event]) -> list[StoredEvent]:
        """The events as the log stores them (raises ``EncodingError`` for data JSON cannot
        carry)."""
        to_stored_event = self.mapper.to_stored_event
        return [to_stored_event(e) for e in events]

    def append_encoded(self, stored: list[StoredEvent]) -> list[int]:
        """Append encoded events in one transaction; returns the revision of each."""
        try:
            return list(self.recorder.insert_events(stored) or ())
        except Exception as error:
            # The insert may have committed and lost only its acknowledgement (a connection
            # cut after COMMIT; a retry that then met its own rows as a "conflict"). Deciding
            # the commands again would store them twice, so ask the log first.
            try:
                revisions = self.store.revisions_of(stored)
            except Exception as lookup_error:
                raise AppendOutcomeUnknownError(
                    f"the append failed ({type(error).__name__}: {error}) and the log could "
                    f"not be asked whether it was stored ({lookup_error})") from error
            if revisions is None:
                raise
            log.warning("an append reported %s: %s, but its %d events are in the log at "
                        "revisions %d..%d; answering with those", type(error).__name__,
                        error, len(revisions), revisions[0], revisions[-1])
            return revisions

    def read(self, after: int = 0, limit: int = 1000, upto: int | None = None,
             kinds: Sequence[type] = ()) -> list[LoggedEvent]:
        """Up to ``limit`` events with a revision above ``after`` (and at most ``upto``),
        only of the given event classes when ``kinds`` is not empty (filtered in SQL)."""
        notifications = self.recorder.select_notifications(
            start=after, limit=limit, stop=upto, inclusive_of_start=False,
            topics=[get_topic(kind) for kind in kinds],
        )
        return [LoggedEvent(n.id, self.mapper.to_domain_event(n)) for n in notifications]

    def read_facts(self, after: int = 0, limit: int = 1000, upto: int | None = None, *,
                   raw_timestamps: bool = False) -> list[tuple[int, int, str, dict[str, Any]]]:
        """Like ``read``, as (revision, version, topic, fields) without building event
        objects: replays decode only what the projection uses. With ``raw_timestamps`` the
        timestamp stays as stored (tagged ISO text). This skips the mapper's upcasting, so
        no event class may have a ``class_version`` until it is upcast here (tested)."""
        recorder = self.recorder
        if not hasattr(recorder, "select_raw"):
            return [(e.revision, e.event.originator_version, get_topic(type(e.event)),
                     vars(e.event)) for e in self.read(after, limit, upto)]
        decode = orjson.loads if raw_timestamps else self.mapper.transcoder.decode
        return [(revision, version, topic, decode(state))
                for revision, version, topic, state in recorder.select_raw(after, limit, upto)]

    def read_all(self, after: int = 0, upto: int | None = None, page: int = 1000,
                 kinds: Sequence[type] = ()) -> Iterator[LoggedEvent]:
        while batch := self.read(after, page, upto, kinds):
            yield from batch
            if len(batch) < page:  # the last page: asking again would scan the log again
                return
            after = batch[-1].revision

    def whole_revision(self, revision: int) -> int:
        """The last revision at or before ``revision`` that ends a write. Revisions count
        events, so one inside a write of many events would show it half applied, a state
        no client ever saw. A write's events are contiguous and carry its request id (the
        few that carry none, such as a layer or an attachment coming into being, sit
        before its first record), so a revision is inside a write when the request ids on
        either side of it agree; the write then starts after the last event of another
        request."""
        following = self._next_request_id(revision)
        if following is None:
            return revision
        upto = revision
        while upto > 0:
            after = max(0, upto - WALK_PAGE)
            for fact in reversed(self.read_facts(after, upto - after, upto,
                                                 raw_timestamps=True)):
                request_id = fact[3].get("request_id")
                if request_id is None:
                    continue
                if request_id != following:
                    return fact[0]
                following = request_id
            upto = after
        return 0

    def _next_request_id(self, revision: int) -> str | None:
        """The request id of the first event after ``revision`` that carries one."""
        after = revision
        while facts := self.read_facts(after, WALK_PAGE // 16, raw_timestamps=True):
            for fact in facts:
                if fact[3].get("request_id") is not None:
                    return fact[3]["request_id"]
            after = facts[-1][0]
        return None

    def stream(self, stream_id: UUID) -> list[LoggedEvent]:
        """Every event of one stream with its revision."""
        return [LoggedEvent(n.id, self.mapper.to_domain_event(n))
                for n in self.store.select_stream(stream_id)]

    def max_revision(self) -> int:
        return self.recorder.max_notification_id() or 0

    def sqlite_source(self) -> tuple[Path, str] | None:
        """(file, events table) of an embedded log, for replays done by SQLite itself."""
        recorder = self.recorder
        if not isinstance(recorder, HeadsSQLiteRecorder):
            return None
        return Path(recorder.datastore.pool.db_name), recorder.events_table_name


def open_log(data_dir: Path, database_url: str | None = None, *,
             background_checkpoints: bool = False) -> EventLog:
    """The embedded log, ``events.sqlite`` (WAL, synchronous=FULL) under ``data_dir``; or,
    with ``database_url``, the shared log on PostgreSQL. With ``background_checkpoints``
    the embedded log's connections leave checkpoints to a ``Checkpointer``."""
    if database_url:
        log = _open_shared(postgres_env(database_url))
        check_synchronous_commit(log)
        return log
    data_dir.mkdir(parents=True, exist_ok=True)
    return EventLog(env={
        "PERSISTENCE_MODULE": f"{DurableSQLiteFactory.__module__}:DurableSQLiteFactory",
        "SQLITE_DBNAME": str(data_dir / "events.sqlite"),
        "SQLITE_LOCK_TIMEOUT": "30",
        BACKGROUND_CHECKPOINTS: "1" if background_checkpoints else "0",
    })


def _open_shared(env: dict[str, str], attempts: int = 5) -> EventLog:
    """Processes starting together on a fresh database race to create the tables (the
    library's CREATE ... IF NOT EXISTS is not atomic in PostgreSQL); the losers try again."""
    for attempt in range(attempts):
        try:
            return EventLog(env=env)
        except DatabaseError:  # a duplicate type, table or index of a concurrent start
            if attempt == attempts - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")


def postgres_env(database_url: str) -> dict[str, str]:
    """``postgresql://user:password@host:port/dbname?schema=name`` as eventsourcing's keys."""
    url = urlsplit(database_url)
    if url.scheme not in ("postgresql", "postgres") or not url.path.strip("/"):
        raise ValueError("ANNOLOG_DATABASE_URL must look like "
                         "postgresql://user:password@host:5432/dbname")
    query = parse_qs(url.query)
    return {
        "PERSISTENCE_MODULE": "eventstore.postgres_store:HeadsPostgresFactory",
        "POSTGRES_DBNAME": unquote(url.path.strip("/")),
        "POSTGRES_HOST": url.hostname or "localhost",
        "POSTGRES_PORT": str(url.port or 5432),
        "POSTGRES_USER": unquote(url.username or ""),
        "POSTGRES_PASSWORD": unquote(url.password or ""),
        "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
        "POSTGRES_POOL_SIZE": "4",
    }


def check_synchronous_commit(log: EventLog) -> None:
    """A 200 must mean durable: refuse a server configured with synchronous_commit=off."""
    recorder: Any = log.recorder  # a PostgreSQL recorder: its datastore has connections
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        setting = cursor.fetchone()["synchronous_commit"]
    if setting == "off":
        raise DataDirLockedError("PostgreSQL runs with synchronous_commit=off, so an "
                                 "acknowledged write could be lost; turn it on")


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
