"""Read-only queries on the read model. Records are stored in the shape they are served."""

from __future__ import annotations

import base64
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import sqlite_utils

from projections.schema import connect


@dataclass(frozen=True)
class DocumentRow:
    document_id: str
    instance: str
    title: str | None
    sha256: str
    byte_size: int
    password_protected: bool
    pages: list[dict[str, Any]] | None
    created_at: str
    revision: int

    @property
    def page_count(self) -> int | None:
        return len(self.pages) if self.pages is not None else None


DOCUMENT_COLUMNS = ("document_id, instance, title, sha256, byte_size, password_protected, "
                    "pages, created_at, revision")


def _document(row: tuple) -> DocumentRow:
    pages = orjson.loads(row[6]) if row[6] is not None else None
    return DocumentRow(row[0], row[1], row[2], row[3], row[4], bool(row[5]), pages, row[7],
                       row[8])


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

    def layers(self, document_id: str) -> list[str]:
        return [r[0] for r in self.db.execute(
            "SELECT name FROM layers WHERE document_id = ? ORDER BY name", [document_id])]

    def layer_exists(self, document_id: str, layer: str) -> bool:
        return layer == "" or self.db.execute(
            "SELECT 1 FROM layers WHERE document_id = ? AND name = ?",
            [document_id, layer]).fetchone() is not None

    def attachment(self, document_id: str, attachment_id: str) -> tuple[str, int] | None:
        """(content type, size) of an attachment the document holds, else None."""
        row = self.db.execute(
            "SELECT content_type, byte_size FROM attachments WHERE document_id = ? AND "
            "attachment_id = ?", [document_id, attachment_id]).fetchone()
        return (row[0], row[1]) if row else None

    def annotation(self, document_id: str, layer: str, annotation_id: str) -> bytes | None:
        """The served record as JSON bytes, or None when absent or deleted."""
        row = self.db.execute(
            "SELECT record FROM annotations WHERE document_id = ? AND layer = ? AND id = ? "
            "AND deleted = 0", [document_id, layer, annotation_id]).fetchone()
        return row[0].encode() if row else None

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
    }
