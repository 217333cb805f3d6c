"""The log on PostgreSQL (eventsourcing's persistence, psycopg 3): the library's tables and
pool, an append in one statement, and the same reads the SQLite recorder offers the writer
and the projector, in PostgreSQL's SQL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, cast
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

import psycopg
from eventsourcing.persistence import InterfaceError, Notification, OperationalError, StoredEvent
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

from eventstore.background import BackgroundThread
from eventstore.errors import DataDirLockedError
from eventstore.sqlite_store import matching_revisions

MAX_BIGINT = 2**63 - 1
# One policy for every statement of the writer and the followers: a moment of PostgreSQL
# downtime (a restart, a failover) is waited out, not answered with 503s. 25 tries, 0.2 s
# apart: about 5 s.
transient = retry((InterfaceError, OperationalError), max_attempts=25, wait=0.2)


class HeadsPostgresRecorder(PostgresApplicationRecorder):
    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        schema = Identifier(datastore.schema)
        self.table = SQL("{schema}.{table}").format(schema=schema,
                                                    table=Identifier(self.events_table_name))
        function = SQL("{schema}.{name}").format(
            schema=schema, name=Identifier(f"annolog_append_{datastore.originator_id_type}"))
        # The library's insert, as one statement that takes the table lock, NOTIFYs and
        # inserts on the server. Its own transaction (BEGIN, lock, NOTIFY, INSERT, COMMIT)
        # holds the lock over two round trips and the writer thread's wait for the GIL in
        # between, and every other process's commit queues behind that lock. The library's
        # optional function (POSTGRES_ENABLE_DB_FUNCTIONS) takes no lock, so a follower
        # could pass over an id that commits later.
        self.sql_create_statements.append(SQL(
            "CREATE OR REPLACE FUNCTION {function}(events {schema}.{event}[]) "
            "RETURNS SETOF bigint LANGUAGE plpgsql AS $BODY$ BEGIN "
            "SET LOCAL lock_timeout = '{lock_timeout}s'; "
            "LOCK TABLE {table} IN EXCLUSIVE MODE; "
            "NOTIFY {channel}; "
            "RETURN QUERY INSERT INTO {table} "
            "(originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state FROM unnest(events) "
            "RETURNING notification_id; "
            "END; $BODY$").format(
                function=function, schema=schema,
                event=Identifier(self.stored_event_type_name),
                lock_timeout=datastore.lock_timeout, table=self.table,
                channel=Identifier(self.channel_name)))
        self.sql_append = SQL("SELECT id FROM {function}(%s) AS appended(id)").format(
            function=function)
        self.sql_select_raw = SQL(
            "SELECT notification_id, originator_version, topic, state FROM {table} "
            "WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s").format(table=self.table)
        self.sql_select_exact = SQL(
            "SELECT notification_id, originator_id, originator_version, state FROM {table} "
            "WHERE (originator_id, originator_version) IN "
            "(SELECT * FROM unnest(%s::uuid[], %s::integer[]))").format(table=self.table)
        self.sql_select_heads = SQL(
            "SELECT DISTINCT ON (originator_id) originator_id, originator_version, topic, "
            "state FROM {table} WHERE originator_id = ANY(%s) "
            "ORDER BY originator_id, originator_version DESC").format(table=self.table)

    @transient
    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any
                      ) -> Sequence[int] | None:
        """One round trip, in autocommit; the ids come back in the order of the events.
        Not the library's pipeline either: it could stall half-way through sending a
        multi-megabyte batch and wait for ever (psycopg 3.3.9). A retry after a lost
        connection may meet its own committed rows: ``EventLog.append`` then finds them."""
        rows = [self.construct_pg_stored_event(e.originator_id, e.originator_version,
                                               e.topic, e.state) for e in stored_events]
        return self._append(rows)

    def _append(self, rows: list[Any]) -> list[int]:
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(self.sql_append, (rows,), prepare=True)
            return [row["id"] for row in cursor.fetchall()]

    @transient
    def revisions_of(self, stored_events: Sequence[StoredEvent]) -> list[int] | None:
        """The revisions of exactly these events when the log holds all of them, else None
        (see the SQLite recorder's twin)."""
        rows = self._rows(self.sql_select_exact,
                          [[e.originator_id for e in stored_events],
                           [e.originator_version for e in stored_events]])
        found = {(r["originator_id"], r["originator_version"]):
                 (r["notification_id"], bytes(r["state"])) for r in rows}
        return matching_revisions(stored_events, found, lambda s: s.originator_id)

    def _rows(self, statement: Any, params: list[Any], prepare: bool | None = None
              ) -> list[dict[str, Any]]:
        with self.datastore.get_connection() as conn, conn.cursor() as cursor:
            cursor.execute(statement, params, prepare=prepare)
            return cursor.fetchall()

    @transient
    def max_notification_id(self) -> int | None:
        return super().max_notification_id()

    @transient
    def select_heads(self, originator_ids: Sequence[UUID]) -> list[StoredEvent]:
        """The last stored event of each stream, in one query (prepared: the writer asks
        for every batch that touches streams it has not cached)."""
        rows = self._rows(self.sql_select_heads, [list(originator_ids)], prepare=True)
        return [StoredEvent(originator_id=r["originator_id"],
                            originator_version=r["originator_version"], topic=r["topic"],
                            state=bytes(r["state"])) for r in rows]

    @transient
    def select_raw(self, after: int, limit: int, upto: int | None
                   ) -> list[tuple[int, int, str, bytes]]:
        """Followers call this for every commit they hear of, so it is prepared: planned
        once per connection, not once per call."""
        params = [after, MAX_BIGINT if upto is None else upto, limit]
        return [(r["notification_id"], r["originator_version"], r["topic"], bytes(r["state"]))
                for r in self._rows(self.sql_select_raw, params, prepare=True)]

    @transient
    def select_stream(self, originator_id: UUID) -> list[Notification]:
        rows = self._rows(SQL("SELECT * FROM {table} WHERE originator_id = %s "
                              "ORDER BY originator_version").format(table=self.table),
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
    """Calls ``on_commit`` whenever any process commits to the shared log: every append
    NOTIFYs the recorder's channel inside its transaction, and this thread LISTENs on its
    own connection. The projector keeps polling too, so a lost connection (or a pooler
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
        options = dict(cast(dict[str, Any], self.recorder.datastore.pool.kwargs))
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


def check_synchronous_commit(recorder: Any) -> None:
    """A 200 must mean durable: refuse a server configured with synchronous_commit=off."""
    with recorder.datastore.get_connection() as conn, conn.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        setting = cursor.fetchone()["synchronous_commit"]
    if setting == "off":
        raise DataDirLockedError("PostgreSQL runs with synchronous_commit=off, so an "
                                 "acknowledged write could be lost; turn it on")
