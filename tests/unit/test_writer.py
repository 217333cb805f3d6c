"""The writer's decisions and group commit, on a real temp-dir event log."""

from __future__ import annotations

import gc
import sqlite3
import threading
import weakref
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError

from eventstore.commands import (
    Accepted,
    CreateAnnotation,
    DeleteAnnotation,
    DeleteDocument,
    NewAttachment,
    Rejected,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.domain import Annotation, Attachment, Document, Layer
from eventstore.errors import (
    AnnotationExistsError,
    AnnotationNotFoundError,
    AttachmentNotFoundError,
    DataDirLockedError,
    DocumentExistsError,
    DocumentNotFoundError,
    LogUnavailableError,
    UnstorableError,
)
from eventstore.log import EventLog, open_log
from eventstore.sqlite_store import DataDirLock
from eventstore.writer import Writer


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    return open_log(tmp_path)


@pytest.fixture
def writer(log: EventLog):
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", "T", "00", 1, False, [{"width": 1, "height": 1}])])
    yield writer
    writer.stop()


def create(annotation_id: str, layer: str = "", user: str | None = None) -> CreateAnnotation:
    return CreateAnnotation("d", layer, annotation_id, {"n": annotation_id}, None, user)


def kinds(log: EventLog) -> list[str]:
    return [type(e.event).__qualname__ for e in log.read_all()]


def test_every_event_carries_the_whole_record(writer, log):
    writer.execute([create("a", user="alice")])
    writer.execute([UpdateAnnotation("d", "", "a", {"n": 2}, "bob")])
    events = [e.event for e in log.read_all()][1:]
    assert [type(e) for e in events] == [Annotation.Created, Annotation.Updated]
    assert (events[1].created_by, events[1].updated_by, events[1].content) == ("alice", "bob",
                                                                               {"n": 2})


def test_a_failing_command_never_fails_its_neighbours(writer):
    outcomes = writer.execute([create("a"), create("a"), create("b"),
                               UpdateAnnotation("d", "", "zz", {}, None),
                               CreateAnnotation("missing", "", "c", {}, None, None)])
    assert [type(o) for o in outcomes] == [Accepted, Rejected, Accepted, Rejected, Rejected]
    assert isinstance(outcomes[1].error, AnnotationExistsError)
    assert isinstance(outcomes[3].error, AnnotationNotFoundError)
    assert isinstance(outcomes[4].error, DocumentNotFoundError)
    assert outcomes[0].revision < outcomes[2].revision


def test_the_first_write_into_a_named_layer_creates_the_layer_once(writer, log):
    writer.execute([create("a", "L"), create("b", "L")])
    writer.execute([create("c", "L")])
    assert kinds(log).count("Layer.Created") == 1


def test_delete_then_create_again_is_a_recreation(writer, log):
    writer.execute([create("a", user="alice")])
    writer.execute([DeleteAnnotation("d", "", "a")])
    [outcome] = writer.execute([create("a", user="bob")])
    assert outcome.result["createdBy"] == "bob"
    assert kinds(log)[-3:] == ["Annotation.Created", "Annotation.Deleted", "Annotation.Recreated"]


def test_deleting_a_missing_annotation_is_an_error_unless_missing_is_ok(writer):
    [strict] = writer.execute([DeleteAnnotation("d", "", "nope")])
    [lenient] = writer.execute([DeleteAnnotation("d", "", "nope", missing_ok=True)])
    assert isinstance(strict.error, AnnotationNotFoundError)
    assert lenient == Accepted(None, 0)


def test_documents_upload_once_and_a_reupload_after_delete_is_a_new_instance(writer, log):
    [again] = writer.execute([UploadDocument("d", "T", "00", 1, False, None)])
    assert isinstance(again.error, DocumentExistsError)
    writer.execute([create("a")])
    writer.execute([DeleteDocument("d")])
    writer.execute([UploadDocument("d", "T2", "01", 2, False, None)])
    [outcome] = writer.execute([UpdateAnnotation("d", "", "a", {}, None)])
    assert isinstance(outcome.error, AnnotationNotFoundError)
    uploads = [e.event for e in log.read_all() if isinstance(e.event, Document.Stored)]
    assert len({u.instance for u in uploads}) == 2


def test_waiting_requests_share_one_transaction(log):
    writer = Writer(log)
    futures = [writer.submit([UploadDocument(f"d{i}", None, "00", 1, False, None)], "r")
               for i in range(50)]
    writer.start()
    results = [f.result() for f in futures]
    writer.stop()
    assert writer.batches == 1
    revisions = [r[0].revision for r in results]
    assert revisions == list(range(1, 51))


def test_a_failed_append_rejects_the_batch_and_stores_nothing(writer, log, monkeypatch):
    before = log.max_revision()

    def broken(events):
        raise OSError("disk full")

    monkeypatch.setattr(log, "append_encoded", broken)
    future = writer.submit([create("a")], "r")
    with pytest.raises(LogUnavailableError, match="disk full"):
        future.result()
    monkeypatch.undo()
    assert log.max_revision() == before
    [outcome] = writer.execute([create("a")])
    assert isinstance(outcome, Accepted)


def test_concurrent_submitters_get_strictly_increasing_revisions(writer):
    revisions: list[int] = []

    def work(n: int) -> None:
        for i in range(20):
            [o] = writer.execute([create(f"{n}-{i}")])
            revisions.append(o.revision)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(revisions) == sorted(set(revisions))
    assert len(revisions) == 160


def test_the_log_commits_with_synchronous_full(log):
    with log.recorder.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


def test_one_process_per_data_directory(tmp_path):
    lock = DataDirLock(tmp_path)
    with pytest.raises(DataDirLockedError):
        DataDirLock(tmp_path)
    lock.release()
    DataDirLock(tmp_path).release()


def test_layer_created_events_name_the_layer(writer, log):
    writer.execute([create("a", "my layer")])
    layers = [e.event for e in log.read_all() if isinstance(e.event, Layer.Created)]
    assert [(layer.document_id, layer.name) for layer in layers] == [("d", "my layer")]


def test_a_command_whose_events_cannot_be_stored_fails_alone(writer, log):
    # regression: found by the hypothesis state machine; one such item failed its whole batch
    huge = CreateAnnotation("d", "", "huge", {"n": 2 ** 70}, None, None)
    other = writer.submit([create("b")], "r2")
    outcomes = writer.execute([create("a"), huge, create("c")])
    assert [type(o) for o in outcomes] == [Accepted, Rejected, Accepted]
    assert "could not be stored" in str(outcomes[1].error)
    assert isinstance(other.result()[0], Accepted)
    assert [e.event.annotation_id for e in log.read_all()
            if isinstance(e.event, Annotation.Event)] == ["b", "a", "c"]
    [alone] = writer.execute([huge])
    assert isinstance(alone.error, UnstorableError)


def image(annotation_id: str, sha: str, sent: bool) -> CreateAnnotation:
    attachments = (NewAttachment(sha, "image/png", 10),) if sent else ()
    return CreateAnnotation("d", "", annotation_id, {"imageAttachmentId": sha}, None, None,
                            references=(sha,), attachments=attachments)


def test_attachments_are_recorded_once_per_document_and_must_be_sent_or_held(writer, log):
    [missing] = writer.execute([image("a", "f" * 64, sent=False)])
    assert isinstance(missing.error, AttachmentNotFoundError)
    outcomes = writer.execute([image("b", "f" * 64, sent=True), image("c", "f" * 64, sent=True),
                               image("d", "f" * 64, sent=False)])
    assert all(isinstance(o, Accepted) for o in outcomes)
    attached = [e.event for e in log.read_all() if isinstance(e.event, Attachment.Attached)]
    assert [(a.attachment_id, a.content_type, a.byte_size) for a in attached] == [
        ("f" * 64, "image/png", 10)]
    writer.execute([UploadDocument("other", None, "00", 1, False, None)])
    [other] = writer.execute([CreateAnnotation("other", "", "x", {}, None, None,
                                               references=("f" * 64,))])
    assert isinstance(other.error, AttachmentNotFoundError)


@pytest.mark.parametrize("background", [False, True])
def test_with_background_checkpoints_no_commit_checkpoints(tmp_path, background):
    from eventstore.sqlite_store import Checkpointer
    log = open_log(tmp_path, background_checkpoints=background)
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", None, "00", 1, False, None)])
    text = "x" * 2000
    for start in range(0, 3000, 500):  # some 6 MB of WAL: past the 1,000-page mark
        writer.execute([CreateAnnotation("d", "", f"a{i}", {"t": text}, None, None)
                        for i in range(start, start + 500)])
    writer.stop()
    path, _ = log.sqlite_source()
    # SQLite's own checkpoints copy the WAL into the database file only without
    assert (path.stat().st_size < 1_000_000) == background
    connection = sqlite3.connect(path, isolation_level=None)
    Checkpointer.checkpoint([connection])
    assert path.stat().st_size > 5_000_000  # the checkpointer copied everything back
    connection.close()
    log.close()


def lose_acknowledgements(log: EventLog, monkeypatch, times: int = 1) -> list[int]:
    """The recorder commits, then fails as if the answer were lost on the way back."""
    insert, lost = log.recorder.insert_events, []

    def committed_but_unacknowledged(stored_events, **kwargs):
        revisions = insert(stored_events, **kwargs)
        if len(lost) < times:
            lost.extend(revisions)
            raise OperationalError("disk I/O error (injected after COMMIT)")
        return revisions

    monkeypatch.setattr(log.recorder, "insert_events", committed_but_unacknowledged)
    return lost


def test_an_append_whose_acknowledgement_was_lost_is_answered_from_the_log(
        writer, log, monkeypatch):
    """Regression (issue 12): the writer took a committed batch for a failed one and decided
    it again: updates were stored twice and a create was answered 409."""
    writer.execute([create("a")])
    lost = lose_acknowledgements(log, monkeypatch)
    before = len(kinds(log))
    first = writer.submit([UpdateAnnotation("d", "", "a", {"n": 2}, "bob")], "r1")
    second = writer.submit([create("b")], "r2")
    [updated], [created] = first.result(), second.result()
    assert isinstance(updated, Accepted) and isinstance(created, Accepted)
    assert updated.revision in lost and updated.version == 2
    stored = {(type(e.event).__qualname__, e.event.annotation_id): e.revision
              for e in list(log.read_all())[before:]}
    assert stored == {("Annotation.Updated", "a"): updated.revision,
                      ("Annotation.Created", "b"): created.revision}


def test_an_append_whose_outcome_cannot_be_learnt_is_not_decided_again(
        writer, log, monkeypatch):
    lose_acknowledgements(log, monkeypatch)

    def unreachable(stored_events):
        raise OperationalError("unable to open database file")

    monkeypatch.setattr(log.recorder, "revisions_of", unreachable)
    before = len(kinds(log))
    with pytest.raises(LogUnavailableError, match="could not be asked"):
        writer.execute([create("a"), create("b")])
    assert kinds(log)[before:] == ["Annotation.Created", "Annotation.Created"]  # once


def test_whole_revisions_are_the_ends_of_writes(writer, log):
    """Revisions count events; the state at a revision inside a write of several events
    is the state before that write (issue 12)."""
    ends = [log.max_revision()]
    requests = [
        [image("a", "f" * 64, sent=True), create("b", layer="L"), create("c", layer="L")],
        [create("d")],
        [UpdateAnnotation("d", "L", "b", {"n": 2}, None), DeleteAnnotation("d", "", "a")],
    ]
    for number, commands in enumerate(requests):
        outcomes = writer.execute(commands, f"request-{number}")
        ends.append(max(o.revision for o in outcomes))
    assert ends[1] - ends[0] == 5  # attachment, image, layer, two records
    expected = {}
    for previous, end in zip(ends, ends[1:], strict=False):
        expected.update({revision: previous for revision in range(previous, end)})
        expected[end] = end
    assert {r: log.whole_revision(r) for r in expected} == expected


def test_the_head_cache_is_bounded_by_bytes_as_well_as_count(log):
    """Heads hold whole records: a count alone let large drawings hold gigabytes."""
    writer = Writer(log, cache_size=1000)
    writer.cache.max_bytes = 50_000
    writer.start()
    try:
        writer.execute([UploadDocument("d", None, "00", 1, False, None)])
        writer.execute([CreateAnnotation("d", "", f"a{i}", {"t": "x" * 1000}, None, None)
                        for i in range(200)])
        assert writer.cache.bytes <= 50_000
        assert 30 < len(writer.cache._heads) < 60  # about 1 KB each
        [outcome] = writer.execute([UpdateAnnotation("d", "", "a0", {"t": "y"}, None)])
        assert isinstance(outcome, Accepted) and outcome.version == 2  # read from the log
    finally:
        writer.stop()


def test_the_writer_keeps_nothing_of_a_batch_once_it_is_answered(writer):
    """Regression (issue 12, memory): the writer thread held its last batch, every record
    of a large import, until the next write came."""
    commands = [create(f"k{i}") for i in range(3)]
    written = weakref.ref(commands[0])
    writer.execute(commands)
    del commands
    gc.collect()
    assert written() is None
