"""The replay done by SQLite itself gives exactly the rows the Python projection gives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from eventstore.commands import (
    CopyAnnotation,
    CreateAnnotation,
    CreateComment,
    CreateLayer,
    DeleteAnnotation,
    DeleteDocument,
    DeleteLayer,
    NewAttachment,
    PutComment,
    RevokeToken,
    SetSections,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.log import EventLog, open_log
from eventstore.writer import Writer
from projections import rebuild
from projections.rebuild import replay
from projections.schema import connect
from tests.legacy import append_legacy_comments

PAGES = [{"width": 10, "height": 10}] * 3


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    """Every kind of event, with documents replaced and deleted along the way."""
    log = open_log(tmp_path / "log")
    steps = [
        [UploadDocument("d", "T", "00", 1, False, PAGES)],
        [CreateAnnotation("d", "", f"a{i}", {"pageIndex": i % 3, "n": i / 3}, "g", "u")
         for i in range(6)],
        [UpdateAnnotation("d", "", "a1", {"pageIndex": 2, "text": "é\n\"q\""}, "w")],
        [DeleteAnnotation("d", "", "a2", "w")],
        [CreateAnnotation("d", "", "a2", {"pageIndex": 0}, None, None)],  # recreated
        [UpdateAnnotation("d", "", "a2", {"pageIndex": 1}, "x", group=None, keep_group=False)],
        [CreateLayer("d", "L")],
        [CopyAnnotation("d", "L", "a0", {"pageIndex": 0}, "g", "u", "w")],
        [CreateAnnotation("d", "L", "p", {"pageIndex": 1, "imageAttachmentId": "ab" * 32},
                          None, "v", references=("ab" * 32,),
                          attachments=(NewAttachment("ab" * 32, "image/png", 3),))],
        [SetSections("d", "L", {"bookmarks": [{"id": "b", "action": {"type": "goTo"}}]})],
        [SetSections("d", "L", {}, replace=True), DeleteLayer("d", "L")],
        [CreateLayer("d", "L")],
        [RevokeToken("jti-1", 2_000_000_000)],
        [UploadDocument("r", None, "00", 1, False, PAGES)],
        [CreateAnnotation("r", "", "old", {"pageIndex": 0}, None, "u")],
        [SetSections("r", "", {"formFieldValues": [{"name": "n", "value": "old"}]})],
        [UploadDocument("r", "again", "11", 2, False, PAGES, overwrite=True)],
        [CreateAnnotation("r", "", "new", {"type": "pspdfkit/comment-marker", "pageIndex": 0},
                          None, "u")],  # a marker: it holds the thread below
        LEGACY,  # comments as 0.8 kept them, then moved into streams by the next write
        [PutComment("r", "", "c", {"rootId": "new", "x": 1}, None, "u")],
        [CreateComment("r", "", "c2", {"rootId": "new"}, "g", "v")],
        [DeleteAnnotation("r", "", "new", "w")],  # its thread goes with it
        [UploadDocument("gone", None, "00", 1, False, PAGES)],
        [CreateAnnotation("gone", "", "z", {"pageIndex": 0}, None, None)],
        [DeleteDocument("gone")],
        [UpdateAnnotation("d", "", "a3", {"pageIndex": 0, "v": [1, 2.5, None]}, None)],
    ]
    writer = Writer(log)
    writer.start()
    for commands in steps:
        if commands is LEGACY:
            writer.stop()  # it caches heads: appending behind its back would confuse it
            append_legacy_comments(log, "r", "", [{"id": "c", "rootId": "new"},
                                                  {"id": "o", "rootId": "gone"}])
            writer = Writer(log)
            writer.start()
        else:
            writer.execute(commands)
    writer.stop()
    return log


LEGACY: list = []


def python_replay(log: EventLog, path: Path, upto: int | None = None) -> int:
    no_sqlite_source = type(log)  # the Python path is the one PostgreSQL logs take
    original = no_sqlite_source.sqlite_source
    no_sqlite_source.sqlite_source = lambda self: None
    try:
        return replay(log, path, upto)
    finally:
        no_sqlite_source.sqlite_source = original


def tables(path: Path) -> dict[str, list[tuple]]:
    conn = connect(path).conn
    names = [row[0] for row in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {name: conn.execute(f"SELECT * FROM {name} ORDER BY 1, 2").fetchall()
            for name in names}


def indexes(path: Path) -> list[tuple]:
    return connect(path).conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name").fetchall()


def test_the_sql_replay_gives_the_rows_of_the_python_replay(log, tmp_path):
    assert python_replay(log, tmp_path / "python.sqlite") == log.max_revision()
    assert replay(log, tmp_path / "sql.sqlite") == log.max_revision()
    expected = tables(tmp_path / "python.sqlite")
    assert expected["annotations"] and expected["changes"] and expected["documents"]
    assert len(expected["sections"]) == 4  # two on "L"; "r"'s legacy comments, moved out
    assert len(expected["comments"]) == 3  # c, c2 and the orphan o, moved into streams
    assert [row[5] for row in expected["comment_changes"]] == [  # their kinds
        "created", "created", "updated", "created", "deleted", "deleted"]
    assert tables(tmp_path / "sql.sqlite") == expected
    assert indexes(tmp_path / "sql.sqlite") == indexes(tmp_path / "python.sqlite")


@pytest.mark.parametrize("upto", [1, 5, 9, 12, 14, 19, 22, 26, 29, 33])
def test_the_sql_replay_stops_at_the_same_revision(log, tmp_path, upto):
    python_replay(log, tmp_path / "python.sqlite", upto)
    assert replay(log, tmp_path / "sql.sqlite", upto) == upto
    assert tables(tmp_path / "sql.sqlite") == tables(tmp_path / "python.sqlite")


def test_a_long_log_is_decoded_by_two_processes_with_the_same_result(log, tmp_path,
                                                                     monkeypatch):
    monkeypatch.setattr(rebuild, "PARALLEL_FROM", 2)
    monkeypatch.setattr(rebuild, "CHUNK", 3)
    python_replay(log, tmp_path / "python.sqlite")
    replay(log, tmp_path / "sql.sqlite")
    assert tables(tmp_path / "sql.sqlite") == tables(tmp_path / "python.sqlite")
    assert not Path(f"{tmp_path / 'sql.sqlite'}.part").exists()


def test_timestamps_with_another_offset_are_written_in_utc(log, tmp_path):
    events = log.sqlite_source()[0]
    conn = sqlite3.connect(events)
    # A log written elsewhere could hold local times; both replays must agree on them.
    conn.execute("UPDATE stored_events SET state = CAST(replace(CAST(state AS TEXT), "
                 "'+00:00\"', '+02:00\"') AS BLOB) WHERE rowid IN (2, 4)")
    conn.commit()
    conn.close()
    python_replay(log, tmp_path / "python.sqlite")
    replay(log, tmp_path / "sql.sqlite")
    assert tables(tmp_path / "sql.sqlite") == tables(tmp_path / "python.sqlite")


def test_a_failing_decoding_process_fails_the_replay_and_leaves_no_scratch_file(
        log, tmp_path, monkeypatch):
    monkeypatch.setattr(rebuild, "PARALLEL_FROM", 2)
    monkeypatch.setattr(rebuild, "DECODE_SCRIPT", "raise SystemExit('disk full')")
    with pytest.raises(RuntimeError, match="disk full"):
        replay(log, tmp_path / "sql.sqlite")
    assert not Path(f"{tmp_path / 'sql.sqlite'}.part").exists()
    assert connect(tmp_path / "sql.sqlite").execute(
        "SELECT COUNT(*) FROM changes").fetchone()[0] == 0


def test_strings_holding_nul_replay_exactly(tmp_path):
    """Regression: SQLite's JSON functions cut text at U+0000, so the SQL replay merged
    ``k``, ``k\\0one`` and ``k\\0two`` into one record and moved layer ``L\\0evil`` to ``L``."""
    log = open_log(tmp_path / "log")
    writer = Writer(log)
    writer.start()
    writer.execute([UploadDocument("d", None, "00", 1, False, PAGES)])
    writer.execute([CreateAnnotation("d", "", i, {"pageIndex": 0, "t": i}, "g\0h", "u\0v")
                    for i in ("k", "k\0one", "k\0two")])
    writer.execute([CreateAnnotation("d", "L\0evil", "x", {"pageIndex": 0}, None, None)])
    writer.execute([UpdateAnnotation("d", "", "k\0one", {"pageIndex": 1, "t": "a\0b"}, None)])
    writer.stop()
    python_replay(log, tmp_path / "python.sqlite")
    replay(log, tmp_path / "sql.sqlite")
    expected = tables(tmp_path / "python.sqlite")
    assert {(r[1], r[2]) for r in expected["annotations"]} == {
        ("", "k"), ("", "k\0one"), ("", "k\0two"), ("L\0evil", "x")}
    assert tables(tmp_path / "sql.sqlite") == expected


def test_comments_kept_by_0_8_read_as_records_before_and_after_they_move(log, tmp_path):
    """A layer's comments that 0.8 kept in its sections are records of the thread (no
    creator) until the next comment write moves them into streams, which keeps them."""
    from projections.queries import ReadModel

    path = tmp_path / "model.sqlite"
    replay(log, path)
    model = ReadModel(path)
    legacy = next(revision for revision, _, _, _ in connect(path).conn.execute(
        "SELECT revision, 0, 0, 0 FROM sections WHERE document_id = 'r' ORDER BY revision"))
    then = model.comment_state("r", "", legacy)
    assert [(c["id"], c["createdBy"]) for c in then] == [("c", None), ("o", None)]
    assert model.sections("r", "", legacy)["comments"][0] == {"id": "c", "rootId": "new"}
    [(c2,)] = connect(path).conn.execute(
        "SELECT revision FROM comment_changes WHERE comment_id = 'c2'").fetchall()[:1]
    moved = model.comment_state("r", "", c2)  # c moved and updated, c2 created; o kept
    assert [(c["id"], c["content"].get("x")) for c in moved] == [
        ("c", 1), ("o", None), ("c2", None)]
    assert model.comment_state("r", "") == [moved[1]]  # the root's deletion took its thread
