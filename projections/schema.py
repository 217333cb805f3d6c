"""The read model's tables, built with sqlite-utils. Disposable: rebuilt from the log at will."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import sqlite_utils

log = logging.getLogger(__name__)

SCHEMA_VERSION = 7  # bump to force a rebuild of existing read models at start-up


def connect(path: Path | str, *, readonly: bool = False) -> sqlite_utils.Database:
    """A connection to the read model. The writer side uses ``synchronous=NORMAL``: the
    read model is rebuildable and its position commits with its rows, so a lost tail after a
    power cut is simply projected again."""
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False,
                               isolation_level=None)
    else:
        conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA cache_size=-16384")  # five indexes take every write: see CACHE_KIB
    conn.execute("PRAGMA busy_timeout=30000")
    return sqlite_utils.Database(conn)


def ensure_schema(db: sqlite_utils.Database) -> None:
    db.table("documents").create({
        "document_id": str, "instance": str, "title": str, "sha256": str, "byte_size": int,
        "password_protected": int, "page_count": int, "pages": str, "created_at": str,
        "updated_at": str, "version": int, "revision": int, "deleted": int,
        "copied_from": str,
    }, pk="document_id", if_not_exists=True)
    if "copied_from" not in db.table("documents").columns_dict:  # a read model of 0.8
        db.table("documents").add_column("copied_from", str)
    db.table("layers").create({
        "document_id": str, "name": str, "created_at": str, "revision": int,
    }, pk=("document_id", "name"), if_not_exists=True)
    db.table("annotations").create({
        "document_id": str, "layer": str, "id": str, "page_index": int, "group_name": str,
        "created_by": str, "updated_by": str, "record": str, "version": int,
        "revision": int, "created_revision": int, "created_at": str, "updated_at": str,
        "deleted": int,
    }, pk=("document_id", "layer", "id"), if_not_exists=True)
    db.table("annotations").create_index(
        ["document_id", "layer", "deleted", "created_revision"], if_not_exists=True,
        index_name="annotations_by_layer")
    db.table("annotations").create_index(
        ["document_id", "layer", "deleted", "page_index", "created_revision"],
        if_not_exists=True, index_name="annotations_by_page")
    db.table("attachments").create({
        "document_id": str, "attachment_id": str, "sha256": str, "content_type": str,
        "byte_size": int, "created_at": str, "revision": int,
    }, pk=("document_id", "attachment_id"), if_not_exists=True)
    # One row per annotation event: history, change feeds and time travel without the log.
    db.table("changes").create({
        "revision": int, "document_id": str, "layer": str, "annotation_id": str,
        "version": int, "kind": str, "at": str, "user_id": str, "record": str,
        "request_id": str,  # the write's: a client knows its own changes by it
    }, pk="revision", if_not_exists=True)
    db.table("changes").create_index(["document_id", "layer", "revision"], if_not_exists=True,
                               index_name="changes_by_layer")
    index_changes_by_annotation(db)
    db.table("changes").create_index(["at"], if_not_exists=True, index_name="changes_by_time")
    # Every version of a layer's other Instant JSON sections, for exports at any revision.
    db.table("sections").create({
        "document_id": str, "layer": str, "revision": int, "sections": str,
    }, pk=("document_id", "layer", "revision"), if_not_exists=True)
    # Comments: the latest version of each, and one row per comment event (their history
    # and the state of a layer's threads at any revision).
    db.table("comments").create({
        "document_id": str, "layer": str, "id": str, "root_id": str, "group_name": str,
        "created_by": str, "updated_by": str, "record": str, "version": int,
        "revision": int, "created_revision": int, "created_at": str, "updated_at": str,
        "deleted": int,
    }, pk=("document_id", "layer", "id"), if_not_exists=True)
    db.table("comments").create_index(
        ["document_id", "layer", "root_id", "deleted", "created_revision"],
        if_not_exists=True, index_name="comments_by_root")
    db.table("comment_changes").create({
        "revision": int, "document_id": str, "layer": str, "comment_id": str,
        "version": int, "kind": str, "at": str, "user_id": str, "record": str,
        "request_id": str,
    }, pk="revision", if_not_exists=True)
    db.table("comment_changes").create_index(
        ["document_id", "layer", "comment_id", "revision"], if_not_exists=True,
        index_name="comment_changes_by_comment")
    db.table("comment_changes").create_index(
        ["document_id", "layer", "revision"], if_not_exists=True,
        index_name="comment_changes_by_layer")
    db.table("comment_changes").create_index(["at"], if_not_exists=True,
                                             index_name="comment_changes_by_time")
    db.table("revoked").create({"jti": str, "expires": int, "revision": int}, pk="jti",
                         if_not_exists=True)
    db.table("positions").create({"name": str, "revision": int}, pk="name", if_not_exists=True)
    db.table("meta").create({"key": str, "value": str}, pk="key", if_not_exists=True)


def index_changes_by_annotation(db: sqlite_utils.Database) -> None:
    db.table("changes").create_index(["document_id", "layer", "annotation_id", "revision"],
                               if_not_exists=True, index_name="changes_by_annotation")


def drop_indexes(db: sqlite_utils.Database) -> None:
    """Drop the secondary indexes (``ensure_schema`` builds them again)."""
    for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND "
                              "sql IS NOT NULL").fetchall():
        db.execute(f"DROP INDEX {name}")


def schema_version(db: sqlite_utils.Database) -> int | None:
    if "meta" not in db.table_names():
        return None
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return int(row[0]) if row else None


def reset(path: Path) -> None:
    """Delete the read-model file and its WAL: the next projector replays from revision 0."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def open_read_model(path: Path) -> sqlite_utils.Database:
    """Open (creating or migrating) the read model for the projector. One that is not a
    database at all (a file torn or overwritten) is dropped: the log rebuilds it."""
    if path.exists():
        try:
            db = connect(path)
            if schema_version(db) == SCHEMA_VERSION:
                return db
            db.conn.close()
        except sqlite3.DatabaseError as error:
            log.warning("the read model %s cannot be read (%s); rebuilding it", path, error)
        reset(path)
    db = connect(path)
    ensure_schema(db)
    db.table("meta").upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
    return db


TABLES = ("documents", "layers", "annotations", "attachments", "changes", "sections",
          "comments", "comment_changes", "revoked", "positions")
