"""A fresh replay of the embedded log done by SQLite itself: the read model attaches the log
file and copies annotation events with SQLite's JSON functions, with no Python per event.

It gives the same rows as ``ReadModelWriter`` (a test replays both ways and compares every
table), by this reasoning: an annotation event counts only if its document's *final*
instance is live, because a reupload or a deletion drops the document's rows and later events
of an older instance are ignored. So documents, layers, attachments and revocations (few
events) go first through ``ReadModelWriter`` in log order; then every annotation event of a
live instance becomes a ``changes`` row; then each annotation's row is its last change, with
its creation taken from its latest creation (or, lacking one, its first event).

SQLite's JSON functions end a text value at U+0000, so events holding one are decoded by
Python (``ReadModelWriter.insert_changes``) and records holding one have their text columns
read by Python too: any string the log holds comes back exact.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson
import sqlite_utils

from eventstore.domain import Attachment, Comment, Document, Layer, LayerSections, Token
from eventstore.log import EventLog
from eventstore.times import stored_time_text
from eventstore.transcoding import timestamp_sql
from projections.read_model_writer import CREATIONS, KINDS, POSITION, ReadModelWriter
from projections.schema import (
    drop_indexes,
    ensure_schema,
    index_changes_by_annotation,
    open_read_model,
)

REPLAY_BATCH = 20_000  # events per transaction of a replay done in Python
# A fresh build's page cache: with 32 MB (and two sorter threads) a 1M-event rebuild and
# verify fit in the 300 MB an operator may count on (264 and 277 MB); 256 MB was 5-12 %
# faster and 430 MB larger.
BULK_CACHE_KIB = 32_768
CHUNK = 100_000  # revisions per INSERT ... SELECT, for progress reports
PARALLEL_FROM = 200_000  # revisions; a shorter log is decoded by one thread
OTHER_KINDS = (Document.Uploaded, Document.Reuploaded, Document.Deleted, Document.Copied,
               Layer.Created,
               Layer.Recreated, Layer.Deleted, Attachment.Attached, Token.Revoked,
               LayerSections.Started, LayerSections.Changed, Comment.Created,
               Comment.Updated, Comment.Recreated, Comment.Deleted)

# The timestamp is stored tagged, as an ISO text in UTC (``…+00:00``); written as ``_at``
# writes it. Any other offset goes through ``_at`` itself.
AT = """CASE WHEN e.at LIKE '%+00:00' THEN
    (CASE WHEN substr(e.at, 20, 1) = '.' THEN substr(e.at, 1, 26)
          ELSE substr(e.at, 1, 19) || '.000000' END) || 'Z'
    ELSE annolog_at(e.at) END"""

CHANGE_COLUMNS = ("revision, document_id, layer, annotation_id, version, kind, at, user_id, "
                  "record, request_id")
SELECTED = ", ".join(AT if column == "at" else f"e.{column}"
                     for column in CHANGE_COLUMNS.split(", "))

# SQLite's JSON functions cut text at U+0000 (a key "k\\u0000one" came back as "k"), so
# the events that hold one are left to Python, which decodes them exactly.
HAS_NUL = "instr(state, X'5C7530303030') > 0"  # the bytes of the JSON escape \\u0000
ANNOTATION_TOPICS = ", ".join(f"'{t}'" for t in KINDS)
KIND_CASES = " ".join(f"WHEN '{topic}' THEN '{kind}'" for topic, kind in KINDS.items())
# One row per annotation event of revisions ? < r <= ?: the changes row (with the stored
# timestamp text as ``at``), and its instance. Plain SQL, so that a child process can run it.
SELECT_CHANGES = f"""
SELECT e.revision, e.document_id, json_extract(e.s, '$.layer') AS layer, e.annotation_id,
    e.version, CASE e.topic {KIND_CASES} END AS kind,
    e.t AS at,
    CASE WHEN e.topic IN ({', '.join(f"'{t}'" for t in CREATIONS)})
         THEN json_extract(e.s, '$.created_by')
         ELSE json_extract(e.s, '$.updated_by') END AS user_id,
    json_object('id', e.annotation_id, 'content', json_extract(e.s, '$.content'),
                'createdBy', json_extract(e.s, '$.created_by'),
                'updatedBy', json_extract(e.s, '$.updated_by'),
                'group', json_extract(e.s, '$.group')) AS record,
    json_extract(e.s, '$.request_id') AS request_id,
    e.instance
FROM (SELECT revision, version, topic, s,
             json_extract(s, '$.document_id') AS document_id,
             json_extract(s, '$.instance') AS instance,
             json_extract(s, '$.annotation_id') AS annotation_id,
             {timestamp_sql('s')} AS t
      FROM (SELECT revision, version, topic, CAST(state AS TEXT) AS s
            FROM ({{events}})
            WHERE revision > ? AND revision <= ? AND topic IN ({ANNOTATION_TOPICS})
              AND NOT {HAS_NUL})) AS e
"""
SELECT_WITH_NUL = f"""
SELECT revision, version, topic, state FROM ({{events}})
WHERE revision <= ? AND topic IN ({ANNOTATION_TOPICS}) AND {HAS_NUL} ORDER BY revision
"""
LIVE = "d.document_id = e.document_id AND d.instance = e.instance AND d.deleted = 0"

INSERT_CHANGES = f"""
INSERT INTO changes ({CHANGE_COLUMNS})
SELECT {SELECTED} FROM ({SELECT_CHANGES}) AS e
JOIN documents AS d ON {LIVE} ORDER BY e.revision
"""

# The child process's half goes to a scratch file first, as it cannot write the read model
PENDING_TABLE = f"CREATE TABLE pending ({CHANGE_COLUMNS}, instance)"
INSERT_PENDING = f"INSERT INTO pending {SELECT_CHANGES}"
INSERT_FROM_PENDING = f"""
INSERT INTO changes ({CHANGE_COLUMNS})
SELECT {SELECTED} FROM part.pending AS e
JOIN documents AS d ON {LIVE} ORDER BY e.rowid
"""  # rowid order is revision order (the child inserts in log order) and needs no sort


def _record_text(key: str) -> str:
    """A text field of ``c.record``; a record holding U+0000 is read by Python."""
    return (f"CASE WHEN instr(c.record, '\\u0000') > 0 THEN annolog_field(c.record, '{key}') "
            f"ELSE json_extract(c.record, '$.{key}') END")


INSERT_ANNOTATIONS = f"""
INSERT INTO annotations (document_id, layer, id, page_index, group_name, created_by,
    updated_by, record, version, revision, created_revision, created_at, updated_at, deleted)
SELECT c.document_id, c.layer, c.annotation_id, json_extract(c.record, '$.content.pageIndex'),
    {_record_text('group')}, {_record_text('createdBy')}, {_record_text('updatedBy')},
    c.record, c.version, c.revision, k.revision, k.at,
    c.at, c.kind = 'deleted'
FROM (SELECT max(revision) AS last,
             coalesce(max(CASE WHEN kind IN ('created', 'recreated') THEN revision END),
                      min(revision)) AS born
      FROM changes GROUP BY document_id, layer, annotation_id) AS g
JOIN changes AS c ON c.revision = g.last
JOIN changes AS k ON k.revision = g.born
ORDER BY c.document_id, c.layer, c.annotation_id
"""


def replay(log: EventLog, path: Path, upto: int | None = None,
           progress: Callable[[int], None] | None = None, *, by_sql: bool = True) -> int:
    """Build a read model at ``path`` from revision 0 (up to ``upto``); returns its position.

    A fresh read model is built in bulk: SQLite replays an embedded log itself (unless
    ``by_sql`` is False: Python then projects every event, as the live projector does), and
    the indexes are built once at the end, far cheaper than row by row."""
    db = open_read_model(path)
    try:
        if ReadModelWriter(db).position():
            return _apply_in_batches(log, db, upto, progress)
        with bulk_settings(db):
            drop_indexes(db)
            last = log.max_revision() if upto is None else min(upto, log.max_revision())
            if last and by_sql:
                sql_replay(log, db, last, progress)
            position = _apply_in_batches(log, db, upto, progress)
            ensure_schema(db)
        return position
    finally:
        db.conn.close()


def _apply_in_batches(log: EventLog, db: sqlite_utils.Database, upto: int | None,
                      progress: Callable[[int], None] | None) -> int:
    """Apply, in Python, what the log holds beyond the read model's position."""
    writer = ReadModelWriter(db)
    position = writer.position()
    while batch := log.read_facts(position, REPLAY_BATCH, upto, raw_timestamps=True):
        position = writer.apply(batch)
        if progress is not None:
            progress(position)
    return position


@contextmanager
def bulk_settings(db: sqlite_utils.Database) -> Iterator[None]:
    """For building a fresh read model: a rollback journal (new pages are written once, not
    to the WAL and again to the file) and a larger page cache, within the 300 MB an operator
    may count on. The usual settings come back afterwards."""
    conn = db.conn
    conn.execute("PRAGMA main.journal_mode = DELETE")
    conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
    conn.execute("PRAGMA threads = 2")  # sorter threads for the GROUP BY and index builds
    try:
        yield
    finally:
        conn.execute("PRAGMA main.journal_mode = WAL")
        conn.execute("PRAGMA cache_size = -2000")
        conn.execute("PRAGMA threads = 0")


def sql_replay(log: EventLog, db: sqlite_utils.Database, upto: int,
               progress: Callable[[int], None] | None = None) -> bool:
    """Replay revisions 1..``upto`` into the empty read model ``db`` in one transaction.
    Returns False, having done nothing, when the log is not an embedded SQLite file.

    A long log is cut in two halves decoded at once: this process decodes the first into the
    read model while a child process decodes the second into a scratch file, copied in at
    the end. (Not a thread: SQLite's allocator takes a global mutex, and two threads
    decoding JSON ran slower than one.)"""
    source = log.sqlite_source()
    if source is None:
        return False
    log_path, events = source
    conn = db.conn
    _register_functions(conn)
    split = upto // 2 if upto >= PARALLEL_FROM else upto
    part = Path(conn.execute("PRAGMA database_list").fetchone()[2] + ".part")
    if split < upto:
        _create_part(part)
        conn.execute("ATTACH DATABASE ? AS part", [str(part)])
    conn.execute("ATTACH DATABASE ? AS log", [str(log_path)])
    child = None
    try:
        if split < upto:
            child = _start_decoding(part, log_path, events, split, upto)
        with db.atomic():
            writer = ReadModelWriter(db)
            writer.apply(log.read_all(upto=upto, kinds=OTHER_KINDS))
            statement = INSERT_CHANGES.format(events=events)
            for start in range(0, split, CHUNK):
                conn.execute(statement, [start, min(split, start + CHUNK)])
                if progress is not None:
                    progress(min(split, start + CHUNK))
            if child is not None:
                _finish_decoding(child)
                conn.execute(INSERT_FROM_PENDING)
                if progress is not None:
                    progress(upto)
            writer.insert_changes(
                (revision, version, topic, orjson.loads(state)) for revision, version, topic,
                state in conn.execute(SELECT_WITH_NUL.format(events=events), [upto]))
            index_changes_by_annotation(db)  # needed anyway; the GROUP BY then needs no sort
            conn.execute(INSERT_ANNOTATIONS)
            conn.execute("INSERT INTO positions (name, revision) VALUES (?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET revision = excluded.revision",
                         [POSITION, upto])
    finally:
        if child is not None and child.poll() is None:
            child.kill()
            child.wait()
        conn.execute("DETACH DATABASE log")
        if split < upto:
            conn.execute("DETACH DATABASE part")
            part.unlink(missing_ok=True)
    return True


def _register_functions(conn: sqlite3.Connection) -> None:
    conn.create_function("annolog_at", 1, stored_time_text,
                         deterministic=True)
    conn.create_function("annolog_field", 2, lambda record, key: orjson.loads(record)[key],
                         deterministic=True)


def _create_part(part: Path) -> None:
    part.unlink(missing_ok=True)
    conn = sqlite3.connect(part, isolation_level=None)
    try:
        conn.execute(PENDING_TABLE)
    finally:
        conn.close()


def _start_decoding(part: Path, log_path: Path, events: str, after: int, upto: int
                    ) -> subprocess.Popen:
    """A child process decoding revisions after..upto into the scratch file."""
    return subprocess.Popen(
        [sys.executable, "-c", DECODE_SCRIPT, str(part), str(log_path),
         INSERT_PENDING.format(events=events), str(after), str(upto), str(CHUNK)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _finish_decoding(child: subprocess.Popen) -> None:
    _, stderr = child.communicate()
    if child.returncode != 0:
        raise RuntimeError("the replay's decoding process failed: "
                           + stderr.decode(errors="replace").strip())


# Standard library only, and arguments only: it runs under ``python -c``
DECODE_SCRIPT = """
import sqlite3, sys
part, log_path, statement, after, upto, chunk = sys.argv[1:]
conn = sqlite3.connect(part, isolation_level=None)
conn.execute("PRAGMA journal_mode = OFF")  # a scratch file, deleted on any failure
conn.execute("PRAGMA synchronous = OFF")
conn.execute("ATTACH DATABASE ? AS log", [log_path])
conn.execute("BEGIN")
for start in range(int(after), int(upto), int(chunk)):
    conn.execute(statement, [start, min(int(upto), start + int(chunk))])
conn.execute("COMMIT")
conn.close()
"""
