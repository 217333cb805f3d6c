"""XFDF carries what the annotated PDF carries (issue 26, section 5). The engine judges the
PDF (tests/engine): what it reads from annolog's PDF equals the records. Here, records of
all 17 types with any of their fields (the engine property's generator) are exported as
XFDF and read back, and must give, field by field, exactly what reading annolog's PDF of
the same records gives: the callouts, cloudy borders, line ends, rich text, actions of
every type and the engine's own keys included, which XFDF's standard attributes have no
place for."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings

from eventstore.validation import accepted_content
from projections.pdf_annotations import write_annotated
from projections.pdf_reading import ReadAnnotations, read_annotations
from projections.xfdf import export_xfdf, read_xfdf
from tests.conftest import make_pdf
from tests.engine.test_engine_round_trip import DOCUMENTS
from tests.engine.test_engine_rules import PNG, PNG_ID

PAGES = 2


def stored(layer_records: tuple) -> list[dict[str, Any]]:
    """The records as annolog stores them, read as JSON is (an integer beyond 64 bits is a
    float, as in the engine property, which sends them)."""
    sent = orjson.loads(json.dumps(layer_records))
    return [{"id": r["id"], "content": accepted_content(
        {k: v for k, v in r.items() if k != "id"}, PAGES)} for r in sent]


def contents(read: ReadAnnotations) -> dict[str, dict[str, Any]]:
    found = {}
    for record_id, content in read.records:
        content.pop("pdfObjectId", None)  # the PDF's object number: XFDF has none
        found[record_id] = content
    return found


@settings(max_examples=100, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(layer_records=DOCUMENTS)
def test_an_xfdf_export_reads_back_as_the_annotated_pdf_does(tmp_path: Path,
                                                             layer_records: tuple) -> None:
    source, annotated, image = tmp_path / "blank.pdf", tmp_path / "ours.pdf", tmp_path / "png"
    source.write_bytes(make_pdf(PAGES))
    image.write_bytes(PNG)
    records, images = stored(layer_records), {PNG_ID: image}
    assert write_annotated(source, annotated, records, images=images) == []
    body, skipped = export_xfdf(source, records, images=images)
    assert skipped == 0
    from_pdf, from_xfdf = read_annotations(annotated), read_xfdf(body, source)
    assert from_pdf.errors == [] and from_xfdf.errors == []
    pdf, xfdf = contents(from_pdf), contents(from_xfdf)
    assert xfdf.keys() == pdf.keys()
    for record_id, content in pdf.items():
        assert xfdf[record_id] == content, record_id
