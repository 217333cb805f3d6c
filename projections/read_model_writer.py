"""Applies events to a read-model database, for the live projector and for replays.

Each handler is idempotent by stream version, so a batch applied twice (after a crash, a
restart or in a replay) changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import partial
from typing import Any, NamedTuple

import orjson
import sqlite_utils
from eventsourcing.utils import get_topic

from eventstore.domain import (
    Annotation,
    Attachment,
    Comment,
    Document,
    Layer,
    LayerSections,
    Thread,
    Token,
    annotation_record,
)
from eventstore.log import LoggedEvent
from eventstore.times import read_model_time

POSITION = "annotations"
GENERATIONS_KEPT = 100_000  # documents whose answer generation is counted (see generation)


Fact = tuple[int, int, str, dict[str, Any]]  # revision, stream version, topic, event fields


def fact_of(logged: LoggedEvent) -> Fact:
    """An event handed over by the writer, in the shape the log's raw rows are read in."""
    event = logged.event
    return logged.revision, event.originator_version, TOPICS[type(event)], vars(event)


TOPICS = {cls: get_topic(cls) for cls in (
    Document.Uploaded, Document.Reuploaded, Document.Deleted, Document.Copied, Layer.Created,
    Layer.Recreated,
    Layer.Deleted, Attachment.Attached, Annotation.Created, Annotation.Updated,
    Annotation.Recreated, Annotation.Deleted, Token.Revoked, LayerSections.Started,
    LayerSections.Changed, Comment.Created, Comment.Updated, Comment.Recreated,
    Comment.Deleted, Thread.Started, Thread.Changed)}  # threads: the writer's index only
KINDS = {TOPICS[Annotation.Created]: "created", TOPICS[Annotation.Updated]: "updated",
         TOPICS[Annotation.Recreated]: "recreated", TOPICS[Annotation.Deleted]: "deleted"}
CREATIONS = {TOPICS[Annotation.Created], TOPICS[Annotation.Recreated]}
DELETION = TOPICS[Annotation.Deleted]
COMMENT_KINDS = {TOPICS[Comment.Created]: "created", TOPICS[Comment.Updated]: "updated",
                 TOPICS[Comment.Recreated]: "recreated", TOPICS[Comment.Deleted]: "deleted"}

INSERT_CHANGE = """
INSERT OR IGNORE INTO changes (revision, document_id, layer, annotation_id, version, kind, at,
    user_id, record, request_id)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
"""

UPSERT_ANNOTATION = """
INSERT INTO annotations (document_id, layer, id, page_index, group_name, created_by,
    updated_by, record, version, revision, created_revision, created_at, updated_at, deleted)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT (document_id, layer, id) DO UPDATE SET
    page_index = excluded.page_index, group_name = excluded.group_name,
    created_by = excluded.created_by, updated_by = excluded.updated_by,
    record = excluded.record, version = excluded.version, revision = excluded.revision,
    created_revision = CASE WHEN ?15 THEN excluded.created_revision
                            ELSE annotations.created_revision END,
    created_at = CASE WHEN ?15 THEN excluded.created_at ELSE annotations.created_at END,
    updated_at = excluded.updated_at, deleted = excluded.deleted
WHERE excluded.version > annotations.version
"""

UPSERT_COMMENT = """
INSERT INTO comments (document_id, layer, id, root_id, group_name, created_by, updated_by,
    record, version, revision, created_revision, created_at, updated_at, deleted)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
ON CONFLICT (document_id, layer, id) DO UPDATE SET
    root_id = excluded.root_id, group_name = excluded.group_name,
    created_by = excluded.created_by, updated_by = excluded.updated_by,
    record = excluded.record, version = excluded.version, revision = excluded.revision,
    created_revision = CASE WHEN ?15 THEN excluded.created_revision
                            ELSE comments.created_revision END,
    created_at = CASE WHEN ?15 THEN excluded.created_at ELSE comments.created_at END,
    updated_at = excluded.updated_at, deleted = excluded.deleted
WHERE excluded.version > comments.version
"""

UPSERT_DOCUMENT = """
INSERT INTO documents (document_id, instance, title, sha256, byte_size, password_protected,
    page_count, pages, created_at, updated_at, version, revision, deleted, copied_from)
VALUES (:document_id, :instance, :title, :sha256, :byte_size, :password_protected,
    :page_count, :pages, :at, :at, :version, :revision, 0, NULL)
ON CONFLICT (document_id) DO UPDATE SET
    instance = excluded.instance, title = excluded.title, sha256 = excluded.sha256,
    byte_size = excluded.byte_size, password_protected = excluded.password_protected,
    page_count = excluded.page_count, pages = excluded.pages, created_at = excluded.created_at,
    updated_at = excluded.updated_at, version = excluded.version,
    revision = excluded.revision, deleted = 0, copied_from = NULL
WHERE excluded.version > documents.version
"""


class AnnotationRow(NamedTuple):
    """An ``annotations`` row, in the order of UPSERT_ANNOTATION's parameters."""

    document_id: str
    layer: str
    annotation_id: str
    page_index: int | None
    group: str | None
    created_by: str | None
    updated_by: str | None
    record: str
    version: int
    revision: int
    created_revision: int
    created_at: str
    updated_at: str
    deleted: int
    replaces_creation: bool  # its creation (revision and time) replaces the stored one


class ReadModelWriter:
    """Applies events to a read-model database; used live by the projector and by replays.

    Consecutive annotation events of a batch are folded per annotation (the last one wins,
    keeping the latest creation), so a replay writes each row once per batch; every event
    still gets its own row in ``changes``.
    """

    def __init__(self, db: sqlite_utils.Database) -> None:
        self.db = db
        self._instances: dict[str, tuple[str, bool] | None] = {}
        # Count committed batches that held document (or revocation) events: readers cache
        # those rows until the count moves. It moves only after the commit, so no reader
        # caches an old row.
        self.documents_changed = 0
        self._documents_touched = False
        self.revocations_changed = 0
        self._revocations_touched = False
        # Per document, a count that moves after each commit that changed its annotation
        # rows or layers: answers cached under one count are never served under the next.
        # Read as one attribute, (epoch, counts): past GENERATIONS_KEPT documents the counts
        # start again under a new epoch, so no count ever goes back within one epoch.
        self.generations: tuple[int, dict[str, int]] = (0, {})
        self._documents_written: set[str] = set()
        self._handlers: dict[str, Callable[[int, int, dict[str, Any]], None]] = {
            TOPICS[Document.Uploaded]: self._document_stored,
            TOPICS[Document.Reuploaded]: self._document_stored,
            TOPICS[Document.Deleted]: self._document_deleted,
            TOPICS[Document.Copied]: self._document_copied,
            TOPICS[Layer.Created]: self._layer_created,
            TOPICS[Layer.Recreated]: self._layer_created,
            TOPICS[Layer.Deleted]: self._layer_deleted,
            TOPICS[Attachment.Attached]: self._attached,
            TOPICS[Token.Revoked]: self._revoked,
            TOPICS[LayerSections.Started]: self._sections_changed,
            TOPICS[LayerSections.Changed]: self._sections_changed,
            **{topic: partial(self._comment_changed, kind)
               for topic, kind in COMMENT_KINDS.items()},
        }

    def position(self) -> int:
        row = self.db.execute(
            "SELECT revision FROM positions WHERE name = ?", [POSITION]).fetchone()
        return row[0] if row else 0

    def apply(self, batch: Iterable[Fact | LoggedEvent]) -> int:
        """Apply events and store the new position, all in one transaction."""
        last = 0
        try:
            with self.db.atomic():
                pending: dict[tuple[str, str, str], AnnotationRow] = {}
                changes: list[tuple] = []
                for item in batch:
                    revision, version, topic, fields = (
                        fact_of(item) if isinstance(item, LoggedEvent) else item)
                    if topic in KINDS:  # the hot path
                        self._fold(pending, changes, revision, version, topic, fields)
                    else:
                        self._flush(pending, changes)
                        self.project(revision, version, topic, fields)
                    last = revision
                self._flush(pending, changes)
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
            if self._revocations_touched:
                self._revocations_touched = False
                self.revocations_changed += 1
            self._move_generations()
        return last

    def generation(self, document_id: str) -> tuple[int, int]:
        """The document's (epoch, count); see ``api.answers``."""
        epoch, counts = self.generations
        return epoch, counts.get(document_id, 0)

    def _move_generations(self) -> None:
        if not self._documents_written:
            return
        epoch, counts = self.generations
        if len(counts) + len(self._documents_written) > GENERATIONS_KEPT:
            self.generations = epoch, counts = epoch + 1, {}
        for document_id in self._documents_written:
            counts[document_id] = counts.get(document_id, 0) + 1
        self._documents_written.clear()

    def _live_instance(self, document_id: str) -> str | None:
        if document_id not in self._instances:
            row = self.db.execute(
                "SELECT instance, deleted FROM documents WHERE document_id = ?",
                [document_id]).fetchone()
            self._instances[document_id] = (row[0], bool(row[1])) if row else None
        state = self._instances[document_id]
        return state[0] if state and not state[1] else None

    def project(self, revision: int, version: int, topic: str, fields: dict[str, Any]) -> None:
        handler = self._handlers.get(topic)
        if handler is not None:  # events of kinds this view does not show change nothing
            handler(revision, version, fields)

    def _document_stored(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        self._documents_touched = True
        row = self.db.execute("SELECT instance, version FROM documents WHERE document_id = ?",
                              [fields["document_id"]]).fetchone()
        if row and row[1] >= version:
            return
        if row and row[0] != fields["instance"]:
            self._drop_document_contents(fields["document_id"])
        pages = fields["pages"]
        self.db.execute(UPSERT_DOCUMENT, {
            "document_id": fields["document_id"], "instance": fields["instance"],
            "title": fields["title"], "sha256": fields["sha256"],
            "byte_size": fields["byte_size"],
            "password_protected": int(fields["password_protected"]),
            "page_count": len(pages) if pages is not None else None,
            "pages": orjson.dumps(pages).decode() if pages is not None else None,
            "at": read_model_time(fields["timestamp"]), "version": version, "revision": revision,
        })
        self._instances[fields["document_id"]] = (fields["instance"], False)

    def _document_deleted(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        self._documents_touched = True
        cursor = self.db.execute(
            "UPDATE documents SET deleted = 1, version = ?, revision = ?, updated_at = ? "
            "WHERE document_id = ? AND version < ?",
            [version, revision, read_model_time(fields["timestamp"]), fields["document_id"],
             version])
        if cursor.rowcount:
            self._drop_document_contents(fields["document_id"])
            self._instances[fields["document_id"]] = (fields["instance"], True)

    def _document_copied(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        self._documents_touched = True
        provenance = {"document_id": fields["source_document_id"],
                      "instance": fields["source_instance"],
                      "revision": fields["source_revision"]}
        self.db.execute(
            "UPDATE documents SET copied_from = ?, version = ? "
            "WHERE document_id = ? AND instance = ? AND version < ?",
            [orjson.dumps(provenance).decode(), version, fields["document_id"],
             fields["instance"], version])

    def _drop_document_contents(self, document_id: str) -> None:
        self._documents_written.add(document_id)
        for table in ("annotations", "layers", "attachments", "changes", "sections",
                      "comments", "comment_changes"):
            self.db.execute(f"DELETE FROM {table} WHERE document_id = ?", [document_id])

    def _layer_created(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        if self._live_instance(fields["document_id"]) != fields["instance"]:
            return
        self._documents_written.add(fields["document_id"])
        self.db.execute(
            "INSERT INTO layers (document_id, name, created_at, revision) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET created_at = excluded.created_at, "
            "revision = excluded.revision WHERE excluded.revision > layers.revision",
            [fields["document_id"], fields["name"], read_model_time(fields["timestamp"]), revision])

    def _layer_deleted(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        if self._live_instance(fields["document_id"]) != fields["instance"]:
            return
        self._documents_written.add(fields["document_id"])
        self.db.execute("DELETE FROM layers WHERE document_id = ? AND name = ? AND revision < ?",
                        [fields["document_id"], fields["name"], revision])

    def _attached(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        if self._live_instance(fields["document_id"]) != fields["instance"]:
            return
        self.db.execute(
            "INSERT INTO attachments (document_id, attachment_id, sha256, content_type, "
            "byte_size, created_at, revision) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING",
            [fields["document_id"], fields["attachment_id"], fields["sha256"],
             fields["content_type"], fields["byte_size"], read_model_time(fields["timestamp"]),
             revision])

    def _sections_changed(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        if self._live_instance(fields["document_id"]) != fields["instance"]:
            return
        self.db.execute(
            "INSERT INTO sections (document_id, layer, revision, sections) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING", [fields["document_id"], fields["layer"], revision,
                                       orjson.dumps(fields["sections"]).decode()])

    def _comment_changed(self, kind: str, revision: int, version: int, fields: dict[str, Any]
                         ) -> None:
        """Comments are few beside annotations: one row each, event by event."""
        document_id = fields["document_id"]
        if self._live_instance(document_id) != fields["instance"]:
            return
        at = read_model_time(fields["timestamp"])
        record = orjson.dumps(annotation_record(
            fields["annotation_id"], fields["content"], fields["created_by"],
            fields["updated_by"], fields["group"])).decode()
        key = (document_id, fields["layer"], fields["annotation_id"])
        creation = kind in ("created", "recreated")
        self.db.execute(UPSERT_COMMENT, [
            *key, fields["content"].get("rootId"), fields["group"], fields["created_by"],
            fields["updated_by"], record, version, revision, revision, at, at,
            int(kind == "deleted"), creation])
        user = fields["created_by"] if creation else fields["updated_by"]
        self.db.execute(
            "INSERT OR IGNORE INTO comment_changes (revision, document_id, layer, comment_id, "
            "version, kind, at, user_id, record, request_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [revision, *key, version, kind, at, user, record, fields.get("request_id")])

    def _revoked(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        self._revocations_touched = True
        self.db.execute("INSERT INTO revoked (jti, expires, revision) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING", [fields["jti"], fields["expires"], revision])

    def _fold(self, pending: dict[tuple[str, str, str], AnnotationRow],
              changes: list[tuple], revision: int, version: int, topic: str,
              fields: dict[str, Any]) -> None:
        document_id = fields["document_id"]
        if self._live_instance(document_id) != fields["instance"]:
            return  # an event of a deleted or replaced document
        self._documents_written.add(document_id)
        at = read_model_time(fields["timestamp"])
        creation = topic in CREATIONS
        key = (document_id, fields["layer"], fields["annotation_id"])
        record = orjson.dumps(annotation_record(
            fields["annotation_id"], fields["content"], fields["created_by"],
            fields["updated_by"], fields["group"])).decode()
        created_revision, created_at = revision, at
        earlier = pending.get(key)
        if earlier is not None and not creation and earlier.replaces_creation:
            creation, created_revision, created_at = True, earlier.created_revision, \
                earlier.created_at
        pending[key] = AnnotationRow(
            *key, fields["content"].get("pageIndex"), fields["group"], fields["created_by"],
            fields["updated_by"], record, version, revision, created_revision, created_at, at,
            int(topic == DELETION), creation)
        user = fields["created_by"] if topic in CREATIONS else fields["updated_by"]
        changes.append((revision, *key, version, KINDS[topic], at, user, record,
                        fields.get("request_id")))

    def insert_changes(self, facts: Iterable[Fact]) -> None:
        """Only the ``changes`` rows of annotation events: a bulk replay derives the
        ``annotations`` rows from all of them at the end."""
        changes: list[tuple] = []
        for revision, version, topic, fields in facts:
            self._fold({}, changes, revision, version, topic, fields)
        self.db.conn.executemany(INSERT_CHANGE, changes)

    def _flush(self, pending: dict[tuple[str, str, str], AnnotationRow],
               changes: list[tuple]) -> None:
        if pending:
            self.db.conn.executemany(UPSERT_ANNOTATION, pending.values())
            self.db.conn.executemany(INSERT_CHANGE, changes)
            pending.clear()
            changes.clear()
