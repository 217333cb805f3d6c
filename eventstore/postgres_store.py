"""The log on PostgreSQL (eventsourcing's persistence, psycopg 3): the same reads the
SQLite recorder offers the writer and the projector, in PostgreSQL's SQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresFactory
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from eventstore.background import BackgroundThread


class HeadsPostgresRecorder(PostgresApplicationRecorder):
    # psycopg's pipeline can stop sending a large message half-way: its send loop leaves
    # when no command is left even if libpq still holds unsent bytes, and then both sides
    # wait on each other for ever (PostgreSQL logs "incomplete message from client"). Seen
    # with psycopg 3.3.9 about half the time from ~5 MB up. Batches above this size are sent
    # without the pipeline, whose few saved round trips matter only for small batches.
    PIPELINE_MAX_BYTES = 16_384

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        if sum(len(e.state) for e in stored_events) <= self.PIPELINE_MAX_BYTES:
            return super().insert_events(stored_events, **kwargs)
        with self.datastore.get_connection() as conn, conn.transaction(), \
                conn.cursor() as cursor:
            # The library's own statements: table lock, NOTIFY, one INSERT of them all.
            self._insert_stored_events(cursor, stored_events, **kwargs)
            return self._fetch_ids_after_insert_events(cursor, stored_events, **kwargs)

    def _table(self) -> Any:
        return SQL("{schema}.{table}").format(schema=Identifier(self.datastore.schema),
                                              table=Identifier(self.events_table_name))

    def _rows(self, statement: Any, params: list[Any]) -> list[dict[str, Any]]:
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    def select_heads(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """The last stored event of each stream, in one query."""
        rows = self._rows(SQL(
            "SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, "
            "state FROM {table} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version DESC").format(table=self._table()),
            [list(originator_ids)])
        return [StoredEvent(originator_id=r["originator_id"],
                            originator_version=r["originator_version"], topic=r["topic"],
                            state=bytes(r["state"])) for r in rows]

    def select_raw(self, after: int, limit: int, upto: int | None
                   ) -> list[tuple[int, int, str, bytes]]:
        statement = SQL("SELECT notification_id, originator_version, topic, state FROM {table} "
                        "WHERE notification_id > %s").format(table=self._table())
        params: list[Any] = [after]
        if upto is not None:
            statement += SQL(" AND notification_id <= %s")
            params.append(upto)
        statement += SQL(" ORDER BY notification_id LIMIT %s")
        params.append(limit)
        return [(r["notification_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                for r in self._rows(statement, params)]

    def select_stream(self, originator_id: UUID) -> list[Notification]:
        rows = self._rows(SQL("SELECT * FROM {table} WHERE originator_id = %s "
                              "ORDER BY originator_version").format(table=self._table()),
                          [originator_id])
        return [Notification(id=r["notification_id"], originator_id=r["originator_id"],
                             originator_version=r["originator_version"], topic=r["topic"],
                             state=bytes(r["state"])) for r in rows]


class HeadsPostgresFactory(PostgresFactory):
    application_recorder_class = HeadsPostgresRecorder


log = logging.getLogger(__name__)


class PresenceChannel:
    """Who is connected where, told to every process of a cluster with NOTIFY: short-lived
    news that has no place in the log. One channel per schema, so clusters sharing a
    database do not hear each other."""

    MAX_PAYLOAD = 7900  # PostgreSQL refuses NOTIFY payloads of 8,000 bytes and more

    def __init__(self, recorder: HeadsPostgresRecorder) -> None:
        self.recorder = recorder
        self.name = f"annolog_presence_{recorder.datastore.schema}"[:63]

    def publish(self, payload: str) -> None:
        if len(payload.encode()) > self.MAX_PAYLOAD:
            raise ValueError(f"a presence message is limited to {self.MAX_PAYLOAD} bytes")
        with self.recorder.datastore.get_connection() as conn:
            conn.execute("SELECT pg_notify(%s, %s)", [self.name, payload])


class LogListener(BackgroundThread):
    """Calls ``on_commit`` whenever any process commits to the shared log: the library's
    recorder NOTIFYs its channel inside every insert transaction, and this thread LISTENs on
    its own connection. The projector keeps polling too, so a lost connection (or a pooler
    that drops LISTEN) only slows following down. Messages on the presence channel go to
    ``on_presence`` (set it once the receiver exists)."""

    def __init__(self, recorder: HeadsPostgresRecorder, on_commit: Callable[[], None]) -> None:
        super().__init__("annolog-listen")
        self.recorder = recorder
        self.on_commit = on_commit
        self.presence = PresenceChannel(recorder)
        self.on_presence: Callable[[str], None] | None = None
        self.listening = threading.Event()  # set once LISTEN is in force

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                self.listening.clear()
                log.warning("listening for commits failed (%s); following by polling until "
                            "it reconnects", error)
                self._stop.wait(1.0)

    def _listen(self) -> None:
        options = dict(self.recorder.datastore.pool.kwargs)
        options.pop("row_factory", None)
        with psycopg.connect(**options, autocommit=True) as conn:
            conn.execute(SQL("LISTEN {0}").format(Identifier(self.recorder.channel_name)))
            conn.execute(SQL("LISTEN {0}").format(Identifier(self.presence.name)))
            self.listening.set()
            while not self._stop.is_set():
                # A short timeout, so that stop() is seen promptly.
                for notify in conn.notifies(timeout=0.1, stop_after=1):
                    if notify.channel != self.presence.name:
                        self.on_commit()
                    elif self.on_presence is not None:
                        self.on_presence(notify.payload)
