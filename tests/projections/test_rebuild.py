"""The replay done by SQLite itself gives exactly the rows the Python projection gives."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from eventstore.commands import (
    CopyAnnotation,
    CreateAnnotation,
    CreateLayer,
    DeleteAnnotation,
    DeleteDocument,
    DeleteLayer,
    NewAttachment,
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

PAGES = [{"width": 10, "height": 10}] * 3


@pytest.fixture
def log(tmp_path: Path) -> EventLog:
    """Every kind of event, with documents replaced and deleted along the way."""
    log = open_log(tmp_path / "log")
    writer = Writer(log)
    writer.start()
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
        [CreateAnnotation("r", "", "new", {"pageIndex": 0}, None, "u")],
        [SetSections("r", "", {"comments": [{"id": "c", "rootId": "new"}]})],
        [SetSections("r", "", {"comments": [{"id": "c", "rootId": "new", "x": 1}]})],
        [UploadDocument("gone", None, "00", 1, False, PAGES)],
        [CreateAnnotation("gone", "", "z", {"pageIndex": 0}, None, None)],
        [DeleteDocument("gone")],
        [UpdateAnnotation("d", "", "a3", {"pageIndex": 0, "v": [1, 2.5, None]}, None)],
    ]
    for commands in steps:
        writer.execute(commands)
    writer.stop()
    return log


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
    assert len(expected["sections"]) == 4  # two on "L", and the new instance's of "r"
    assert tables(tmp_path / "sql.sqlite") == expected
    assert indexes(tmp_path / "sql.sqlite") == indexes(tmp_path / "python.sqlite")


@pytest.mark.parametrize("upto", [1, 5, 9, 12, 14, 19, 22])
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
