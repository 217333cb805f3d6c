"""Any record annolog accepts loads in the engine and comes back as annolog stored it (issue
26, section 2): records of every type with any of their fields, in every shape annolog takes,
written through the API; the layer's document.json is loaded by the engine with its strict
import, and its export is compared with annolog's records field by field (``differences``)."""

from __future__ import annotations

import base64
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eventstore.validation import (
    BLEND_MODES,
    BORDER_STYLES,
    FLAGS,
    LINE_CAPS,
    MEASUREMENT_PRECISIONS,
    STAMP_TYPES,
    accepted_content,
)
from tests.conftest import AUTH, make_pdf
from tests.engine.oracle import FORMAT, Engine
from tests.engine.records import KEPT, MINIMAL, TYPES, differences, record
from tests.engine.test_engine_rules import ATTACHMENTS, PNG_ID
from tests.live import Live

COORDINATE = st.floats(0, 600, allow_nan=False) | st.integers(0, 600)
SIZE = st.floats(0.5, 40, allow_nan=False) | st.integers(1, 40)
POINT = st.lists(COORDINATE, min_size=2, max_size=2)
RECT = st.lists(COORDINATE, min_size=4, max_size=4)
TEXT_RECT = st.tuples(COORDINATE, COORDINATE, COORDINATE, st.floats(1, 60)).map(list)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
COLOR = st.sampled_from(["#F00", "#abc", "#12AB9F", "#ff8800", "#FF0000AA", "#00000000",
                         "rgb(1,2,3)", "rgb(255, 0, 0)", "rgba(255,0,0,0.5)", "#000000"]) | \
    st.from_regex(r"#[0-9A-F]{6}", fullmatch=True)
TIME = st.datetimes(min_value=datetime(100, 1, 2)).map(
    lambda moment: moment.isoformat(timespec="seconds") + "Z").filter(
    lambda text: text != "1970-01-01T00:00:01Z") | \
    st.sampled_from(["2020-01-01T01:00:00+01:00", "2021-06-30T12:00:00.123Z"])
ACTION = st.one_of(
    st.builds(lambda uri: {"type": "uri", "uri": uri}, TEXT),
    st.builds(lambda page: {"type": "goTo", "pageIndex": page}, st.sampled_from([0, 1, 1.0])),
    st.just({"type": "goTo"}),
    st.builds(lambda name: {"type": "named", "action": name},
              st.sampled_from(["NextPage", "print", "ZoomIn", "none", "Custom", "Whatever"])),
)
FIELDS: dict[str, st.SearchStrategy[Any]] = {
    "opacity": st.floats(-0.5, 1.5, allow_nan=False) | st.sampled_from([0, 1]),
    "pageIndex": st.sampled_from([0, 1, 0.0, 1.0]),
    "bbox": RECT,
    "name": TEXT, "subject": TEXT, "note": TEXT, "creatorName": TEXT,
    "createdAt": TIME, "updatedAt": TIME,
    "flags": st.lists(st.sampled_from(sorted(FLAGS)), unique=True, max_size=3),
    "action": ACTION,
    "customData": st.dictionaries(TEXT, st.integers() | TEXT | st.booleans(), max_size=3),
    "blendMode": st.sampled_from(sorted(BLEND_MODES)),
    "color": COLOR, "strokeColor": COLOR, "backgroundColor": COLOR, "fillColor": COLOR,
    "fontColor": COLOR, "outlineColor": COLOR,
    "borderStyle": st.sampled_from(sorted(BORDER_STYLES)),
    "borderWidth": st.integers(0, 5),
    "lineCaps": st.fixed_dictionaries({}, optional={
        "start": st.sampled_from(sorted(LINE_CAPS)), "end": st.sampled_from(sorted(LINE_CAPS))}),
    "lines": st.lists(st.lists(POINT, min_size=1, max_size=4), max_size=3).map(
        lambda lines: {"points": lines, "intensities": [[0.5] * len(s) for s in lines]}),
    "callout": st.fixed_dictionaries(
        {"start": POINT, "end": POINT, "innerRectInset": RECT},
        optional={"knee": POINT, "cap": st.sampled_from(sorted(LINE_CAPS))}),
    "lineWidth": SIZE, "strokeWidth": SIZE,
    "rotation": st.floats(-720, 720, allow_nan=False) | st.sampled_from([0, 90, 180, 270]),
    "fontSize": SIZE,
    "font": st.sampled_from(["Helvetica", "Courier", "Times"]),
    "fontStyle": st.lists(st.sampled_from(["bold", "italic"]), unique=True),
    "isDrawnNaturally": st.booleans(), "isSignature": st.booleans(),
    "isFitting": st.booleans(),
    "horizontalAlign": st.sampled_from(["left", "center", "right"]),
    "verticalAlign": st.sampled_from(["top", "center", "bottom"]),
    "rects": st.lists(TEXT_RECT, min_size=1, max_size=3),
    "startPoint": POINT, "endPoint": POINT,
    "points": st.lists(POINT, min_size=2, max_size=5),
    "cloudyBorderIntensity": st.integers(0, 3),
    "strokeDashArray": st.lists(SIZE, min_size=2, max_size=2),
    "measurementPrecision": st.sampled_from(sorted(MEASUREMENT_PRECISIONS)),
    "measurementScale": st.just({"unitFrom": "pt", "unitTo": "in", "from": 1, "to": 2}),
    "stampType": st.sampled_from(sorted(STAMP_TYPES - {"Custom"})),
    "title": TEXT, "subtitle": TEXT,
    "icon": st.sampled_from(["Comment", "comment", "Help", "RightPointer", "note", "Key"]),
    "overlayText": TEXT, "repeatOverlayText": st.booleans(),
    "description": TEXT,
    "text": st.builds(lambda fmt, value: {"format": fmt, "value": value},
                      st.sampled_from(["plain"]), TEXT),
}
NO_NULL = {"text", "pageIndex", "bbox", "opacity", "createdAt", "updatedAt"}  # and required


@st.composite
def records(draw: st.DrawFn, kind: str, record_id: str) -> dict[str, Any]:
    """A record of ``kind`` with any of the fields its type has, in any shape annolog takes
    (and some nulls, which annolog leaves out where the engine reads them so)."""
    content = record(kind, record_id)
    if kind == "pspdfkit/image":
        content["imageAttachmentId"] = PNG_ID
    for key in sorted(KEPT[kind] & FIELDS.keys()):
        if draw(st.booleans()):
            content[key] = draw(FIELDS[key])
        elif key not in NO_NULL and key not in MINIMAL[kind] and draw(st.integers(0, 9)) == 0:
            content[key] = None
    if content.get("stampType") == "Custom" and not isinstance(content.get("title"), str):
        content["title"] = "custom"
    if content.get("repeatOverlayText") is True and isinstance(content.get("overlayText"), str):
        content["overlayText"] = content["overlayText"].encode("latin-1", "ignore").decode(
            "latin-1").translate({c: None for c in [*range(32), *range(0x7f, 0xa0)]})
    if "measurementScale" in content:  # the engine redraws a measured cloudy border
        content.pop("cloudyBorderIntensity", None)
    if kind == "pspdfkit/ink" and draw(st.booleans()):
        content.pop("lines", None)
    return {k: v for k, v in content.items() if not _refused(k, v, content)}


def _refused(key: str, value: Any, content: dict[str, Any]) -> bool:
    """Drop the nulls annolog refuses (a test of those is test_engine_rules')."""
    if value is not None:
        return False
    try:
        accepted_content({**{k: v for k, v in content.items() if k != "id"}, key: None})
    except ValueError:
        return True
    return False


DOCUMENTS = st.tuples(*(records(kind, f"r{i}") for i, kind in enumerate(TYPES)))


async def write_and_export(live: Live, layer_records: list[dict[str, Any]]
                           ) -> tuple[dict[str, Any], bytes]:
    client = live.client
    upload = await client.post("/api/documents", data=make_pdf(2),
                               headers={**AUTH, "Content-Type": "application/pdf"})
    document = (await upload.json())["data"]["document_id"]
    base = f"/api/documents/{document}"
    applied = await client.post(f"{base}/apply_instant_json", headers=AUTH, json={
        "format": FORMAT, "annotations": layer_records, "attachments": ATTACHMENTS})
    assert applied.status == 200, await applied.text()
    exported = await client.get(f"{base}/document.json", headers=AUTH)
    source = await client.get(f"{base}/pdf?source=true", headers=AUTH)
    return await exported.json(), await source.read()


def refused_alone(engine: Engine, pdf: Path, exported: dict[str, Any]) -> list[Any]:
    """The records the engine refuses each on its own, and why: a failure's evidence."""
    found = []
    for one in exported["annotations"]:
        answer = engine.load(pdf, document={**exported, "annotations": [one]})
        if not answer["ok"]:
            found.append((answer["error"][-200:], orjson.dumps(one).decode()))
    return found


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(layer_records=DOCUMENTS)
def test_every_accepted_record_round_trips_through_the_engine(
        live: Live, engine: Engine, tmp_path_factory: Any, layer_records: tuple) -> None:
    exported, pdf = live.run(write_and_export(live, list(layer_records)))
    path = Path(tmp_path_factory.mktemp("round")) / "source.pdf"
    path.write_bytes(pdf)
    answer = engine.load(path, document=exported)
    assert answer["ok"], (answer["error"], refused_alone(engine, path, exported))
    theirs = {r["id"]: r for r in answer["instantJSON"].get("annotations", [])}
    for ours in exported["annotations"]:
        assert ours["id"] in theirs, f"the engine dropped {ours}"
        assert differences(ours, theirs[ours["id"]]) == [], \
            orjson.dumps([ours, theirs[ours["id"]]]).decode()
    assert exported["attachments"][PNG_ID]["binary"] == \
        base64.b64encode(base64.b64decode(ATTACHMENTS[PNG_ID]["binary"])).decode()
