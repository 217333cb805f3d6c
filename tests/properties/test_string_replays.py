"""Any string the log can hold (ids, layer names, document ids, users, groups, content) comes
back exactly from every path that builds a read model: the live projector, the bulk replay
done by SQLite, and the replay done in Python (the path of PostgreSQL logs, tested on one).

Regression: SQLite's JSON functions cut text at U+0000, so the bulk replay merged records
``k`` and ``k\\0x`` and moved layers; ``annolog verify`` could not see it (issue 12)."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from eventstore.commands import (
    CreateAnnotation,
    CreateLayer,
    DeleteAnnotation,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.log import open_log
from eventstore.writer import Writer
from projections.projector import Projector
from projections.rebuild import replay
from tests.conftest import postgres_schema
from tests.projections.test_rebuild import python_replay, tables

# Every code point but surrogates, which UTF-8 (and so the log) cannot carry; short
# strings that share prefixes, so that a string cut short collides with another.
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=4)
NAMES = st.sampled_from(["k", "k\0", "k\0x", "\0", "é", "k\x01", "L"]) | TEXT
IDS = NAMES.filter(bool)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1) | TEXT
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=8)
CONTENT = st.fixed_dictionaries({"pageIndex": st.integers(0, 3), "text": TEXT,
                                 "customData": st.dictionaries(TEXT, JSON, max_size=3)})
OPTIONAL = st.none() | NAMES
WRITE = st.one_of(
    st.tuples(st.just("create"), NAMES, IDS, CONTENT, OPTIONAL, OPTIONAL),
    st.tuples(st.just("update"), NAMES, IDS, CONTENT, OPTIONAL, OPTIONAL),
    st.tuples(st.just("delete"), NAMES, IDS, CONTENT, OPTIONAL, OPTIONAL),
    st.tuples(st.just("layer"), IDS, IDS, CONTENT, OPTIONAL, OPTIONAL),
)


def command(document_id: str, write: tuple) -> object:
    kind, layer, annotation_id, content, group, user = write
    if kind == "create":
        return CreateAnnotation(document_id, layer, annotation_id, content, group, user)
    if kind == "update":
        return UpdateAnnotation(document_id, layer, annotation_id, content, user, group=group,
                                keep_group=group is None)
    if kind == "delete":
        return DeleteAnnotation(document_id, layer, annotation_id, user)
    return CreateLayer(document_id, layer)


DOCUMENT_IDS = st.lists(IDS, min_size=1, max_size=3, unique=True)
WRITES = st.lists(st.tuples(st.integers(0, 2), st.lists(WRITE, min_size=1, max_size=4)),
                  min_size=1, max_size=8)


@settings(max_examples=120, deadline=None)
@given(document_ids=DOCUMENT_IDS, writes=WRITES)
def test_every_replay_path_gives_the_live_read_model(document_ids, writes):
    check_every_replay_path(document_ids, writes, None)


@settings(max_examples=25, deadline=None)
@given(document_ids=DOCUMENT_IDS, writes=WRITES)
def test_a_postgresql_log_replays_any_string_exactly(document_ids, writes):
    with postgres_schema() as url:
        check_every_replay_path(document_ids, writes, url)


def check_every_replay_path(document_ids: list[str], writes: list, database_url: str | None
                            ) -> None:
    directory = Path(tempfile.mkdtemp())
    try:
        log = open_log(directory / "log", database_url)
        projector = Projector(log, directory / "live.sqlite")
        writer = Writer(log, on_commit=projector.offer)
        writer.start()
        writer.execute([UploadDocument(d, d or None, "00", 1, False, None)
                        for d in document_ids])
        for which, batch in writes:
            document_id = document_ids[which % len(document_ids)]
            writer.execute([command(document_id, write) for write in batch])
        writer.stop()
        projector.catch_up()
        projector.stop()
        assert replay(log, directory / "sql.sqlite") == log.max_revision()  # SQL if SQLite
        assert python_replay(log, directory / "python.sqlite") == log.max_revision()
        live = tables(directory / "live.sqlite")
        live.pop("meta")
        for path in ("sql.sqlite", "python.sqlite"):
            replayed = tables(directory / path)
            replayed.pop("meta")
            assert replayed == live, path
        log.close()
    finally:
        shutil.rmtree(directory, ignore_errors=True)
