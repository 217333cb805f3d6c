"""Audit and replay verbs: rebuild, verify, events, history, export, snapshot.

Everything here reads the log itself; the live read model is only compared with it.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from tqdm import tqdm
from ulid import ULID

from eventstore.domain import (
    Annotation,
    Document,
    annotation_stream_id,
    attachment_stream_id,
    comment_stream_id,
    document_stream_id,
    layer_stream_id,
    sections_stream_id,
)
from eventstore.log import EventLog, LoggedEvent, open_log
from eventstore.times import read_model_time, utc, utc_micro_text
from projections.projector import Projector
from projections.queries import ReadModel
from projections.rebuild import replay
from projections.schema import reset

READ_MODEL = "readmodel.sqlite"


class AuditError(Exception):
    """Raised for a verb that cannot run as asked; the message says what to do."""


@contextmanager
def opened_log(data_dir: Path) -> Iterator[EventLog]:
    """The embedded log under ``data_dir``, or the shared one of ANNOLOG_DATABASE_URL."""
    database_url = os.environ.get("ANNOLOG_DATABASE_URL") or None
    if database_url is None and not (data_dir / "events.sqlite").exists():
        raise AuditError(f"no log at {data_dir / 'events.sqlite'}; give --data-dir")
    log = open_log(data_dir, database_url)
    try:
        yield log
    finally:
        log.close()


def replay_with_progress(log: EventLog, path: Path, upto: int | None = None, *,
                         by_sql: bool = True) -> tuple[int, float]:
    """Replay the log into a fresh read model at ``path``; returns (revision, events/s)."""
    total = upto if upto is not None else log.max_revision()
    started = time.perf_counter()
    with tqdm(total=total, unit="ev", unit_scale=True, file=sys.stderr,
              disable=not sys.stderr.isatty() or total < 10_000) as bar:
        position = replay(log, path, upto, progress=lambda p: bar.update(p - bar.n),
                          by_sql=by_sql)
    elapsed = time.perf_counter() - started
    return position, (position / elapsed if elapsed else 0.0)


def rebuild(data_dir: Path) -> tuple[int, float]:
    """Drop the read model and replay the whole log (the server must be stopped)."""
    with opened_log(data_dir) as log:
        path = data_dir / READ_MODEL
        scratch = data_dir / (READ_MODEL + ".rebuild")
        reset(scratch)
        position, rate = replay_with_progress(log, scratch)
        reset(path)
        scratch.rename(path)
        return position, rate


@dataclass(frozen=True)
class Drift:
    table: str
    key: tuple
    live: dict[str, Any] | None
    replayed: dict[str, Any] | None


KEYS = {"documents": ("document_id",), "layers": ("document_id", "name"),
        "annotations": ("document_id", "layer", "id"),
        "attachments": ("document_id", "attachment_id"), "changes": ("revision",),
        "sections": ("document_id", "layer", "revision"),
        "comments": ("document_id", "layer", "id"), "comment_changes": ("revision",),
        "revoked": ("jti",)}


@dataclass(frozen=True)
class Verified:
    position: int
    count: int  # rows that differ, in all
    drifts: list[Drift]  # the first of them, up to the limit asked for


def verify(data_dir: Path, limit: int = 20) -> Verified:
    """Replay into a scratch model up to the live model's position and compare every row.
    Safe beside a running server: the live model is read from a consistent backup."""
    live_path = data_dir / READ_MODEL
    if not live_path.exists():
        raise AuditError(f"no read model at {live_path}; start the server or run rebuild")
    with opened_log(data_dir) as log, tempfile.TemporaryDirectory() as scratch:
        snapshot = Path(scratch) / "live.sqlite"
        source = sqlite3.connect(f"file:{live_path}?mode=ro", uri=True)
        target = sqlite3.connect(snapshot)
        source.backup(target)
        source.close()
        target.close()
        position = ReadModel(snapshot).position()
        replayed_path = Path(scratch) / "replayed.sqlite"
        # The live model's first build was done by SQL: check it against Python's projection
        # (when both came from one path, a bug of that path was invisible: issue 12).
        replay_with_progress(log, replayed_path, upto=position, by_sql=False)
        db = sqlite3.connect(snapshot)
        try:
            db.execute("PRAGMA temp_store = FILE")  # the comparison's b-trees, not memory
            db.execute("ATTACH DATABASE ? AS replayed", [str(replayed_path)])
            count, drifts = compare(db, limit)
        finally:
            db.close()
        return Verified(position, count, drifts)


def compare(db: sqlite3.Connection, limit: int) -> tuple[int, list[Drift]]:
    """The rows of the live model (``main``) and the replay (``replayed``) that differ,
    found by SQLite (EXCEPT both ways, table by table), so memory stays flat whatever the
    size of the models: (how many, the first ``limit`` of them with both sides)."""
    count, drifts = 0, list[Drift]()
    for table, key in KEYS.items():
        columns = ", ".join(r[1] for r in db.execute(f"PRAGMA main.table_info({table})"))
        keys = ", ".join(key)
        differing = (f"SELECT {keys} FROM (SELECT {columns} FROM main.{table} EXCEPT "
                     f"SELECT {columns} FROM replayed.{table}) UNION "
                     f"SELECT {keys} FROM (SELECT {columns} FROM replayed.{table} EXCEPT "
                     f"SELECT {columns} FROM main.{table})")
        count += db.execute(f"SELECT count(*) FROM ({differing})").fetchone()[0]
        for row_key in db.execute(f"{differing} ORDER BY {keys} LIMIT ?",
                                  [max(0, limit - len(drifts))]).fetchall():
            drifts.append(Drift(table, tuple(row_key), _row(db, "main", table, key, row_key),
                                _row(db, "replayed", table, key, row_key)))
    return count, drifts


def _row(db: sqlite3.Connection, schema: str, table: str, key: tuple[str, ...],
         values: tuple) -> dict[str, Any] | None:
    where = " AND ".join(f"{k} IS ?" for k in key)
    cursor = db.execute(f"SELECT * FROM {schema}.{table} WHERE {where}", list(values))
    row = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], row, strict=True)) if row else None


def event_json(logged: LoggedEvent) -> dict[str, Any]:
    event = logged.event
    fields = {k: v for k, v in vars(event).items()
              if k not in ("originator_id", "originator_version", "timestamp",
                           "originator_topic")}
    return {"revision": logged.revision, "type": type(event).__qualname__,
            "stream": event.originator_id.hex, "version": event.originator_version,
            "at": read_model_time(event.timestamp), **fields}


def events(data_dir: Path, *, document: str | None, layer: str | None, after: int,
           upto: int | None) -> Iterator[bytes]:
    """The log as NDJSON lines, filtered by document, layer and revision range."""
    with opened_log(data_dir) as log:
        for logged in log.read_all(after=after, upto=upto):
            event = logged.event
            if document is not None and getattr(event, "document_id", None) != document:
                continue
            if layer is not None and getattr(event, "layer", getattr(event, "name", None)) \
                    != layer:
                continue
            yield orjson.dumps(event_json(logged)) + b"\n"


def history(data_dir: Path, document: str, annotation_id: str, layer: str
            ) -> list[dict[str, Any]]:
    """Every version of an annotation straight from the log, across re-uploads too."""
    with opened_log(data_dir) as log:
        instances = dict.fromkeys(  # the document's own stream, not a scan of the log
            logged.event.instance for logged in log.stream(document_stream_id(document))
            if isinstance(logged.event, Document.Uploaded | Document.Reuploaded))
        if not instances:
            raise AuditError(f"document {document!r} is not in the log")
        versions = []
        for instance in instances:
            for logged in log.stream(annotation_stream_id(instance, layer, annotation_id)):
                event = logged.event
                assert isinstance(event, Annotation.Event)
                versions.append({
                    "revision": logged.revision, "instance": instance,
                    "at": read_model_time(event.timestamp),
                    "kind": type(event).__name__.lower(), "version": event.originator_version,
                    "user_id": event.updated_by, "content": event.content,
                    "group": event.group})
        if not versions:
            raise AuditError(f"annotation {annotation_id!r} has no history in "
                             f"{'the default layer' if not layer else f'layer {layer!r}'} of "
                             f"document {document!r}")
        return versions


def revision_of(read_model: ReadModel, revision: int | None, at: str | None) -> int | None:
    if revision is not None and at is not None:
        raise AuditError("give either --revision or --at, not both")
    if at is None:
        return revision
    try:
        return read_model.revision_at(utc_micro_text(utc(at)))
    except ValueError as error:
        raise AuditError(f"--at must be an ISO 8601 time: {error}") from None


def whole(log: EventLog, revision: int | None) -> int | None:
    """A revision inside a write of many events shows the state before that write; one
    beyond the log is refused, as the HTTP routes refuse it."""
    if revision is None:
        return None
    current = log.max_revision()
    if revision > current:
        raise AuditError(f"revision {revision} is beyond the log's current revision {current}")
    return log.whole_revision(revision)


def existing_layer(read_model: ReadModel, document: str, layer: str) -> None:
    if not read_model.layer_exists(document, layer):
        raise AuditError(f"layer {layer!r} does not exist in document {document!r}")


def document_events(log: EventLog, data_dir: Path, document: str) -> list[LoggedEvent]:
    """Every event of one document, read stream by stream from the log (never the other
    documents' events). The live read model says which streams the document has; the log's
    tail beyond its position is read too, so a stopped server's last writes count."""
    streams: set[Any] = {document_stream_id(document)}
    path = data_dir / READ_MODEL
    position = 0
    if path.exists():
        live = ReadModel(path)
        try:
            position = live.position()
            known = live.document_streams(document)
        finally:
            live.close()
        if known is not None:
            streams |= {layer_stream_id(known.instance, name) for name in known.layers}
            streams |= {sections_stream_id(known.instance, name) for name in known.layers}
            streams |= {annotation_stream_id(known.instance, layer, annotation_id)
                        for layer, annotation_id in known.records}
            streams |= {attachment_stream_id(known.instance, a) for a in known.attachments}
            streams |= {comment_stream_id(known.instance, layer, comment_id)
                        for layer, comment_id in known.comments}
    for logged in log.read_all(after=position):  # the tail the read model has not seen
        if getattr(logged.event, "document_id", None) == document:
            streams.add(logged.event.originator_id)
    events = {logged.revision: logged for stream in streams for logged in log.stream(stream)}
    return [events[revision] for revision in sorted(events)]


def export(data_dir: Path, blobs: Path, document: str, layer: str, revision: int | None,
           at: str | None) -> dict[str, Any]:
    """Instant JSON of a layer at a revision or time, from a fresh replay of that document's
    events alone."""
    from eventstore.blobs import BlobStore
    from projections.read_model_writer import ReadModelWriter
    from projections.replays import instant_json_of
    from projections.schema import open_read_model

    with opened_log(data_dir) as log, tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "replayed.sqlite"
        db = open_read_model(path)
        try:
            ReadModelWriter(db).apply(document_events(log, data_dir, document))
        finally:
            db.conn.close()
        read_model = ReadModel(path)
        if read_model.document(document) is None:
            raise AuditError(f"document {document!r} does not exist")
        existing_layer(read_model, document, layer)
        upto = whole(log, revision_of(read_model, revision, at))
        return instant_json_of(read_model, BlobStore(blobs), document, layer, upto)


def snapshot(data_dir: Path, document: str, source: str, name: str, revision: int | None,
             at: str | None) -> int:
    """Create layer ``name`` as a copy of ``source`` at a revision (the server must be
    stopped: an embedded log has one writer)."""
    from eventstore.commands import Accepted, Rejected
    from eventstore.errors import NotAppliedError
    from eventstore.names import layer_name_problem
    from eventstore.writer import Writer
    from projections.replays import layer_copy_commands

    with opened_log(data_dir) as log:
        projector = Projector(log, data_dir / READ_MODEL)
        projector.catch_up()
        read_model = ReadModel(projector.path)
        if read_model.document(document) is None:
            raise AuditError(f"document {document!r} does not exist")
        problem = layer_name_problem(name)
        if problem is not None:
            raise AuditError(problem)
        existing_layer(read_model, document, source)
        upto = whole(log, revision_of(read_model, revision, at))
        commands = layer_copy_commands(read_model, document, source, name, upto)
        writer = Writer(log)
        writer.start()
        try:
            outcomes = writer.execute(commands, f"annolog-snapshot-{ULID()}", atomic=True)
        finally:
            writer.stop()
            projector.catch_up()
            projector.stop()
            read_model.close()
        for outcome in outcomes:
            if isinstance(outcome, Rejected) and not isinstance(outcome.error, NotAppliedError):
                raise AuditError(str(outcome.error))
        return max(o.revision for o in outcomes if isinstance(o, Accepted))


def migrate(data_dir: Path, database_url: str, batch: int = 5000) -> int:
    """Copy the embedded log to an empty PostgreSQL log, in order, keeping every revision
    (checked batch by batch), so read models built from either stay valid."""
    if not (data_dir / "events.sqlite").exists():
        raise AuditError(f"no embedded log at {data_dir / 'events.sqlite'}")
    source = open_log(data_dir)
    target = open_log(data_dir, database_url)
    try:
        if target.max_revision():
            raise AuditError("the PostgreSQL log is not empty; migrate into an empty database "
                             "or schema")
        total, after = source.max_revision(), 0
        with tqdm(total=total, unit="ev", unit_scale=True, file=sys.stderr,
                  disable=not sys.stderr.isatty()) as bar:
            while notifications := source.recorder.select_notifications(
                    start=after, limit=batch, inclusive_of_start=False):
                target.recorder.insert_events(notifications)
                after = notifications[-1].id
                if target.max_revision() != after:
                    raise AuditError(f"revisions diverged after {after}; the target now holds "
                                     "a partial copy: drop it and migrate again")
                bar.update(len(notifications))
        return after
    finally:
        source.close()
        target.close()
