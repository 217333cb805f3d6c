"""A measured shape's scale and precision written into a PDF and read back (issue 26,
section 7; the engine's reading of the same is in tests/engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from eventstore.validation import ContentError, accepted_content
from projections.pdf_annotations import write_annotated
from projections.pdf_reading import read_annotations
from tests.conftest import make_pdf

SHAPES = {
    "pspdfkit/shape/rectangle": {},
    "pspdfkit/shape/line": {"startPoint": [10, 20], "endPoint": [40, 60]},
    "pspdfkit/shape/polyline": {"points": [[10, 20], [40, 60], [10, 60]]},
    "pspdfkit/shape/polygon": {"points": [[10, 20], [40, 60], [10, 60]]},
}
SCALES = [
    ({"from": 1, "to": 2, "unitFrom": "pt", "unitTo": "in"}, "0.01"),
    ({"from": 3, "to": 2.5, "unitFrom": "cm", "unitTo": "km", "fromDescription": "3",
      "toDescription": "2,5"}, "1/8"),
    ({"from": 0.5, "to": 100, "unitFrom": "mm", "unitTo": "mi"}, "1"),
]


def shape(kind: str, scale: dict, precision: str) -> dict:
    return accepted_content({"v": 2, "type": kind, "pageIndex": 0, "bbox": [10, 10, 50, 60],
                             "opacity": 1, "strokeWidth": 2, "measurementScale": scale,
                             "measurementPrecision": precision, **SHAPES[kind]})


@pytest.mark.parametrize("kind", sorted(SHAPES))
@pytest.mark.parametrize("scale, precision", SCALES)
def test_a_scale_reads_back_as_it_was_stored(tmp_path: Path, kind: str, scale: dict,
                                            precision: str) -> None:
    source, target = tmp_path / "in.pdf", tmp_path / "out.pdf"
    source.write_bytes(make_pdf(1))
    stored = shape(kind, scale, precision)
    write_annotated(source, target, [{"id": "m", "content": stored}])
    [(_, content)] = read_annotations(target).records
    assert content["measurementScale"] == stored["measurementScale"]
    assert content["measurementPrecision"] == stored["measurementPrecision"]


@pytest.mark.parametrize("scale, reason", [
    ({"from": 1, "to": 2, "unitFrom": "ft", "unitTo": "in"}, "'unitFrom'"),
    ({"from": 1, "to": 2, "unitFrom": "pt", "unitTo": "parsec"}, "'unitTo'"),
    ({"from": "1", "to": 2, "unitFrom": "pt", "unitTo": "in"}, "'from' must be"),
    ({"to": 2, "unitFrom": "pt", "unitTo": "in"}, "'from' must be"),
    ({"from": 1, "to": 2, "unitFrom": "pt", "unitTo": "in", "toDescription": "two"},
     "'toDescription' must be empty or the number"),
    ({"from": 1, "to": 2.5, "unitFrom": "pt", "unitTo": "in", "toDescription": "2"},
     "'toDescription'"),
    ({"from": 1, "to": 2, "unitFrom": "pt", "unitTo": "in", "toDescription": "٢"},
     "'toDescription'"),
])
def test_scales_the_engine_refuses_are_refused(scale: dict, reason: str) -> None:
    """Each of these was stored, and made the engine refuse the whole document."""
    with pytest.raises(ContentError, match=reason):
        shape("pspdfkit/shape/rectangle", scale, "1")


def test_empty_descriptions_are_left_out_as_the_engine_exports_them() -> None:
    stored = shape("pspdfkit/shape/rectangle", {"from": 1, "to": 2, "unitFrom": "pt",
                                                "unitTo": "in", "fromDescription": "",
                                                "toDescription": None}, "1")
    assert stored["measurementScale"] == {"from": 1, "to": 2, "unitFrom": "pt", "unitTo": "in"}
