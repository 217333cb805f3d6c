"""A PDF write that fails half-way leaves nothing behind for the next one in the process
(the offload workers write many): found by the XFDF property (issue 26, section 5)."""

from __future__ import annotations

from pathlib import Path

import pikepdf
import pytest

from eventstore.validation import accepted_content
from projections.pdf_annotations import PageSpace, annotation_dictionary, write_annotated
from projections.pdf_reading import read_annotations
from tests.conftest import make_pdf

TEXT = {"v": 2, "type": "pspdfkit/text", "pageIndex": 0, "bbox": [10, 10, 100, 40],
        "opacity": 1, "text": {"format": "plain", "value": "Grüße"},
        "horizontalAlign": "left", "verticalAlign": "top"}
STAMP = {"v": 2, "type": "pspdfkit/stamp", "pageIndex": 0, "bbox": [10, 60, 100, 40],
         "opacity": 1, "stampType": "Approved"}


def test_a_write_that_failed_half_way_does_not_break_the_next(tmp_path: Path) -> None:
    source = tmp_path / "blank.pdf"
    source.write_bytes(make_pdf(1))
    records = [{"id": "t", "content": accepted_content(TEXT)},
               {"id": "s", "content": accepted_content(STAMP)}]
    with pytest.raises(RuntimeError), pikepdf.Pdf.open(source) as pdf:
        for record in records:
            annotation_dictionary(pdf, record, PageSpace.of(pdf.pages[0]), {})
        raise RuntimeError("the write failed here")
    assert write_annotated(source, tmp_path / "out.pdf", records) == []
    assert sorted(i for i, _ in read_annotations(tmp_path / "out.pdf").records) == ["s", "t"]
