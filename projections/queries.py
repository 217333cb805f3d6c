"""Read-only queries on the read model. Records are stored in the shape they are served."""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from projections.schema import connect


@dataclass(frozen=True)
class DocumentRow:
    """A live document. Its pages stay JSON text until asked for: rows are cached, and a
    100,000-page PDF's list of dicts alone takes some 25 MB."""

    document_id: str
    instance: str
    title: str | None
    sha256: str
    byte_size: int
    password_protected: bool
    page_count: int | None  # None: protected, and uploaded without its password
    pages_json: str | None
    created_at: str
    revision: int
    copied_from_json: str | None = None  # {"document_id", "instance", "revision"} of a copy

    @property
    def copied_from(self) -> dict[str, Any] | None:
        return orjson.loads(self.copied_from_json) if self.copied_from_json else None

    @property
    def pages(self) -> list[dict[str, Any]] | None:
        return orjson.loads(self.pages_json) if self.pages_json is not None else None


@dataclass(frozen=True)
class DocumentStreams:
    instance: str
    layers: list[str]
    records: list[tuple[str, str]]  # (layer, annotation id)
    attachments: list[str]
    comments: list[tuple[str, str]] = field(default_factory=list)  # (layer, comment id)


DOCUMENT_COLUMNS = ("document_id, instance, title, sha256, byte_size, password_protected, "
                    "page_count, pages, created_at, revision, copied_from")


def _document(row: tuple) -> DocumentRow:
    return DocumentRow(row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7],
                       row[8], row[9], row[10])


@dataclass(frozen=True)
class AttachmentRow:
    attachment_id: str
    sha256: str
    content_type: str
    byte_size: int


CHANGE_COLUMNS = "revision, annotation_id, version, kind, at, user_id, record, request_id"
COMMENT_CHANGE_COLUMNS = "revision, comment_id, version, kind, at, user_id, record, request_id"
# A write over sync names its socket in its request id: sync:<clientId>:<the message's id>
SYNC_REQUEST = re.compile(r"sync:([^:]+):")


def _change(row: tuple) -> dict[str, Any]:
    """A change as the history and change-feed extensions serve it; a comment's says so."""
    change = {"revision": row[0], "id": row[1], "version": row[2], "kind": row[3],
              "at": row[4], "user_id": row[5], "record": orjson.loads(row[6]),
              "request_id": row[7], "client_id": _client_of(row[7])}
    if len(row) > 8 and row[8]:
        change["of"] = row[8]
    return change


def _client_of(request_id: str | None) -> str | None:
    """The sync socket a change came from (the clientId of its hello), if any."""
    found = SYNC_REQUEST.match(request_id or "")
    return found.group(1) if found else None


_PAGE = ("SELECT {columns}, {of} FROM {table} WHERE document_id = ? AND layer = ? "
         "AND revision > ? ORDER BY revision LIMIT ?")
CHANGES_PAGE = (
    f"SELECT * FROM ({_PAGE.format(columns=CHANGE_COLUMNS, of='NULL', table='changes')}) "
    "UNION ALL SELECT * FROM ("
    + _PAGE.format(columns=COMMENT_CHANGE_COLUMNS, of="'comment'", table="comment_changes")
    + ") ORDER BY revision LIMIT ?")


def content_type_of(change: dict[str, Any]) -> str:
    """The collaboration-permission content type a change is judged by."""
    return "comments" if change.get("of") == "comment" else "annotations"


def legacy_comment(comment: dict[str, Any]) -> dict[str, Any]:
    """A comment kept in a layer's sections (0.7, 0.8) as a record: it had no creator."""
    return {"id": comment["id"], "content": {k: v for k, v in comment.items() if k != "id"},
            "createdBy": None, "updatedBy": None, "group": None}


def instant_comment(record: dict[str, Any]) -> dict[str, Any]:
    """A comment record in Instant JSON's form: the content with its id."""
    return {"id": record["id"], **record["content"]}


ORDER_COLUMNS = {"created_at": "created_at", "title": "title"}


class ReadModel:
    """Thread-safe query access: one read-only connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    @property
    def db(self) -> sqlite_utils.Database:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = connect(self.path, readonly=True)
        return db

    def position(self) -> int:
        row = self.db.execute("SELECT revision FROM positions WHERE name = 'annotations'"
                              ).fetchone()
        return row[0] if row else 0

    def document(self, document_id: str) -> DocumentRow | None:
        row = self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE document_id = ? AND deleted = 0",
            [document_id]).fetchone()
        return _document(row) if row else None

    def matching_documents(self, *, title: str | None = None, document_id: str | None = None,
                           created_from: str | None = None, created_until: str | None = None
                           ) -> list[str]:
        """The live documents every given filter matches (times in the read model's form;
        both bounds included)."""
        where, params = ["deleted = 0"], []
        for condition, value in (("title = ?", title), ("document_id = ?", document_id),
                                 ("created_at >= ?", created_from),
                                 ("created_at <= ?", created_until)):
            if value is not None:
                where.append(condition)
                params.append(value)
        return [r[0] for r in self.db.execute(
            f"SELECT document_id FROM documents WHERE {' AND '.join(where)} "
            "ORDER BY document_id", params)]

    def documents(self, *, page_size: int, cursor: str | None, title: str | None,
                  order_by: str, descending: bool) -> tuple[list[DocumentRow], str | None, int]:
        """One page of documents, keyset-paged; returns (rows, next cursor, total count)."""
        column = ORDER_COLUMNS[order_by]
        where, params = ["deleted = 0"], []
        if title is not None:
            where.append("title = ?")
            params.append(title)
        total = self.db.execute(f"SELECT COUNT(*) FROM documents WHERE {' AND '.join(where)}",
                                params).fetchone()[0]
        if cursor is not None:
            value, document_id = decode_cursor(cursor)
            op = "<" if descending else ">"
            where.append(f"(COALESCE({column}, ''), document_id) {op} (?, ?)")
            params += [value, document_id]
        direction = "DESC" if descending else "ASC"
        rows = [_document(r) for r in self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE {' AND '.join(where)} "
            f"ORDER BY COALESCE({column}, '') {direction}, document_id {direction} LIMIT ?",
            [*params, page_size + 1]).fetchall()]
        next_cursor = None
        if len(rows) > page_size:
            rows = rows[:page_size]
            last = rows[-1]
            next_cursor = encode_cursor(getattr(last, column) or "", last.document_id)
        return rows, next_cursor, total

    def live_documents(self) -> Iterator[DocumentRow]:
        """Every live document, by id."""
        yield from (_document(row) for row in self.db.execute(
            f"SELECT {DOCUMENT_COLUMNS} FROM documents WHERE deleted = 0 ORDER BY document_id"))

    def revoked(self) -> frozenset[str]:
        """Revoked jtis whose tokens have not expired yet (expired ones are refused anyway)."""
        now = int(time.time())
        return frozenset(r[0] for r in self.db.execute(
            "SELECT jti FROM revoked WHERE expires IS NULL OR expires >= ?", [now - 60]))

    def document_streams(self, document_id: str) -> DocumentStreams | None:
        """What the live document's events are filed under in the log (its incarnation,
        every layer, record, attachment and section ever projected for it), so a replay of
        that one document can read its streams alone; None when it is not live."""
        row = self.db.execute("SELECT instance FROM documents WHERE document_id = ? AND "
                              "deleted = 0", [document_id]).fetchone()
        if row is None:
            return None
        layers = {"", *(r[0] for r in self.db.execute(
            "SELECT name FROM layers WHERE document_id = ? UNION "
            "SELECT DISTINCT layer FROM changes WHERE document_id = ? UNION "
            "SELECT DISTINCT layer FROM sections WHERE document_id = ?",
            [document_id] * 3))}
        records = self.db.execute("SELECT DISTINCT layer, annotation_id FROM changes "
                                  "WHERE document_id = ?", [document_id]).fetchall()
        attachments = [r[0] for r in self.db.execute(
            "SELECT attachment_id FROM attachments WHERE document_id = ?", [document_id])]
        comments = self.db.execute("SELECT layer, id FROM comments WHERE document_id = ?",
                                   [document_id]).fetchall()
        return DocumentStreams(row[0], sorted(layers), [(r[0], r[1]) for r in records],
                               attachments, [(r[0], r[1]) for r in comments])

    def layers(self, document_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT name FROM layers WHERE document_id = ? ORDER BY name", [document_id])]

    def layer_exists(self, document_id: str, layer: str) -> bool:
        return layer == "" or self.db.execute(
            "SELECT 1 FROM layers WHERE document_id = ? AND name = ?",
            [document_id, layer]).fetchone() is not None

    def attachment(self, document_id: str, attachment_id: str) -> AttachmentRow | None:
        """An attachment the document holds, else None."""
        row = self.db.execute(
            "SELECT attachment_id, sha256, content_type, byte_size FROM attachments "
            "WHERE document_id = ? AND attachment_id = ?", [document_id, attachment_id]
        ).fetchone()
        return AttachmentRow(*row) if row else None

    def pdf_object_ids(self, document_id: str, layer: str, upto: int | None = None, *,
                       comments: bool = False) -> set[int]:
        """The PDF objects that annotations of the layer (and with ``comments`` its comments
        read from replies) came from by revision ``upto`` (read at upload, or imported with
        a ``pdfObjectId``), deleted ones included: a download writes their current state
        instead of the PDF's originals."""
        bound = "AND revision <= ?" if upto is not None else ""
        found: set[int] = set()
        for table in ("changes", "comment_changes") if comments else ("changes",):
            found |= {row[0] for row in self.db.execute(
                "SELECT DISTINCT json_extract(record, '$.content.pdfObjectId') "
                f"FROM {table} WHERE document_id = ? AND layer = ? {bound} "
                "AND json_type(record, '$.content.pdfObjectId') = 'integer'",
                [document_id, layer] + ([upto] if upto is not None else []))}
        return found

    def records_by_pdf_object(self, document_id: str, layer: str) -> dict[int, str]:
        """The live records of a layer that stand for annotations of the PDF, by number."""
        rows = self.db.execute(
            "SELECT json_extract(record, '$.content.pdfObjectId'), id FROM annotations "
            "WHERE document_id = ? AND layer = ? AND deleted = 0 "
            "AND json_type(record, '$.content.pdfObjectId') = 'integer'",
            [document_id, layer]).fetchall()
        return {row[0]: row[1] for row in rows}

    def layer_state(self, document_id: str, layer: str, upto: int | None = None
                    ) -> list[str]:
        """The live records of a layer as they were at revision ``upto`` (now when None),
        in creation order: the latest change of each annotation at or before it."""
        return self._state("changes", "annotation_id", document_id, layer, upto)

    def _state(self, table: str, id_column: str, document_id: str, layer: str,
               upto: int | None) -> list[str]:
        bound = "AND revision <= ?" if upto is not None else ""
        params: list[Any] = [document_id, layer] + ([upto] if upto is not None else [])
        rows = self.db.execute(
            f"SELECT c.record, c.kind FROM {table} c JOIN ("
            f"  SELECT {id_column}, MAX(revision) AS last FROM {table} "
            f"  WHERE document_id = ? AND layer = ? {bound} GROUP BY {id_column}"
            f") latest ON c.revision = latest.last ORDER BY ("
            f"  SELECT MAX(revision) FROM {table} o WHERE o.document_id = c.document_id "
            f"  AND o.layer = c.layer AND o.{id_column} = c.{id_column} "
            f"  AND o.revision <= latest.last AND o.kind IN ('created', 'recreated'))",
            params).fetchall()
        return [record for record, kind in rows if kind != "deleted"]

    def comment_state(self, document_id: str, layer: str, upto: int | None = None
                      ) -> list[dict[str, Any]]:
        """The live comments of a layer at revision ``upto`` (now when None), as records,
        oldest first: those kept in the layer's sections by 0.7 and 0.8 (until a write
        moved them into comment streams), then the comment streams'."""
        streamed = [orjson.loads(r) for r in self._state("comment_changes", "comment_id",
                                                         document_id, layer, upto)]
        ids = {r["id"] for r in streamed}
        legacy = [legacy_comment(c) for c in self._sections(document_id, layer, upto)
                  .get("comments", []) if c.get("id") not in ids]
        return legacy + streamed

    def thread(self, document_id: str, layer: str, root_id: str) -> list[dict[str, Any]]:
        """The live comments of one root annotation, oldest first."""
        streamed = [orjson.loads(r[0]) for r in self.db.execute(
            "SELECT record FROM comments WHERE document_id = ? AND layer = ? AND root_id = ? "
            "AND deleted = 0 ORDER BY created_revision", [document_id, layer, root_id])]
        ids = {r["id"] for r in streamed}
        legacy = [legacy_comment(c) for c in self._sections(document_id, layer, None)
                  .get("comments", []) if c.get("rootId") == root_id and c.get("id") not in ids]
        return legacy + streamed

    def comment_history(self, document_id: str, layer: str, comment_id: str
                        ) -> list[dict[str, Any]]:
        return [_change(row) for row in self.db.execute(
            f"SELECT {COMMENT_CHANGE_COLUMNS} "
            "FROM comment_changes WHERE document_id = ? AND layer = ? AND comment_id = ? "
            "ORDER BY revision", [document_id, layer, comment_id])]

    def sections(self, document_id: str, layer: str, upto: int | None = None, *,
                 comments: bool = True) -> dict[str, list[dict[str, Any]]]:
        """A layer's comments (in Instant JSON form; left out with ``comments=False``),
        bookmarks, form fields and values at revision ``upto``."""
        sections = {k: v for k, v in self._sections(document_id, layer, upto).items()
                    if k != "comments"}
        if comments:
            found = [instant_comment(r) for r in self.comment_state(document_id, layer, upto)]
            if found:
                sections = {"comments": found, **sections}
        return sections

    def _sections(self, document_id: str, layer: str, upto: int | None
                  ) -> dict[str, list[dict[str, Any]]]:
        bound = "AND revision <= ?" if upto is not None else ""
        params: list[Any] = [document_id, layer] + ([upto] if upto is not None else [])
        row = self.db.execute(
            f"SELECT sections FROM sections WHERE document_id = ? AND layer = ? {bound} "
            "ORDER BY revision DESC LIMIT 1", params).fetchone()
        return orjson.loads(row[0]) if row else {}

    def history(self, document_id: str, layer: str, annotation_id: str) -> list[dict[str, Any]]:
        return [_change(row) for row in self.db.execute(
            f"SELECT {CHANGE_COLUMNS} FROM changes WHERE document_id = ? AND layer = ? "
            "AND annotation_id = ? ORDER BY revision", [document_id, layer, annotation_id])]

    def changes_page(self, document_id: str, layer: str, after: int, limit: int = 1000
                     ) -> list[dict[str, Any]]:
        """The layer's changes after revision ``after``, oldest first: its annotations' and
        its comments' (these marked ``"of": "comment"``)."""
        return [_change(row) for row in self.db.execute(
            CHANGES_PAGE, [document_id, layer, after, limit] * 2 + [limit])]

    def revision_at(self, timestamp: str) -> int:
        """The last annotation or comment revision written at or before ``timestamp`` (as
        the ``at`` column: UTC with microseconds), 0 when none was."""
        row = self.db.execute(
            "SELECT MAX(revision) FROM (SELECT MAX(revision) AS revision FROM changes "
            "WHERE at <= ?1 UNION ALL SELECT MAX(revision) FROM comment_changes "
            "WHERE at <= ?1)", [timestamp]).fetchone()
        return row[0] or 0

    def annotation_version(self, document_id: str, layer: str, annotation_id: str,
                           upto: int | None = None) -> tuple[bytes, int] | None:
        """The served record as JSON bytes and its version (as it was at revision ``upto``
        when given), or None when absent or deleted."""
        if upto is not None:
            row = self.db.execute(
                "SELECT record, version, kind FROM changes WHERE document_id = ? AND layer = ? "
                "AND annotation_id = ? AND revision <= ? ORDER BY revision DESC LIMIT 1",
                [document_id, layer, annotation_id, upto]).fetchone()
            return (row[0].encode(), row[1]) if row and row[2] != "deleted" else None
        row = self.db.execute(
            "SELECT record, version FROM annotations WHERE document_id = ? AND layer = ? "
            "AND id = ? AND deleted = 0", [document_id, layer, annotation_id]).fetchone()
        return (row[0].encode(), row[1]) if row else None

    def annotation_page(self, document_id: str, layer: str, *, after: int = 0,
                        limit: int = 1000, page_index: int | None = None
                        ) -> list[tuple[int, str]]:
        """(creation revision, record JSON) in creation order, after a creation revision."""
        sql = ("SELECT created_revision, record FROM annotations WHERE document_id = ? "
               "AND layer = ? AND deleted = 0 ")
        params: list[Any] = [document_id, layer]
        if page_index is not None:
            sql += "AND page_index = ? "
            params.append(page_index)
        sql += "AND created_revision > ? ORDER BY created_revision LIMIT ?"
        return self.db.execute(sql, [*params, after, limit]).fetchall()

    def records_naming(self, document_id: str, layer: str, text: str) -> list[dict[str, Any]]:
        """Live records of a layer whose JSON mentions ``text`` (an attachment id)."""
        return [orjson.loads(r[0]) for r in self.db.execute(
            "SELECT record FROM annotations WHERE document_id = ? AND layer = ? AND deleted = 0 "
            "AND instr(record, ?) > 0", [document_id, layer, text])]

    def confirmations(self, document_id: str, layer: str, ids: list[str]
                      ) -> list[dict[str, Any]]:
        """The last persisted version of each annotation, deleted ones included: the rows
        keep tombstones, so they are also the persistence-confirmation view."""
        rows = []
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            rows += self.db.execute(
                "SELECT id, version, revision, updated_at, deleted, record FROM annotations "
                f"WHERE document_id = ? AND layer = ? AND id IN ({','.join('?' * len(chunk))})",
                [document_id, layer, *chunk]).fetchall()
        return [{"id": r[0], "version": r[1], "revision": r[2], "persistedAt": r[3],
                 "deleted": bool(r[4]), "record": orjson.loads(r[5])} for r in rows]

    def live_versions(self, document_id: str, layer: str, table: str) -> dict[str, int]:
        """The version of each live record of a layer's ``annotations`` or ``comments``."""
        assert table in ("annotations", "comments")
        return dict(self.db.execute(
            f"SELECT id, version FROM {table} WHERE document_id = ? AND layer = ? "
            "AND deleted = 0", [document_id, layer]).fetchall())

    def live_annotation_ids(self, document_id: str, layer: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT id FROM annotations WHERE document_id = ? AND layer = ? AND deleted = 0 "
            "ORDER BY created_revision", [document_id, layer])]

    def iter_records(self, document_id: str, layer: str, page: int = 1000) -> Iterator[str]:
        after = 0
        while rows := self.annotation_page(document_id, layer, after=after, limit=page):
            yield from (r[1] for r in rows)
            after = rows[-1][0]

    def close(self) -> None:
        db = getattr(self._local, "db", None)
        if db is not None:
            db.conn.close()
            self._local.db = None


CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"  # what encode_cursor makes: base64url, no padding


def encode_cursor(value: str, document_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([value, document_id])).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[str, str]:
    """Raises ValueError when the cursor was not made by ``encode_cursor``."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        value, document_id = orjson.loads(base64.urlsafe_b64decode(padded))
    except Exception as error:
        raise ValueError(f"invalid cursor: {cursor!r}") from error
    if not isinstance(value, str) or not isinstance(document_id, str):
        raise ValueError(f"invalid cursor: {cursor!r}")
    return value, document_id


def dump_tables(db: sqlite_utils.Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of the client-visible tables, for comparing a live model with a replay."""
    return {
        "documents": list(db.query("SELECT * FROM documents ORDER BY document_id")),
        "layers": list(db.query("SELECT * FROM layers ORDER BY document_id, name")),
        "annotations": list(db.query(
            "SELECT * FROM annotations ORDER BY document_id, layer, id")),
        "attachments": list(db.query(
            "SELECT * FROM attachments ORDER BY document_id, attachment_id")),
        "changes": list(db.query("SELECT * FROM changes ORDER BY revision")),
        "sections": list(db.query("SELECT * FROM sections ORDER BY document_id, layer, "
                                  "revision")),
        "comments": list(db.query("SELECT * FROM comments ORDER BY document_id, layer, id")),
        "comment_changes": list(db.query("SELECT * FROM comment_changes ORDER BY revision")),
        "revoked": list(db.query("SELECT * FROM revoked ORDER BY jti")),
    }
