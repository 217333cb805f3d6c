"""Applies the log, in revision order, to the read model.

Each batch of events and the new position commit in ONE transaction, and every handler is
idempotent by stream version, so a crash, a restart or a replay never double-applies.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils
from eventsourcing.utils import get_topic

from eventstore.domain import (
    Annotation,
    Attachment,
    Document,
    Layer,
    LayerSections,
    Token,
    annotation_record,
)
from eventstore.log import EventLog, LoggedEvent
from projections.schema import open_read_model

log = logging.getLogger(__name__)

POSITION = "annotations"
BATCH = 2000
MAX_OFFERED = 200_000  # events held for the projector; beyond that it reads the log


Fact = tuple[int, int, str, dict[str, Any]]  # revision, stream version, topic, event fields


def fact_of(logged: LoggedEvent) -> Fact:
    """An event handed over by the writer, in the shape the log's raw rows are read in."""
    event = logged.event
    return logged.revision, event.originator_version, TOPICS[type(event)], vars(event)


def _at(timestamp: Any) -> str:
    """UTC with microseconds always written, so that the text sorts as the time does."""
    if isinstance(timestamp, dict):  # still tagged, as read raw: an isoformat in UTC
        text = timestamp["_data_"]
        if text.endswith("+00:00"):
            return text[:19] + (text[19:26] if text[19:20] == "." else ".000000") + "Z"
        timestamp = datetime.fromisoformat(text)
    text = timestamp.isoformat(timespec="microseconds")  # far cheaper than strftime
    if text.endswith("+00:00"):
        return text[:-6] + "Z"
    return timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


TOPICS = {cls: get_topic(cls) for cls in (
    Document.Uploaded, Document.Reuploaded, Document.Deleted, Layer.Created, Layer.Recreated,
    Layer.Deleted, Attachment.Attached, Annotation.Created, Annotation.Updated,
    Annotation.Recreated, Annotation.Deleted, Token.Revoked, LayerSections.Started,
    LayerSections.Changed)}
KINDS = {TOPICS[Annotation.Created]: "created", TOPICS[Annotation.Updated]: "updated",
         TOPICS[Annotation.Recreated]: "recreated", TOPICS[Annotation.Deleted]: "deleted"}
CREATIONS = {TOPICS[Annotation.Created], TOPICS[Annotation.Recreated]}
DELETION = TOPICS[Annotation.Deleted]

INSERT_CHANGE = """
INSERT OR IGNORE INTO changes (revision, document_id, layer, annotation_id, version, kind, at,
    user_id, record)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
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
        self._handlers = {
            TOPICS[Document.Uploaded]: self._document_stored,
            TOPICS[Document.Reuploaded]: self._document_stored,
            TOPICS[Document.Deleted]: self._document_deleted,
            TOPICS[Layer.Created]: self._layer_created,
            TOPICS[Layer.Recreated]: self._layer_created,
            TOPICS[Layer.Deleted]: self._layer_deleted,
            TOPICS[Attachment.Attached]: self._attached,
            TOPICS[Token.Revoked]: self._revoked,
            TOPICS[LayerSections.Started]: self._sections_changed,
            TOPICS[LayerSections.Changed]: self._sections_changed,
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
                pending: dict[tuple[str, str, str], tuple] = {}
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
        return last

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
            "at": _at(fields["timestamp"]), "version": version, "revision": revision,
        })
        self._instances[fields["document_id"]] = (fields["instance"], False)

    def _document_deleted(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        self._documents_touched = True
        cursor = self.db.execute(
            "UPDATE documents SET deleted = 1, version = ?, revision = ?, updated_at = ? "
            "WHERE document_id = ? AND version < ?",
            [version, revision, _at(fields["timestamp"]), fields["document_id"], version])
        if cursor.rowcount:
            self._drop_document_contents(fields["document_id"])
            self._instances[fields["document_id"]] = (fields["instance"], True)

    def _drop_document_contents(self, document_id: str) -> None:
        for table in ("annotations", "layers", "attachments", "changes", "sections"):
            self.db.execute(f"DELETE FROM {table} WHERE document_id = ?", [document_id])

    def _layer_created(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        if self._live_instance(fields["document_id"]) != fields["instance"]:
            return
        self.db.execute(
            "INSERT INTO layers (document_id, name, created_at, revision) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET created_at = excluded.created_at, "
            "revision = excluded.revision WHERE excluded.revision > layers.revision",
            [fields["document_id"], fields["name"], _at(fields["timestamp"]), revision])

    def _layer_deleted(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        if self._live_instance(fields["document_id"]) != fields["instance"]:
            return
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
             fields["content_type"], fields["byte_size"], _at(fields["timestamp"]), revision])

    def _sections_changed(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        if self._live_instance(fields["document_id"]) != fields["instance"]:
            return
        self.db.execute(
            "INSERT INTO sections (document_id, layer, revision, sections) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO NOTHING", [fields["document_id"], fields["layer"], revision,
                                       orjson.dumps(fields["sections"]).decode()])

    def _revoked(self, revision: int, version: int, fields: dict[str, Any]) -> None:
        self._revocations_touched = True
        self.db.execute("INSERT INTO revoked (jti, expires, revision) VALUES (?, ?, ?) "
                        "ON CONFLICT DO NOTHING", [fields["jti"], fields["expires"], revision])

    def _fold(self, pending: dict[tuple[str, str, str], tuple],
              changes: list[tuple], revision: int, version: int, topic: str,
              fields: dict[str, Any]) -> None:
        document_id = fields["document_id"]
        if self._live_instance(document_id) != fields["instance"]:
            return  # an event of a deleted or replaced document
        at = _at(fields["timestamp"])
        creation = topic in CREATIONS
        key = (document_id, fields["layer"], fields["annotation_id"])
        record = orjson.dumps(annotation_record(
            fields["annotation_id"], fields["content"], fields["created_by"],
            fields["updated_by"], fields["group"])).decode()
        created_revision, created_at = revision, at
        earlier = pending.get(key)
        if earlier is not None and not creation and earlier[14]:
            creation, created_revision, created_at = True, earlier[10], earlier[11]
        # column order of UPSERT_ANNOTATION; the 15th value says whether this row's
        # creation (revision and time) replaces the stored one
        pending[key] = (*key, fields["content"].get("pageIndex"), fields["group"],
                        fields["created_by"], fields["updated_by"], record, version, revision,
                        created_revision, created_at, at, int(topic == DELETION), creation)
        user = fields["created_by"] if topic in CREATIONS else fields["updated_by"]
        changes.append((revision, *key, version, KINDS[topic], at, user, record))

    def insert_changes(self, facts: Iterable[Fact]) -> None:
        """Only the ``changes`` rows of annotation events: a bulk replay derives the
        ``annotations`` rows from all of them at the end."""
        changes: list[tuple] = []
        for revision, version, topic, fields in facts:
            self._fold({}, changes, revision, version, topic, fields)
        self.db.conn.executemany(INSERT_CHANGE, changes)

    def _flush(self, pending: dict[tuple[str, str, str], tuple], changes: list[tuple]) -> None:
        if pending:
            self.db.conn.executemany(UPSERT_ANNOTATION, pending.values())
            self.db.conn.executemany(INSERT_CHANGE, changes)
            pending.clear()
            changes.clear()


class Projector:
    """Follows the log in a background thread and keeps the read model current."""

    def __init__(self, log: EventLog, path: Path,
                 on_advance: Callable[[int], None] | None = None,
                 poll_seconds: float = 1.0, background_checkpoints: bool = False) -> None:
        self.log = log
        self.path = path
        self.on_advance = on_advance
        self.poll_seconds = poll_seconds
        self.writer = ReadModelWriter(open_read_model(path))
        if background_checkpoints:  # a Checkpointer thread does them
            self.writer.db.execute("PRAGMA wal_autocheckpoint=0")
        self.position = self.writer.position()
        self._offered: deque[list[LoggedEvent]] = deque()
        self._offered_events = 0
        self._lock = threading.Lock()
        # The log may hold events not handed over: set by other processes' commits (poke),
        # the poll, dropped or gapped hand-overs; cleared when the log is read.
        self._unread = True
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="annolog-projector", daemon=True)

    def catch_up(self) -> int:
        """Apply everything the log holds now (blocking); returns the new position."""
        self._unread = True
        return self._follow()

    def _follow(self) -> int:
        while batch := self._next_batch():
            self.position = self.writer.apply(batch)
            if self.on_advance is not None:
                self.on_advance(self.position)
        return self.position

    def _next_batch(self) -> list[Fact] | list[LoggedEvent]:
        """The writer's handed-over events when they follow the position exactly (no read
        back and decode); otherwise the log itself, which is always right, when it may
        hold more (after its own writes alone, this process does not ask the log again)."""
        with self._lock:
            while self._offered:
                offered = [e for e in self._offered.popleft() if e.revision > self.position]
                self._offered_events -= len(offered)
                if offered and offered[0].revision == self.position + 1:
                    return offered
                if offered:  # a gap: drop the hand-overs, the log will serve them
                    self._offered.clear()
                    self._offered_events = 0
                    self._unread = True
            if not self._unread:
                return []
            self._unread = False
        facts = self.log.read_facts(self.position, BATCH, raw_timestamps=True)
        if len(facts) == BATCH:  # a full page: more may follow
            self._unread = True
        return facts

    def start(self) -> None:
        self._thread.start()

    def offer(self, committed: list[LoggedEvent]) -> None:
        """Called by the writer after a commit: events it just stored, with their revisions."""
        with self._lock:
            if self._offered_events + len(committed) <= MAX_OFFERED:
                self._offered.append(committed)
                self._offered_events += len(committed)
            else:  # too much held already: the log will serve these
                self._unread = True
        self._wake.set()

    def poke(self) -> None:
        """Look at the log now: another process has committed to it."""
        self._unread = True
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        self.writer.db.conn.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._wake.wait(self.poll_seconds):
                self._unread = True  # the poll, in case a commit went unannounced
            self._wake.clear()
            try:
                self._follow()
            except Exception:  # a disk problem; the position is intact, so retry later
                log.exception("projector failed at revision %d; retrying", self.position)
                self._unread = True  # hand-overs taken for the failed batch are gone
                self._stop.wait(self.poll_seconds)
