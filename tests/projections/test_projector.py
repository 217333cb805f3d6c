"""Events to rows: idempotent by version, and a rebuild equals the live read model."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstore.commands import (
    CreateAnnotation,
    DeleteAnnotation,
    DeleteDocument,
    NewAttachment,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.log import EventLog, open_log
from eventstore.writer import Writer
from projections.projector import Projector
from projections.queries import ReadModel, dump_tables
from projections.read_model_writer import ReadModelWriter
from projections.rebuild import replay
from projections.schema import connect, open_read_model


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    log = open_log(tmp_path / "log")
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", "T", "00", 1, False, [{"width": 1, "height": 1}])])
    writer.execute([CreateAnnotation("d", "", f"a{i}", {"pageIndex": i % 2}, None, "u")
                    for i in range(5)])
    writer.execute([CreateAnnotation("d", "L", "a0", {"pageIndex": 0}, "g", "v",
                                     references=("ab" * 32,),
                                     attachments=(NewAttachment("ab" * 32, "image/png", 3),))])
    writer.execute([UpdateAnnotation("d", "", "a1", {"pageIndex": 1, "x": 1}, "w")])
    writer.execute([DeleteAnnotation("d", "", "a2")])
    writer.execute([UploadDocument("gone", None, "00", 1, False, None)])
    writer.execute([CreateAnnotation("gone", "", "z", {"pageIndex": 0}, None, None,
                                     references=("cd" * 32,),
                                     attachments=(NewAttachment("cd" * 32, "image/jpeg", 4),))])
    writer.execute([DeleteDocument("gone")])
    writer.stop()
    return log


def test_the_projector_shows_live_records_only(log, tmp_path):
    projector = Projector(log, tmp_path / "read.sqlite")
    assert projector.catch_up() == log.max_revision()
    read = ReadModel(tmp_path / "read.sqlite")
    assert read.live_annotation_ids("d", "") == ["a0", "a1", "a3", "a4"]
    assert read.layers("d") == ["L"]
    assert read.document("gone") is None
    assert read.attachment("d", "ab" * 32).content_type == "image/png"
    assert read.attachment("gone", "cd" * 32) is None
    assert read.annotation_version("d", "", "a2") is None
    assert b'"updatedBy":"w"' in read.annotation_version("d", "", "a1")[0]
    assert [r[1] for r in read.annotation_page("d", "", page_index=1)][0].startswith('{"id":"a1"')
    projector.stop()


def test_applying_every_event_twice_changes_nothing(log, tmp_path):
    db = open_read_model(tmp_path / "read.sqlite")
    writer = ReadModelWriter(db)
    events = list(log.read_all())
    writer.apply(events)
    once = dump_tables(db)
    writer.apply(events)
    writer.apply(events[3:7])
    assert dump_tables(db) == once


def test_a_rebuild_from_revision_zero_equals_the_live_model(log, tmp_path):
    live = Projector(log, tmp_path / "live.sqlite")
    for _ in range(3):  # the live model is built in small steps, the rebuild in one go
        live.writer.apply(log.read(live.position, 4))
        live.position = live.writer.position()
    live.catch_up()
    assert replay(log, tmp_path / "rebuilt.sqlite") == log.max_revision()
    assert dump_tables(connect(tmp_path / "live.sqlite")) == dump_tables(
        connect(tmp_path / "rebuilt.sqlite"))
    live.stop()


def test_a_replay_up_to_a_revision_stops_there(log, tmp_path):
    assert replay(log, tmp_path / "early.sqlite", upto=3) == 3
    read = ReadModel(tmp_path / "early.sqlite")
    assert read.live_annotation_ids("d", "") == ["a0", "a1"]


def test_position_and_rows_commit_together(log, tmp_path):
    db = open_read_model(tmp_path / "read.sqlite")
    writer = ReadModelWriter(db)
    events = list(log.read_all())

    class Boom(Exception):
        pass

    def explode(pending, changes, revision, *rest):
        if revision == 4:
            raise Boom
        return ReadModelWriter._fold(writer, pending, changes, revision, *rest)

    writer._fold = explode
    with pytest.raises(Boom):
        writer.apply(events)
    assert writer.position() == 0
    assert db.execute("SELECT COUNT(*) FROM annotations").fetchone()[0] == 0


def test_handed_over_events_with_a_gap_are_read_from_the_log_instead(log, tmp_path):
    projector = Projector(log, tmp_path / "read.sqlite")
    events = list(log.read_all())
    projector.offer(events[5:])  # revisions 1..5 were never handed over
    projector.offer(events[:3])
    assert projector.catch_up() == log.max_revision()
    replay(log, tmp_path / "rebuilt.sqlite")
    assert dump_tables(connect(tmp_path / "read.sqlite")) == dump_tables(
        connect(tmp_path / "rebuilt.sqlite"))
    projector.stop()


def test_handed_over_events_that_follow_the_position_are_applied_without_the_log(log, tmp_path):
    projector = Projector(log, tmp_path / "read.sqlite")
    events = list(log.read_all())
    projector.offer(events)
    reads = []
    projector.log = type("NoLog", (), {
        "read_facts": lambda self, *a, **k: reads.append(a) or []})()
    assert projector.catch_up() == events[-1].revision
    assert len(reads) == 1  # only the final "anything more?" look
    projector.stop()


def test_following_its_own_writes_the_projector_reads_the_log_only_when_told(log, tmp_path):
    projector = Projector(log, tmp_path / "read.sqlite")
    reads = []
    real_log = projector.log
    projector.log = type("CountingLog", (), {"read_facts": lambda self, *a, **k: (
        reads.append(a), real_log.read_facts(*a, **k))[1]})()
    assert projector.catch_up() == log.max_revision() and len(reads) == 1
    writer = Writer(log, on_commit=projector.offer)  # this process's own writes
    writer.start()
    writer.execute([CreateAnnotation("d", "", "new", {"pageIndex": 0}, None, "u")])
    writer.stop()
    assert projector._follow() == log.max_revision()
    assert len(reads) == 1  # handed over: no look at the log
    projector.poke()  # another process committed
    projector._follow()
    assert len(reads) == 2
    projector.stop()


def test_a_read_model_that_is_not_a_database_is_rebuilt(log, tmp_path):
    path = tmp_path / "read.sqlite"
    path.write_bytes(b"this is not a database, just some bytes" * 200)
    projector = Projector(log, path)
    assert projector.catch_up() == log.max_revision()
    assert ReadModel(path).live_annotation_ids("d", "") == ["a0", "a1", "a3", "a4"]
    projector.stop()


def test_a_read_model_of_0_8_gains_the_copied_from_column(tmp_path):
    import sqlite_utils

    from projections.schema import connect, ensure_schema

    old = sqlite_utils.Database(tmp_path / "old.sqlite")
    old["documents"].create({"document_id": str, "instance": str, "title": str,
                             "sha256": str, "byte_size": int, "password_protected": int,
                             "page_count": int, "pages": str, "created_at": str,
                             "updated_at": str, "version": int, "revision": int,
                             "deleted": int}, pk="document_id")
    old.conn.close()
    db = connect(tmp_path / "old.sqlite")
    ensure_schema(db)
    assert "copied_from" in db["documents"].columns_dict


@pytest.mark.parametrize("limit", [1 << 20, 1 << 40])
def test_the_projector_truncates_a_large_wal_while_readers_read(tmp_path, limit):
    """Under steady writes a WAL that is read all the time need never start again (251 MB
    after 15 s of the mixed benchmark); past the limit the projector, its one writer,
    truncates it between batches, waiting out the reads of the moment."""
    import threading

    log = open_log(tmp_path / "log")
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", "T", "00", 1, False, [{"width": 1, "height": 1}])])
    for start in range(0, 600, 100):  # some 3 MB of records
        writer.execute([CreateAnnotation("d", "", f"a{i}", {"pageIndex": 0, "t": "x" * 2000},
                                         None, None) for i in range(start, start + 100)])
    writer.stop()
    path = tmp_path / "model.sqlite"
    projector = Projector(log, path, background_checkpoints=True)  # no autocheckpoint
    projector.catch_up()
    wal = Path(f"{path}-wal")
    before = wal.stat().st_size
    stop = threading.Event()

    def read() -> None:  # short reads, one after another, as the API's
        model = ReadModel(path)
        while not stop.is_set():
            model.annotation_page("d", "", limit=50)
        model.close()

    readers = [threading.Thread(target=read) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        truncated = projector.bound_wal(limit)
        after = wal.stat().st_size
    finally:
        stop.set()
        for thread in readers:
            thread.join()
        projector.stop()
    assert before > 2_000_000
    assert (truncated, after) == ((True, 0) if limit == 1 << 20 else (False, before))


def _counting_log(projector: Projector) -> list:
    """Replace the projector's log by one that counts its reads (and still serves them)."""
    reads: list = []
    real_log = projector.log
    projector.log = type("CountingLog", (), {"read_facts": lambda self, *a, **k: (
        reads.append(a), real_log.read_facts(*a, **k))[1]})()
    return reads


def _same_as_a_rebuild(log: EventLog, tmp_path: Path) -> bool:
    replay(log, tmp_path / "rebuilt.sqlite")
    return dump_tables(connect(tmp_path / "read.sqlite")) == dump_tables(
        connect(tmp_path / "rebuilt.sqlite"))


def test_a_commit_is_applied_on_the_writers_thread_before_the_write_is_answered(
        log, tmp_path):
    projector = Projector(log, tmp_path / "read.sqlite")  # its own thread never started
    projector.catch_up()
    reads = _counting_log(projector)
    threads = []
    apply = projector.writer.apply
    projector.writer.apply = lambda batch: (  # type: ignore[method-assign]
        threads.append(__import__("threading").current_thread().name), apply(batch))[1]
    writer = Writer(log, on_commit=projector.apply_committed)
    writer.start()
    [outcome] = writer.execute([CreateAnnotation("d", "", "new", {"pageIndex": 0}, None, "u")])
    assert projector.position == outcome.revision == log.max_revision()  # when answered
    assert "new" in ReadModel(tmp_path / "read.sqlite").live_annotation_ids("d", "")
    writer.stop()
    assert threads == ["annolog-writer"] and reads == []
    assert _same_as_a_rebuild(log, tmp_path)
    projector.stop()


def test_a_commit_made_while_the_projector_applies_is_left_to_its_thread(log, tmp_path):
    projector = Projector(log, tmp_path / "read.sqlite")
    projector.catch_up()
    writer = Writer(log, on_commit=projector.apply_committed)
    writer.start()
    with projector._applying:  # the projector's thread, busy with a batch
        writer.execute([CreateAnnotation("d", "", "new", {"pageIndex": 0}, None, "u")])
        assert projector.position < log.max_revision()  # the writer did not wait for it
    writer.stop()
    assert projector._wake.is_set()
    reads = _counting_log(projector)
    assert projector._follow() == log.max_revision()
    assert reads == []  # handed over, not read back
    assert _same_as_a_rebuild(log, tmp_path)
    projector.stop()


def test_another_processs_commits_are_read_by_the_projectors_thread_not_the_writers(
        log, tmp_path):
    projector = Projector(log, tmp_path / "read.sqlite")
    projector.catch_up()
    other = Writer(log)  # another process: this projector hears nothing of its commits
    other.start()
    other.execute([CreateAnnotation("d", "", "theirs", {"pageIndex": 0}, None, "o")])
    other.stop()
    reads = _counting_log(projector)
    writer = Writer(log, on_commit=projector.apply_committed)
    writer.start()
    writer.execute([CreateAnnotation("d", "", "ours", {"pageIndex": 0}, None, "u")])
    writer.stop()
    assert reads == [] and projector._wake.is_set()  # a gap: left to the thread
    assert projector._follow() == log.max_revision() and len(reads) >= 1
    assert {"theirs", "ours"} <= set(
        ReadModel(tmp_path / "read.sqlite").live_annotation_ids("d", ""))
    assert _same_as_a_rebuild(log, tmp_path)
    projector.stop()


def test_a_failure_applying_on_the_writers_thread_fails_no_write(log, tmp_path):
    projector = Projector(log, tmp_path / "read.sqlite")
    projector.catch_up()
    apply = projector.writer.apply

    def failing(batch):
        projector.writer.apply = apply  # type: ignore[method-assign]
        raise OSError("disk I/O error")

    projector.writer.apply = failing  # type: ignore[method-assign]
    writer = Writer(log, on_commit=projector.apply_committed)
    writer.start()
    [outcome] = writer.execute([CreateAnnotation("d", "", "new", {"pageIndex": 0}, None, "u")])
    writer.stop()
    assert outcome.revision == log.max_revision() > projector.position  # stored, answered
    assert projector._wake.is_set()
    assert projector._follow() == log.max_revision()  # the thread reads it from the log
    assert _same_as_a_rebuild(log, tmp_path)
    projector.stop()
