"""XFDF both ways at the edges (issue 26, section 5): what XFDF's own attributes cannot say
travels in annolog's element, another tool's XFDF without it still reads, and a broken or
hostile element is a reported error, never a wrong record. The whole field-by-field
comparison with the annotated PDF is tests/properties/test_xfdf_fidelity.py."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from xml.sax.saxutils import escape

import pytest

from eventstore.validation import accepted_content
from projections.xfdf import ANNOLOG_NS, NS, export_xfdf, read_xfdf
from tests.conftest import make_pdf
from tests.unit.test_pdf_actions import ACTIONS

CALLOUT = {"v": 2, "type": "pspdfkit/text", "pageIndex": 0, "bbox": [10, 10, 200, 80],
           "opacity": 1, "text": {"format": "plain", "value": "Grüße \u202e日本 😀"},
           "callout": {"start": [15, 15], "end": [60, 40], "innerRectInset": [50, 20, 0, 0]},
           "blendMode": "multiply", "customData": {"k": [1, "ü"]},
           "creatorName": "a\x01b", "name": "Name", "horizontalAlign": "left",
           "verticalAlign": "top"}


@pytest.fixture
def blank(tmp_path: Path) -> Path:
    path = tmp_path / "blank.pdf"
    path.write_bytes(make_pdf(3))
    return path


def round_trip(blank: Path, content: dict) -> dict:
    stored = accepted_content(content, 3)
    body, skipped = export_xfdf(blank, [{"id": "x", "content": stored}])
    assert skipped == 0
    read = read_xfdf(body, blank)
    assert read.errors == []
    [(record_id, got)] = read.records
    assert record_id == "x"
    return got


def test_a_callout_with_all_it_holds_comes_back(blank: Path) -> None:
    got = round_trip(blank, CALLOUT)
    for key in ("text", "callout", "blendMode", "customData",
                "creatorName", "name"):
        assert got[key] == accepted_content(CALLOUT)[key], key


def test_what_xml_cannot_hold_shows_as_a_replacement_and_comes_back_exact(blank: Path
                                                                          ) -> None:
    body, _ = export_xfdf(blank, [{"id": "x", "content": accepted_content(CALLOUT, 3)}])
    element = ET.fromstring(body).find(f"{{{NS}}}annots")[0]
    assert element.get("title") == "a\ufffdb"  # what another reader shows
    assert round_trip(blank, CALLOUT)["creatorName"] == "a\x01b"


@pytest.mark.parametrize("action", ACTIONS, ids=[a["type"] for a in ACTIONS])
def test_actions_of_every_type_come_back(blank: Path, action: dict) -> None:
    content = {"v": 2, "type": "pspdfkit/link", "pageIndex": 0, "bbox": [10, 10, 50, 20],
               "opacity": 1, "action": action}
    assert round_trip(blank, content)["action"] == accepted_content(content, 3)["action"]


def xfdf(inner: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><xfdf xmlns="{NS}" '
            f'xmlns:annolog="{ANNOLOG_NS}"><annots>{inner}</annots></xfdf>').encode()


def test_another_tools_xfdf_reads_without_annologs_element(blank: Path) -> None:
    read = read_xfdf(xfdf('<square page="0" rect="10,10,50,50" name="s1" color="#FF0000" '
                          'width="2" creationdate="D:20200101000000Z"/>'), blank)
    assert read.errors == []
    [(record_id, content)] = read.records
    assert record_id == "s1" and content["strokeColor"] == "#FF0000"
    assert content["createdAt"] == "2020-01-01T00:00:00Z" and "name" not in content


@pytest.mark.parametrize("element", [
    "(not a dictionary)", "<< /A <<", "[ 1 2 ]",
    "<< /A << /S /GoTo /D [ 7 /Fit ] >> >>",  # a page the PDF does not have
])
def test_a_broken_element_is_a_reported_error(blank: Path, element: str) -> None:
    read = read_xfdf(xfdf(f'<link page="0" rect="10,10,50,20" name="l1">'
                          f'<annolog:pdf>{escape(element)}</annolog:pdf></link>'), blank)
    assert read.records == [] and read.errors[0]["name"] == "l1"


def test_the_element_cannot_change_what_the_annotation_is(blank: Path) -> None:
    read = read_xfdf(xfdf('<square page="0" rect="10,10,50,50" name="s1">'
                          '<annolog:pdf>&lt;&lt; /Subtype /Link /Rect [ 0 0 1 1 ] &gt;&gt;'
                          '</annolog:pdf></square>'), blank)
    [(_, content)] = read.records
    assert content["type"] == "pspdfkit/shape/rectangle" and content["bbox"][2] == 40
