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
    SCALE_UNITS_FROM,
    SCALE_UNITS_TO,
    STAMP_TYPES,
    SUBMIT_FLAGS,
    accepted_content,
)
from tests.conftest import AUTH, make_pdf
from tests.engine.oracle import FORMAT, Engine
from tests.engine.records import DEFAULTS, KEPT, MINIMAL, TYPES, differences, record, redrawn, same
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
    st.builds(lambda path, name: {"type": "goToRemote", "relativePath": path,
                                  "namedDestination": name}, TEXT, TEXT),
    st.builds(lambda path, target, new, page: {
        "type": "goToEmbedded", "relativePath": path, "targetType": target,
        "newWindow": new, "pageIndex": page},
        TEXT, st.sampled_from(["parent", "child"]), st.booleans(), st.integers(0, 3)),
    st.builds(lambda hide, names: {"type": "hide", "hide": hide, "annotationReferences":
                                   [{"fieldName": n} for n in names]},
              st.booleans(), st.lists(TEXT, max_size=2)),
    st.builds(lambda flags, names: {"type": "resetForm", "flags": flags,
                                    "fields": [{"fieldName": n} for n in names]},
              st.sampled_from(["", "includeExclude"]), st.lists(TEXT, max_size=2)),
    st.builds(lambda uri, flags, names: {"type": "submitForm", "uri": uri, "flags": flags,
                                         "fields": names},
              TEXT, st.lists(st.sampled_from(sorted(SUBMIT_FLAGS)), unique=True, max_size=3),
              st.lists(TEXT, max_size=2)),
    st.builds(lambda path: {"type": "launch", "filePath": path}, TEXT),
    st.builds(lambda script: {"type": "javaScript", "script": script}, TEXT),
)
ACTION = ACTION | st.builds(lambda first, then: {**first, "subactions": then},
                            ACTION, st.lists(ACTION, min_size=1, max_size=2))
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
    "measurementScale": st.builds(
        lambda unit_from, unit_to, low, high, says: {
            "unitFrom": unit_from, "unitTo": unit_to, "from": low, "to": high,
            **({"fromDescription": str(low), "toDescription": str(high).replace(".", ",")}
               if says else {})},
        st.sampled_from(sorted(SCALE_UNITS_FROM)), st.sampled_from(sorted(SCALE_UNITS_TO)),
        st.sampled_from([1, 2, 0.5, 12]), st.sampled_from([1, 3, 2.5, 100]), st.booleans()),
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


PDF_ONLY = {"imageAttachmentId", "contentType"}  # see test_engine_pdfs.IMAGE_NAMING
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
    annotated = await client.get(f"{base}/pdf", headers=AUTH)
    assert annotated.status == 200 and annotated.headers["Annolog-Skipped"] == "0"
    PDFS.append(await annotated.read())
    return await exported.json(), await source.read()


PDFS: list[bytes] = []


def pdf_readings(engine: Engine, ours: Path, engines: Path, records: dict[str, dict[str, Any]],
                 stored: dict[str, dict[str, Any]]) -> list[str]:
    """Where the engine's reading of annolog's annotated PDF differs both from its reading of
    the PDF it writes itself for the same records and from the records (its import of them)
    (section 7): what its own PDF loses, annolog's may lose too (in its own way), nothing
    more."""
    readings = []
    for pdf in (engines, ours):
        answer = engine.load(pdf, read=True)
        assert answer["ok"], answer.get("error")
        readings.append({r["id"]: r for r in answer["annotations"] if "type" in r})
    reference, read = readings
    found = []
    for record_id, expected in reference.items():
        if expected["type"] == "pspdfkit/comment-marker":
            continue  # shown with its thread or not at all (no thread here)
        got = read.get(record_id)
        if got is None:
            found.append(f"{record_id}: the engine did not read it from annolog's PDF")
            continue
        for key in (expected.keys() | got.keys()) - PDF_ONLY - {"pdfObjectId"}:
            if (expected["type"], key) in PDF_GAPS or \
                    key in redrawn(stored.get(record_id, expected)):
                continue  # still open; or geometry the engine redraws itself
            if key == "opacity" and not 0 <= expected[key] <= 1:
                continue  # by design, a PDF's is 0..1 (docs/api.md); the engine writes any
            record = records.get(record_id, {})
            if key in got and any(key in truth and same(key, truth[key], got[key])
                                  for truth in (expected, record)):
                continue
            if key in expected and key in record and not same(key, expected[key], record[key]):
                continue  # the engine's own PDF loses it too (a NUL, a control character)
            if key not in expected and key not in record and \
                    DEFAULTS.get(expected["type"], {}).get(key) == got[key]:
                continue  # a default, said where the engine leaves it unsaid
            if key not in got and key not in record:
                continue  # the engine's own PDF adds it
            found.append(f"{record_id} {key}: the engine's PDF {expected.get(key)!r}, "
                         f"annolog's {got.get(key)!r}, the record {record.get(key)!r} "
                         f"(of {orjson.dumps(record).decode()})")
    return found


def refused_alone(engine: Engine, pdf: Path, exported: dict[str, Any]) -> list[Any]:
    """The records the engine refuses each on its own, and why: a failure's evidence."""
    found = []
    for one in exported["annotations"]:
        answer = engine.load(pdf, document={**exported, "annotations": [one]})
        if not answer["ok"]:
            found.append((answer["error"][-200:], orjson.dumps(one).decode()))
    return found


# Differences still open in issue 26 (annolog's PDF does not yet carry them): none.
PDF_GAPS: set[tuple[str, str]] = set()


# Derandomized: the same 40 documents on every run, so that CI judges this commit, not a
# new draw (run with --hypothesis-seed=N and derandomize off to explore further).
@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(layer_records=DOCUMENTS)
def test_every_accepted_record_round_trips_through_the_engine(
        live: Live, engine: Engine, tmp_path_factory: Any, layer_records: tuple) -> None:
    exported, pdf = live.run(write_and_export(live, list(layer_records)))
    folder = Path(tmp_path_factory.mktemp("round"))
    path, engines_pdf, ours_pdf = folder / "source.pdf", folder / "engine.pdf", folder / "ours.pdf"
    path.write_bytes(pdf)
    answer = engine.load(path, document=exported, pdf_out=engines_pdf)
    assert answer["ok"], (answer["error"], refused_alone(engine, path, exported))
    theirs = {r["id"]: r for r in answer["instantJSON"].get("annotations", [])}
    for ours in exported["annotations"]:
        assert ours["id"] in theirs, f"the engine dropped {ours}"
        assert differences(ours, theirs[ours["id"]]) == [], \
            orjson.dumps([ours, theirs[ours["id"]]]).decode()
    ours_pdf.write_bytes(PDFS.pop())
    stored = {r["id"]: r for r in exported["annotations"]}
    found = pdf_readings(engine, ours_pdf, engines_pdf, theirs, stored)
    assert found == [], "\n".join(found)
    assert exported["attachments"][PNG_ID]["binary"] == \
        base64.b64encode(base64.b64decode(ATTACHMENTS[PNG_ID]["binary"])).decode()
