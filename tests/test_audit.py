"""The audit and replay verbs on a real data directory."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from eventstore.commands import (
    CreateAnnotation,
    DeleteAnnotation,
    DeleteLayer,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.log import open_log
from eventstore.sqlite_store import DataDirLock
from eventstore.writer import Writer
from projections.projector import Projector
from projections.queries import dump_tables
from projections.schema import connect
from tests.conftest import note
from tools.cli import main


def logged(data: Path, *writes: list[Any], projected: bool = True) -> Path:
    """A data directory whose log holds these writes (each all or nothing), followed by
    its read model unless ``projected`` is False (writes a stopped server never projected)."""
    log = open_log(data)
    projector = Projector(log, data / "readmodel.sqlite") if projected else None
    writer = Writer(log, on_commit=projector.offer if projector else None)
    writer.start()
    for commands in writes:
        writer.execute(commands, atomic=True)
    writer.stop()
    if projector is not None:
        projector.catch_up()
        projector.stop()
    log.close()
    return data


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return logged(
        tmp_path / "data",
        [UploadDocument("d", "T", "00", 1, False, [{"width": 1, "height": 1}])],
        [CreateAnnotation("d", "", "a", note(text="one"), None, "alice")],
        [CreateAnnotation("d", "L", "b", note(), "g", "bob")],
        [UpdateAnnotation("d", "", "a", note(text="two"), "carol")],
        [DeleteAnnotation("d", "", "a")])


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_verify_finds_no_drift_then_names_a_tampered_row(data, capsys):
    code, out, _ = run(capsys, "verify", "--data-dir", str(data))
    assert code == 0 and "no drift" in out
    with sqlite3.connect(data / "readmodel.sqlite") as db:
        db.execute("UPDATE annotations SET group_name = 'tampered' WHERE id = 'b'")
    code, out, _ = run(capsys, "verify", "--data-dir", str(data))
    assert code == 1
    assert "DRIFT: 1 rows" in out and "('d', 'L', 'b')" in out and "tampered" in out


def test_rebuild_replays_the_whole_log(data, capsys):
    before = dump_tables(connect(data / "readmodel.sqlite"))
    (data / "readmodel.sqlite").unlink()
    code, out, _ = run(capsys, "rebuild", "--data-dir", str(data))
    assert code == 0 and "revision 6" in out
    assert dump_tables(connect(data / "readmodel.sqlite")) == before


def test_writing_verbs_refuse_while_a_server_holds_the_directory(data, capsys):
    lock = DataDirLock(data)
    try:
        code, _, err = run(capsys, "rebuild", "--data-dir", str(data))
        assert code == 1 and "already served" in err
        code, _, err = run(capsys, "snapshot", "--data-dir", str(data), "d", "L", "copy")
        assert code == 1 and "already served" in err
        code, _, _ = run(capsys, "verify", "--data-dir", str(data))
        assert code == 0
    finally:
        lock.release()


def test_events_are_ndjson_filtered_by_document_layer_and_revision(data, capsys):
    code, out, _ = run(capsys, "events", "--data-dir", str(data))
    events = [orjson.loads(line) for line in out.splitlines()]
    assert [e["revision"] for e in events] == list(range(1, 7))
    assert events[0]["type"] == "Document.Uploaded"
    _, out, _ = run(capsys, "events", "--data-dir", str(data), "--layer", "L")
    assert [orjson.loads(line)["type"] for line in out.splitlines()] == [
        "Layer.Created", "Annotation.Created"]
    _, out, _ = run(capsys, "events", "--data-dir", str(data), "--after", "4", "--upto", "5")
    assert [orjson.loads(line)["revision"] for line in out.splitlines()] == [5]


def test_history_reads_every_version_from_the_log(data, capsys):
    code, out, _ = run(capsys, "history", "--data-dir", str(data), "d", "a")
    versions = [orjson.loads(line) for line in out.splitlines()]
    assert [(v["kind"], v["revision"]) for v in versions] == [
        ("created", 2), ("updated", 5), ("deleted", 6)]
    code, _, err = run(capsys, "history", "--data-dir", str(data), "nope", "a")
    assert code == 1 and "not in the log" in err


def test_export_at_a_revision(data, capsys, tmp_path):
    code, out, _ = run(capsys, "export", "--data-dir", str(data), "d", "--revision", "2")
    assert [a["text"]["value"] for a in orjson.loads(out)["annotations"]] == ["one"]
    target = tmp_path / "now.json"
    code, _, _ = run(capsys, "export", "--data-dir", str(data), "d", "--layer", "L",
                     "--output", str(target))
    assert [a["id"] for a in orjson.loads(target.read_bytes())["annotations"]] == ["b"]
    code, _, err = run(capsys, "export", "--data-dir", str(data), "d", "--revision", "1",
                       "--at", "2020-01-01")
    assert code == 1 and "not both" in err


def test_snapshot_copies_a_layer_as_it_was(data, capsys):
    code, out, _ = run(capsys, "snapshot", "--data-dir", str(data), "d", "", "old",
                       "--revision", "2")
    assert code == 0 and "layer 'old' created" in out
    _, out, _ = run(capsys, "export", "--data-dir", str(data), "d", "--layer", "old")
    assert [a["text"]["value"] for a in orjson.loads(out)["annotations"]] == ["one"]
    code, _, err = run(capsys, "snapshot", "--data-dir", str(data), "d", "", "old")
    assert code == 1 and "already exists" in err
    code, out, _ = run(capsys, "verify", "--data-dir", str(data))
    assert code == 0


def test_migrate_copies_the_log_to_postgresql_keeping_revisions(data, capsys):
    from eventstore.log import open_log as open_any_log
    from tests.conftest import postgres_schema
    with postgres_schema() as url:
        code, out, _ = run(capsys, "migrate", "--data-dir", str(data), url)
        assert code == 0 and "revision 6" in out
        source, target = open_log(data), open_any_log(data, url)
        assert [(e.revision, e.event) for e in source.read_all()] == [
            (e.revision, e.event) for e in target.read_all()]
        source.close()
        target.close()
        code, _, err = run(capsys, "migrate", "--data-dir", str(data), url)
        assert code == 1 and "not empty" in err


def test_lint_lists_stored_records_that_break_the_current_rules(tmp_path, capsys):
    data = tmp_path / "data"
    log = open_log(data)
    projector = Projector(log, data / "readmodel.sqlite")
    writer = Writer(log, on_commit=projector.offer)
    writer.start()
    link = {**note(), "type": "pspdfkit/link", "action": {"type": "uri"}}
    writer.execute([UploadDocument("d", None, "00", 1, False, [{"width": 1, "height": 1}])])
    writer.execute([CreateAnnotation("d", "", "good", note(), None, None),
                    CreateAnnotation("d", "", "link", link, None, None),
                    CreateAnnotation("d", "", "k\0x", note(), None, None),
                    CreateAnnotation("d", "a/b", "far", note(page=3), None, None)])
    projector.catch_up()
    code, out, err = run(capsys, "lint", "--data-dir", str(data))
    assert code == 1 and "4 stored records" in err
    assert out.splitlines() == [
        "document 'd', the default layer, annotation 'link': 'action' of type 'uri' needs "
        "'uri': the address to open, a string",
        "document 'd', the default layer, annotation 'k\\x00x': its id: it holds a control "
        "character ('\\x00', U+0000) at position 1; delete it and create it again under "
        "another id",
        "document 'd', layer 'a/b', layer: its name: it holds a path separator ('/', "
        "U+002F) at position 1",
        "document 'd', layer 'a/b', annotation 'far': 'pageIndex' 3 is outside the document, "
        "which has 1 page"]
    code, out, _ = run(capsys, "lint", "--data-dir", str(data), "--json")
    findings = [orjson.loads(line) for line in out.splitlines()]
    assert {f["record"] for f in findings} == {"annotation 'link'", "annotation 'k\\x00x'",
                                               "layer", "annotation 'far'"}
    writer.execute([UpdateAnnotation("d", "", "link", note(), None),
                    DeleteAnnotation("d", "", "k\0x"), DeleteAnnotation("d", "a/b", "far")])
    writer.execute([DeleteLayer("d", "a/b")])
    writer.stop()
    projector.catch_up()
    projector.stop()
    code, out, err = run(capsys, "lint", "--data-dir", str(data))
    assert code == 0 and out == "" and "no stored record" in err


def test_verify_sees_drift_the_bulk_rebuild_would_share(data, capsys, monkeypatch):
    """Regression (issue 12): verify replayed by the same SQL path that built the live
    model, so a bug of that path (text cut at NUL) showed no drift."""
    from projections import rebuild

    buggy = rebuild.INSERT_ANNOTATIONS.replace("c.kind = 'deleted'", "0")
    assert buggy != rebuild.INSERT_ANNOTATIONS
    monkeypatch.setattr(rebuild, "INSERT_ANNOTATIONS", buggy)  # deletions forgotten
    code, _, _ = run(capsys, "rebuild", "--data-dir", str(data))
    assert code == 0
    code, out, _ = run(capsys, "verify", "--data-dir", str(data))
    assert code == 1 and "('d', '', 'a')" in out


def test_a_copy_s_provenance_survives_verify_and_rebuild(tmp_path, capsys):
    from eventstore.commands import CopyAnnotation, Provenance

    data = logged(tmp_path / "data",
                  [UploadDocument("d", "T", "00", 1, False, None)],
                  [CreateAnnotation("d", "", "a", note(), None, "alice")],
                  [UploadDocument("c", "T", "00", 1, False, None,
                                  copied_from=Provenance("d", "i", 2)),
                   CopyAnnotation("c", "", "a", note(), None, "alice", "alice")])
    code, out, _ = run(capsys, "verify", "--data-dir", str(data))
    assert code == 0 and "no drift" in out
    assert run(capsys, "rebuild", "--data-dir", str(data))[0] == 0
    with sqlite3.connect(data / "readmodel.sqlite") as db:
        (provenance,) = db.execute("SELECT copied_from FROM documents WHERE document_id = 'c'"
                                   ).fetchone()
    assert orjson.loads(provenance) == {"document_id": "d", "instance": "i", "revision": 2}


def test_verbs_tell_scripts_their_outcome_as_json(data, capsys):
    code, out, _ = run(capsys, "verify", "--data-dir", str(data), "--json")
    assert code == 0 and orjson.loads(out) == {"revision": 6, "drift": 0, "rows": []}
    with sqlite3.connect(data / "readmodel.sqlite") as db:
        db.execute("UPDATE annotations SET group_name = 'tampered' WHERE id = 'b'")
    code, out, _ = run(capsys, "verify", "--data-dir", str(data), "--json")
    summary = orjson.loads(out)
    assert code == 1 and summary["drift"] == 1
    assert summary["rows"][0]["table"] == "annotations"
    assert summary["rows"][0]["key"] == ["d", "L", "b"]
    code, out, _ = run(capsys, "rebuild", "--data-dir", str(data), "--json")
    assert code == 0 and orjson.loads(out)["revision"] == 6
    code, out, _ = run(capsys, "snapshot", "--data-dir", str(data), "d", "L", "copy", "--json")
    assert code == 0 and orjson.loads(out) == {"document": "d", "layer": "copy",
                                               "revision": 8}
    code, out, _ = run(capsys, "gc-attachments", "--data-dir", str(data), "--json",
                       "--min-age", "0")
    summary = orjson.loads(out)
    assert code == 0 and summary["removed"] is False and summary["blobs"] == len(
        summary["orphans"])


def test_export_and_history_read_only_the_documents_own_events(tmp_path, capsys,
                                                               monkeypatch):
    """A log of a small document beside a large one: export and history of the small one
    read its events alone (counted as the log hands them out), whatever the large one holds;
    an export equals the server's view either way."""
    from eventstore.log import EventLog

    data = logged(tmp_path / "data",
                  [UploadDocument("big", "B", "00", 1, False, None)],
                  [CreateAnnotation("big", "", f"b{i}", note(), None, None)
                   for i in range(500)],
                  [UploadDocument("small", "S", "00", 1, False, None)],
                  [CreateAnnotation("small", "", "s1", note(text="one"), None, "ann")],
                  [UpdateAnnotation("small", "", "s1", note(text="two"), "bob")])
    # Written after the read model stopped following: only the log's tail knows it.
    logged(data, [CreateAnnotation("small", "L", "late", note(), None, None)],
           projected=False)

    handed: list[str] = []
    for name in ("read", "stream"):
        original = getattr(EventLog, name)

        def counting(self, *args, _original=original, **kwargs):
            events = _original(self, *args, **kwargs)
            handed.extend(getattr(e.event, "document_id", "") for e in events)
            return events
        monkeypatch.setattr(EventLog, name, counting)

    code, out, _ = run(capsys, "export", "--data-dir", str(data), "small")
    assert code == 0
    assert [a["text"]["value"] for a in orjson.loads(out)["annotations"]] == ["two"]
    code, out, _ = run(capsys, "export", "--data-dir", str(data), "small", "--layer", "L")
    assert [a["id"] for a in orjson.loads(out)["annotations"]] == ["late"]
    code, out, _ = run(capsys, "history", "--data-dir", str(data), "small", "s1")
    assert [orjson.loads(line)["user_id"] for line in out.splitlines()] == ["ann", "bob"]
    assert "big" not in handed and handed.count("small") >= 4
