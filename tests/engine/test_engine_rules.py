"""annolog's content rules against the engine itself (issue 26, sections 2 and 3): a null is
refused exactly where the engine refuses the whole document for it; what the engine takes in
another shape (#F00, rgb(), an alpha, pageIndex 0.0, a goTo with no page, ink with no lines,
opacity 1.5, a rotation of -90) annolog takes too, and stores in a form that means the same to
the engine and that it exports back unchanged."""

from __future__ import annotations

import base64
import hashlib
import io
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from eventstore.validation import FIELD_RULES, ContentError, accepted_content
from tests.engine.oracle import FORMAT, Engine
from tests.engine.records import TYPES, differences, record


def png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


PNG = png()
PNG_ID = hashlib.sha256(PNG).hexdigest()
ATTACHMENTS = {PNG_ID: {"binary": base64.b64encode(PNG).decode(), "contentType": "image/png"}}


def document(records: list[dict[str, Any]]) -> dict[str, Any]:
    return {"format": FORMAT, "annotations": records, "attachments": ATTACHMENTS}


def minimal(kind: str, record_id: str = "r1", /, **extra: Any) -> dict[str, Any]:
    if kind == "pspdfkit/image":
        extra = {"imageAttachmentId": PNG_ID, **extra}
    return record(kind, record_id, **extra)


def accepts(content: dict[str, Any]) -> bool:
    try:
        accepted_content(content)
    except ContentError as error:
        assert "may not be null" in str(error), error
        return False
    return True


@pytest.mark.parametrize("kind", TYPES)
def test_a_null_is_refused_exactly_where_the_engine_refuses_the_document(
        engine: Engine, blank_pdf: Path, kind: str) -> None:
    keys = sorted((set(FIELD_RULES) | {"text"}) - {"bbox", "opacity", "createdAt",
                                                   "updatedAt"})
    nulls = {key: minimal(kind, f"null-{key}", **{key: None}) for key in keys}
    taken = [r for r in nulls.values() if accepts({k: v for k, v in r.items() if k != "id"})]
    answer = engine.load(blank_pdf, document=document(taken))
    assert answer["ok"], f"annolog takes these nulls, the engine refuses: {answer['error']}"
    for key, refused in nulls.items():
        if refused in taken:
            continue
        answer = engine.load(blank_pdf, document=document([refused]))
        assert not answer["ok"], f"annolog refuses {key}: null in a {kind}; the engine takes it"


def test_times_and_the_always_refused_nulls_are_refused_on_every_type() -> None:
    for kind in TYPES:
        for key in ("bbox", "opacity", "createdAt", "updatedAt", "action", "flags",
                    "blendMode"):
            assert not accepts({k: v for k, v in minimal(kind, **{key: None}).items()
                                if k != "id"}), (kind, key)


RECTANGLE = "pspdfkit/shape/rectangle"
# Shapes the engine takes (section 3 and around it); each is stored as the engine exports it.
SHAPES: list[tuple[str, dict[str, Any]]] = [
    (RECTANGLE, {"pageIndex": 0.0}),
    (RECTANGLE, {"pageIndex": 1.0}),
    *[(RECTANGLE, {"strokeColor": color}) for color in (
        "#F00", "#f0a", "#ff0000", "#FF0000AA", "#FF000000", "#00000000", "#FFFFFF00",
        "rgb(255,0,0)", "rgb(255, 0, 0)", "rgba(255,0,0,0.5)", "rgba(0,0,0,0)",
        "rgb(300,-1,1.5)", " #abc")],
    (RECTANGLE, {"fillColor": "#00000000"}),
    ("pspdfkit/note", {"color": "#F00"}),
    ("pspdfkit/note", {"color": "#00000000"}),
    ("pspdfkit/markup/highlight", {"color": "rgb(0, 128, 255)"}),
    ("pspdfkit/text", {"fontColor": "#0F0", "backgroundColor": "#00000000"}),
    *[(RECTANGLE, {"opacity": opacity}) for opacity in (1.5, -0.5, 0, 100)],
    ("pspdfkit/ink", {"lines": None}),
    ("pspdfkit/link", {"action": {"type": "goTo"}}),
    ("pspdfkit/link", {"action": {"type": "goTo", "pageIndex": 1.0}}),
    ("pspdfkit/link", {"action": {"type": "uri", "uri": "https://a.example",
                                  "subactions": [{"type": "goTo"}]}}),
    *[(kind, {"rotation": rotation}) for kind in ("pspdfkit/stamp", "pspdfkit/text")
      for rotation in (45.5, -90, -90.5, 370, 720)],
    *[("pspdfkit/note", {"icon": icon}) for icon in ("Comment", "RightPointer", "help")],
    (RECTANGLE, {"measurementPrecision": "twoDp",
                 "measurementScale": {"unitFrom": "pt", "unitTo": "in", "from": 1, "to": 2}}),
    (RECTANGLE, {"note": None, "customData": None, "color": None}),
    ("pspdfkit/image", {"description": "a red square", "rotation": 90}),
]


FREE_TEXT = ("name", "note", "subject", "creatorName", "overlayText")


def meaning(exported: dict[str, Any]) -> dict[str, Any]:
    """An exported record but its id; a free text the engine read from null as "" is the
    same as none (annolog leaves such a null out)."""
    return {k: v for k, v in exported.items()
            if k != "id" and not (k in FREE_TEXT and v == "")}


def shaped(index: int, kind: str, change: dict[str, Any]) -> dict[str, Any]:
    content = minimal(kind, f"sent-{index}", **change)
    if change.get("lines", 0) is None:
        del content["lines"]  # ink with no lines at all
    return content


def test_what_the_engine_takes_annolog_stores_as_the_engine_exports_it(
        engine: Engine, blank_pdf: Path) -> None:
    sent = [shaped(i, kind, change) for i, (kind, change) in enumerate(SHAPES)]
    stored = [{**accepted_content({k: v for k, v in r.items() if k != "id"}),
               "id": r["id"].replace("sent", "stored")} for r in sent]
    answer = engine.load(blank_pdf, document=document(sent + stored))
    assert answer["ok"], answer["error"]
    exported = {r["id"]: r for r in answer["instantJSON"]["annotations"]}
    for before, after in zip(sent, stored, strict=True):
        as_sent, as_stored = (meaning(exported[r["id"]]) for r in (before, after))
        assert as_sent == as_stored, (before, after)  # the same record to the engine
        assert differences(after, exported[after["id"]]) == [], after
