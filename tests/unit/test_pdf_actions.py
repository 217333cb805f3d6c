"""Link actions of every type written into a PDF and read back (issue 26, section 7): the
engine's reading of the same PDF is checked in tests/engine/test_engine_pdfs.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstore.validation import accepted_content
from projections.pdf_annotations import write_annotated
from projections.pdf_reading import read_annotations
from tests.conftest import make_pdf

ACTIONS = [
    {"type": "uri", "uri": "https://é.example/ä?q=日本😀"},
    {"type": "goTo", "pageIndex": 1, "subactions": [
        {"type": "uri", "uri": "https://a"}, {"type": "named", "action": "print"}]},
    {"type": "goToRemote", "relativePath": "other.pdf", "namedDestination": "chapter 2"},
    {"type": "goToRemote", "relativePath": "other.pdf", "pageIndex": 3},
    {"type": "goToEmbedded", "relativePath": "inner.pdf", "newWindow": True,
     "targetType": "child"},
    {"type": "goToEmbedded", "relativePath": "outer.pdf", "newWindow": False,
     "targetType": "parent", "pageIndex": 2},
    {"type": "hide", "hide": False, "annotationReferences": [{"fieldName": "Name"}]},
    {"type": "resetForm", "fields": [{"fieldName": "a"}], "flags": "includeExclude"},
    {"type": "resetForm"},
    {"type": "submitForm", "uri": "https://example.com/submit", "fields": ["a", "b"],
     "flags": ["getMethod", "xfdf", "embedForm"]},
    {"type": "launch", "filePath": "notes.txt"},
    {"type": "javaScript", "script": "app.alert('Grüße, 日本')"},
    {"type": "named", "action": "NextPage"},
    {"type": "named", "action": "FullScreen"},
]


def link(action: dict) -> dict:
    return accepted_content({"v": 2, "type": "pspdfkit/link", "pageIndex": 0,
                             "bbox": [10, 10, 50, 20], "opacity": 1, "action": action})


@pytest.mark.parametrize("action", ACTIONS, ids=[a["type"] for a in ACTIONS])
def test_every_action_reads_back_as_it_was_stored(tmp_path: Path, action: dict) -> None:
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    source.write_bytes(make_pdf(2))
    stored = link(action)
    assert write_annotated(source, target, [{"id": "link-1", "content": stored}]) == []
    read = read_annotations(target)
    assert read.errors == []
    [(record_id, content)] = read.records
    assert record_id == "link-1"
    assert content["action"] == stored["action"]


def test_a_go_to_a_page_the_pdf_lacks_is_left_out_with_its_subactions(tmp_path: Path) -> None:
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    source.write_bytes(make_pdf(1))
    stored = link({"type": "goTo", "pageIndex": 4, "subactions": [{"type": "uri", "uri": "x"}]})
    write_annotated(source, target, [{"id": "link-1", "content": stored}])
    assert read_annotations(target).errors[0]["reason"].startswith("links without an action")
