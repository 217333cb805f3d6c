"""Applies the log, in revision order, to the read model.

Each batch of events and the new position commit in ONE transaction, and every handler is
idempotent by stream version, so a crash, a restart or a replay never double-applies.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from pathlib import Path
from datetime import UTC
from typing import Any, ClassVar

import orjson
import sqlite_utils

from eventstore.domain import Annotation, Attachment, Document, Layer
from eventstore.log import EventLog, LoggedEvent
from projections.schema import open_read_model

log = logging.getLogger(__name__)

POSITION = "annotations"
BATCH = 2000
MAX_OFFERED = 200_000  # events held for the projector; beyond that it reads the log


def _iso(event: Any) -> str:
    """UTC with microseconds always written, so that the text sorts as the time does."""
    return event.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


KINDS = {Annotation.Created: "created", Annotation.Updated: "updated",
         Annotation.Recreated: "recreated", Annotation.Deleted: "deleted"}

INSERT_CHANGE = """
INSERT OR IGNORE INTO changes (revision, document_id, layer, annotation_id, version, kind, at,
    user_id, record)
VALUES (:revision, :document_id, :layer, :id, :version, :kind, :at, :user_id, :record)
"""


UPSERT_ANNOTATION = """
INSERT INTO annotations (document_id, layer, id, page_index, group_name, created_by,
    updated_by, record, version, revision, created_revision, created_at, updated_at, deleted)
VALUES (:document_id, :layer, :id, :page_index, :group_name, :created_by, :updated_by,
    :record, :version, :revision, :revision, :at, :at, :deleted)
ON CONFLICT (document_id, layer, id) DO UPDATE SET
    page_index = excluded.page_index, group_name = excluded.group_name,
    created_by = excluded.created_by, updated_by = excluded.updated_by,
    record = excluded.record, version = excluded.version, revision = excluded.revision,
    created_revision = CASE WHEN :creation THEN excluded.created_revision
                            ELSE annotations.created_revision END,
    created_at = CASE WHEN :creation THEN excluded.created_at
                      ELSE annotations.created_at END,
    updated_at = excluded.updated_at, deleted = excluded.deleted
WHERE excluded.version > annotations.version
"""

UPSERT_DOCUMENT = """
INSERT INTO documents (document_id, instance, title, sha256, byte_size, password_protected,
    page_count, pages, created_at, updated_at, version, revision, deleted)
VALUES (:document_id, :instance, :title, :sha256, :byte_size, :password_protected,
    :page_count, :pages, :at, :at, :version, :revision, 0)
ON CONFLICT (document_id) DO UPDATE SET
    instance = excluded.instance, title = excluded.title, sha256 = excluded.sha256,
    byte_size = excluded.byte_size, password_protected = excluded.password_protected,
    page_count = excluded.page_count, pages = excluded.pages, created_at = excluded.created_at,
    updated_at = excluded.updated_at, version = excluded.version,
    revision = excluded.revision, deleted = 0
WHERE excluded.version > documents.version
"""


def annotation_record(event: Annotation.Event) -> dict[str, Any]:
    """The record in the shape the API serves it (the same as ``Annotation.record``)."""
    return {
        "id": event.annotation_id,
        "content": event.content,
        "createdBy": event.created_by,
        "updatedBy": event.updated_by,
        "group": event.group,
    }


class ReadModelWriter:
    """Applies events to a read-model database; used live by the projector and by replays."""

    _handlers: ClassVar[dict[type, Callable[..., None]]]  # filled in below the class

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._instances: dict[str, tuple[str, bool] | None] = {}
        # Counts committed batches that held document events: readers cache document rows
        # until it moves. It moves only after the commit, so no reader caches an old row.
        self.documents_changed = 0
        self._documents_touched = False

    def position(self) -> int:
        row = self.db.execute(
            "SELECT revision FROM positions WHERE name = ?", [POSITION]).fetchone()
        return row[0] if row else 0

    def apply(self, batch: Iterable[LoggedEvent]) -> int:
        """Apply events and store the new position, all in one transaction."""
        last = 0
        try:
            with self.db.atomic():
                upserts: list[dict[str, Any]] = []
                for logged in batch:
                    event = logged.event
                    if isinstance(event, Annotation.Event):  # the hot path: one executemany
                        params = self._annotation_params(event, logged.revision)
                        if params is not None:
                            upserts.append(params)
                    else:
                        self._upsert_annotations(upserts)
                        self.project(event, logged.revision)
                    last = logged.revision
                self._upsert_annotations(upserts)
                if last:
                    self.db.execute(
                        "INSERT INTO positions (name, revision) VALUES (?, ?) "
                        "ON CONFLICT (name) DO UPDATE SET revision = excluded.revision "
                        "WHERE excluded.revision > positions.revision", [POSITION, last])
        except BaseException:
            self._instances.clear()
            raise
        finally:
            if self._documents_touched:
                self._documents_touched = False
                self.documents_changed += 1
        return last

    def _live_instance(self, document_id: str) -> str | None:
        if document_id not in self._instances:
            row = self.db.execute(
                "SELECT instance, deleted FROM documents WHERE document_id = ?",
                [document_id]).fetchone()
            self._instances[document_id] = (row[0], bool(row[1])) if row else None
        state = self._instances[document_id]
        return state[0] if state and not state[1] else None

    def project(self, event: Any, revision: int) -> None:
        if isinstance(event, Document.Event):
            self._documents_touched = True
        handler = self._handlers.get(type(event))
        if handler is not None:  # events of kinds this view does not show change nothing
            handler(self, event, revision)

    def _document_stored(self, event: Document.Stored, revision: int) -> None:
        row = self.db.execute("SELECT instance, version FROM documents WHERE document_id = ?",
                              [event.document_id]).fetchone()
        if row and row[1] >= event.originator_version:
            return
        if row and row[0] != event.instance:
            self._drop_document_contents(event.document_id)
        self.db.execute(UPSERT_DOCUMENT, {
            "document_id": event.document_id, "instance": event.instance,
            "title": event.title, "sha256": event.sha256, "byte_size": event.byte_size,
            "password_protected": int(event.password_protected),
            "page_count": len(event.pages) if event.pages is not None else None,
            "pages": orjson.dumps(event.pages).decode() if event.pages is not None else None,
            "at": _iso(event), "version": event.originator_version, "revision": revision,
        })
        self._instances[event.document_id] = (event.instance, False)

    def _document_deleted(self, event: Document.Deleted, revision: int) -> None:
        cursor = self.db.execute(
            "UPDATE documents SET deleted = 1, version = ?, revision = ?, updated_at = ? "
            "WHERE document_id = ? AND version < ?",
            [event.originator_version, revision, _iso(event), event.document_id,
             event.originator_version])
        if cursor.rowcount:
            self._drop_document_contents(event.document_id)
            self._instances[event.document_id] = (event.instance, True)

    def _drop_document_contents(self, document_id: str) -> None:
        for table in ("annotations", "layers", "attachments", "changes"):
            self.db.execute(f"DELETE FROM {table} WHERE document_id = ?", [document_id])

    def _layer_created(self, event: Layer.Event, revision: int) -> None:
        if self._live_instance(event.document_id) != event.instance:
            return
        self.db.execute(
            "INSERT INTO layers (document_id, name, created_at, revision) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET created_at = excluded.created_at, "
            "revision = excluded.revision WHERE excluded.revision > layers.revision",
            [event.document_id, event.name, _iso(event), revision])

    def _layer_deleted(self, event: Layer.Deleted, revision: int) -> None:
        if self._live_instance(event.document_id) != event.instance:
            return
        self.db.execute("DELETE FROM layers WHERE document_id = ? AND name = ? AND revision < ?",
                        [event.document_id, event.name, revision])

    def _attached(self, event: Attachment.Attached, revision: int) -> None:
        if self._live_instance(event.document_id) != event.instance:
            return
        self.db.execute(
            "INSERT INTO attachments (document_id, attachment_id, sha256, content_type, "
            "byte_size, created_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [event.document_id, event.attachment_id, event.sha256, event.content_type,
             event.byte_size, _iso(event), revision])

    def _annotation_changed(self, event: Annotation.Event, revision: int) -> None:
        params = self._annotation_params(event, revision)
        if params is not None:
            self.db.execute(UPSERT_ANNOTATION, params)
            self.db.execute(INSERT_CHANGE, params)

    def _upsert_annotations(self, upserts: list[dict[str, Any]]) -> None:
        if upserts:
            self.db.conn.executemany(UPSERT_ANNOTATION, upserts)
            self.db.conn.executemany(INSERT_CHANGE, upserts)
            upserts.clear()

    def _annotation_params(self, event: Annotation.Event, revision: int
                           ) -> dict[str, Any] | None:
        if self._live_instance(event.document_id) != event.instance:
            return None  # an event of a deleted or replaced document
        content = event.content
        return {
            "document_id": event.document_id, "layer": event.layer, "id": event.annotation_id,
            "page_index": content.get("pageIndex"), "group_name": event.group,
            "created_by": event.created_by, "updated_by": event.updated_by,
            "record": orjson.dumps(annotation_record(event)).decode(),
            "version": event.originator_version, "revision": revision, "at": _iso(event),
            "deleted": int(isinstance(event, Annotation.Deleted)),
            "creation": isinstance(event, (Annotation.Created, Annotation.Recreated)),
            "kind": KINDS[type(event)],
            "user_id": event.created_by if isinstance(
                event, (Annotation.Created, Annotation.Recreated)) else event.updated_by,
        }


ReadModelWriter._handlers = {
    Document.Uploaded: ReadModelWriter._document_stored,
    Document.Reuploaded: ReadModelWriter._document_stored,
    Document.Deleted: ReadModelWriter._document_deleted,
    Layer.Created: ReadModelWriter._layer_created,
    Layer.Recreated: ReadModelWriter._layer_created,
    Layer.Deleted: ReadModelWriter._layer_deleted,
    Attachment.Attached: ReadModelWriter._attached,
    Annotation.Created: ReadModelWriter._annotation_changed,
    Annotation.Updated: ReadModelWriter._annotation_changed,
    Annotation.Recreated: ReadModelWriter._annotation_changed,
    Annotation.Deleted: ReadModelWriter._annotation_changed,
}


def replay(log: EventLog, path: Path, upto: int | None = None,
           progress: Callable[[int], None] | None = None) -> int:
    """Build a read model at ``path`` from revision 0 (up to ``upto``); returns its position."""
    db = open_read_model(path)
    writer = ReadModelWriter(db)
    position = writer.position()
    while batch := log.read(position, BATCH, upto):
        position = writer.apply(batch)
        if progress is not None:
            progress(position)
    db.conn.close()
    return position


class Projector:
    """Follows the log in a background thread and keeps the read model current."""

    def __init__(self, log: EventLog, path: Path,
                 on_advance: Callable[[int], None] | None = None,
                 poll_seconds: float = 1.0) -> None:
        self.log = log
        self.path = path
        self.on_advance = on_advance
        self.poll_seconds = poll_seconds
        self.writer = ReadModelWriter(open_read_model(path))
        self.position = self.writer.position()
        self._offered: deque[list[LoggedEvent]] = deque()
        self._offered_events = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="annolog-projector", daemon=True)

    def catch_up(self) -> int:
        """Apply everything the log holds now (blocking); returns the new position."""
        while batch := self._next_batch():
            self.position = self.writer.apply(batch)
            if self.on_advance is not None:
                self.on_advance(self.position)
        return self.position

    def _next_batch(self) -> list[LoggedEvent]:
        """The writer's handed-over events when they follow the position exactly (no read
        back and decode); otherwise the log itself, which is always right."""
        with self._lock:
            while self._offered:
                batch = [e for e in self._offered.popleft() if e.revision > self.position]
                self._offered_events -= len(batch)
                if batch and batch[0].revision == self.position + 1:
                    return batch
                if batch:  # a gap: drop the hand-overs, the log will serve them
                    self._offered.clear()
                    self._offered_events = 0
        return self.log.read(self.position, BATCH)

    def start(self) -> None:
        self._thread.start()

    def offer(self, committed: list[LoggedEvent]) -> None:
        """Called by the writer after a commit: events it just stored, with their revisions."""
        with self._lock:
            if self._offered_events + len(committed) <= MAX_OFFERED:
                self._offered.append(committed)
                self._offered_events += len(committed)
        self._wake.set()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self.writer.db.conn.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
            try:
                self.catch_up()
            except Exception:  # a disk problem; the position is intact, so retry later
                log.exception("projector failed at revision %d; retrying", self.position)
                self._stop.wait(self.poll_seconds)
