"""The append-only log: an ``eventsourcing`` application on a durable SQLite file (see
``sqlite_store``) or a shared PostgreSQL database (see ``postgres_store``).

The application's notification id is the global, strictly increasing *revision* (gap-free in
the embedded log; on PostgreSQL a rolled-back insert leaves its numbers unused).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast
from uuid import UUID

import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    DatabaseError,
    Notification,
    StoredEvent,
    Transcoder,
)
from eventsourcing.utils import get_topic

from eventstore.errors import AppendOutcomeUnknownError
from eventstore.postgres_store import check_synchronous_commit, postgres_env
from eventstore.sqlite_store import (
    BACKGROUND_CHECKPOINTS,
    DurableSQLiteFactory,
    HeadsSQLiteRecorder,
    events_select,
)
from eventstore.transcoding import TopLevelOrjsonTranscoder

WALK_PAGE = 4096  # events read at a time when looking for the edges of a write

log = logging.getLogger(__name__)


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

    def write_end(self, revision: int) -> int:
        """The last revision of the write that holds ``revision`` (an event with a request
        id): events carrying no request id that follow it belong to the next write, as a
        write puts those before its first record."""
        facts = self.read_facts(revision - 1, 1, revision, raw_timestamps=True)
        request_id = facts[0][3].get("request_id") if facts else None
        if request_id is None:
            return revision
        last, after = revision, revision
        while facts := self.read_facts(after, WALK_PAGE, raw_timestamps=True):
            for fact in facts:
                found = fact[3].get("request_id")
                if found == request_id:
                    last = fact[0]
                elif found is not None:
                    return last
            after = facts[-1][0]
        return last

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
        """(file, events as rows) of an embedded log, for replays done by SQLite itself:
        the SQL (see ``sqlite_store.events_select``) reads the file attached as ``log``."""
        recorder = self.recorder
        if not isinstance(recorder, HeadsSQLiteRecorder):
            return None
        return (Path(recorder.datastore.pool.db_name),
                events_select(recorder.events_table_name))


def open_log(data_dir: Path, database_url: str | None = None, *,
             background_checkpoints: bool = False) -> EventLog:
    """The embedded log, ``events.sqlite`` (WAL, synchronous=FULL) under ``data_dir``; or,
    with ``database_url``, the shared log on PostgreSQL. With ``background_checkpoints``
    the embedded log's connections leave checkpoints to a ``Checkpointer``."""
    if database_url:
        log = _open_shared(postgres_env(database_url))
        check_synchronous_commit(log.recorder)
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


