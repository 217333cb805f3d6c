"""The PostgreSQL recorder: large batches, the table lock, lost acknowledgements and moments of
downtime (needs PostgreSQL, like the API tests)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError, OperationalError, StoredEvent

from eventstore.commands import Accepted, CreateAnnotation, UpdateAnnotation, UploadDocument
from eventstore.log import EventLog, open_log
from eventstore.writer import Writer
from tests.conftest import POSTGRES_URL, postgres_schema


def _events(count: int, size: int) -> list[StoredEvent]:
    return [StoredEvent(uuid.uuid4(), 1, "bench:Event", bytes([i % 251]) * size)
            for i in range(count)]


def _insert_or_fail(log: EventLog, events: Sequence[StoredEvent]) -> Sequence[int]:
    """The insert in a thread, so a wire deadlock fails the test instead of hanging it."""
    outcome: dict[str, object] = {}

    def run() -> None:
        try:
            outcome["ids"] = log.recorder.insert_events(events)
        except Exception as error:  # handed to the test thread
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        _end_stuck_inserts(log)
        pytest.fail("the insert did not finish within 60 s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["ids"]  # type: ignore[return-value]


def _end_stuck_inserts(log: EventLog) -> None:
    """Ends the stalled server session, whose table lock would block the schema's drop."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE pid <> pg_backend_pid() AND query LIKE %s",
                     [f"%{log.recorder.datastore.schema}%"])


def test_batches_of_several_megabytes_are_stored_whole():
    # 5 MB in one transaction stalled psycopg's pipeline about half the time.
    with postgres_schema() as url:
        log = open_log(None, url)  # type: ignore[arg-type]
        stored = 0
        for _ in range(3):
            events = _events(5_000, 1_000)
            ids = _insert_or_fail(log, events)
            assert list(ids) == list(range(stored + 1, stored + 5_001))
            stored += 5_000
        back = log.recorder.select_notifications(start=stored - 4_999, limit=5_000)
        assert [n.state for n in back] == [e.state for e in events]


def test_a_large_batch_that_loses_a_race_stores_nothing():
    with postgres_schema() as url:
        log = open_log(None, url)  # type: ignore[arg-type]
        taken = _events(1, 100)
        _insert_or_fail(log, taken)
        batch = _events(2_000, 1_000) + taken  # the last one clashes on (stream, version)
        with pytest.raises(IntegrityError):
            _insert_or_fail(log, batch)
        assert log.recorder.max_notification_id() == 1
        assert len(log.recorder.select_notifications(start=1, limit=10)) == 1


def test_an_append_waits_for_the_table_lock_so_ids_commit_in_order():
    # Followers read past the highest id they saw; an id that committed after a higher one
    # would be skipped for ever. The append takes the table's lock, so it queues instead.
    with postgres_schema() as url:
        log = open_log(None, url)  # type: ignore[arg-type]
        recorder = log.recorder
        table = f'"{recorder.datastore.schema}"."{recorder.events_table_name}"'
        with psycopg.connect(POSTGRES_URL) as holder:  # type: ignore[arg-type]
            # ROW SHARE blocks the EXCLUSIVE lock, but not a plain INSERT.
            holder.execute(f"LOCK TABLE {table} IN ROW SHARE MODE")
            appended: list[Sequence[int]] = []
            thread = threading.Thread(
                target=lambda: appended.append(recorder.insert_events(_events(1, 10))))
            thread.start()
            thread.join(1.0)
            assert thread.is_alive() and not appended  # queued behind the lock
            holder.rollback()
        thread.join(30)
        assert appended == [[1]]


def _terminate_other_sessions() -> None:
    """What a PostgreSQL restart looks like to the pool: every open connection is cut."""
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:  # type: ignore[arg-type]
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                     "WHERE pid <> pg_backend_pid() AND datname = current_database()")


@contextmanager
def writer_on_postgres() -> Iterator[Writer]:
    """A writer on a fresh PostgreSQL log holding one document, "d"."""
    with postgres_schema() as url:
        log = open_log(None, url)  # type: ignore[arg-type]
        writer = Writer(log)
        writer.start()
        try:
            writer.execute([UploadDocument("d", None, "00", 1, False, None)])
            yield writer
        finally:
            writer.stop()
            log.close()


def test_an_append_whose_acknowledgement_was_lost_is_answered_from_the_log(monkeypatch):
    """Regression (issue 12): after a restart the recorder's retry met its own committed
    rows, the writer took that for a lost race and stored the batch twice."""
    with writer_on_postgres() as writer:
        log = writer.log
        writer.execute([CreateAnnotation("d", "", "a", {"n": 1}, None, None)])
        append, calls = log.recorder._append, []

        def commit_then_lose_the_connection(rows):
            ids = append(rows)
            calls.append(ids)
            if len(calls) == 1:
                _terminate_other_sessions()
                raise OperationalError("server closed the connection unexpectedly")
            return ids

        monkeypatch.setattr(log.recorder, "_append", commit_then_lose_the_connection)
        [updated, created] = writer.execute([
            UpdateAnnotation("d", "", "a", {"n": 2}, "bob"),
            CreateAnnotation("d", "", "b", {"n": 1}, None, None)])
        monkeypatch.undo()
        assert isinstance(updated, Accepted) and isinstance(created, Accepted)
        assert [updated.revision, created.revision] == calls[0]
        assert updated.version == 2
        assert [n.topic.rsplit(".", 1)[-1] for n in log.recorder.select_notifications(
            start=1, limit=10)] == ["Uploaded", "Created", "Updated", "Created"]


def test_head_lookups_and_appends_wait_out_a_moment_of_downtime():
    with writer_on_postgres() as writer:
        writer.cache.clear()  # the next batch reads its heads from the database
        _terminate_other_sessions()
        [outcome] = writer.execute([CreateAnnotation("d", "", "a", {}, None, None)])
        assert isinstance(outcome, Accepted)
        _terminate_other_sessions()
        assert writer.log.max_revision() == outcome.revision
