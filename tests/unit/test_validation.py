"""Annotation content rules from the Instant JSON reference (see eventstore/validation.py)."""

from __future__ import annotations

import json

import pytest

from eventstore.validation import ContentError, accepted_content
from tests.conftest import SAMPLES, note

INK = {"v": 2, "type": "pspdfkit/ink", "pageIndex": 0, "bbox": [0, 0, 10, 10], "opacity": 1,
       "lines": {"points": [[[1, 2], [3, 4]]], "intensities": [[0.5, 0.5]]}, "lineWidth": 2,
       "isDrawnNaturally": False}


def sample_annotations(name: str) -> list[dict]:
    path = SAMPLES / name
    return json.loads(path.read_text())["annotations"]


@pytest.mark.parametrize("name", ["kitchen-sink.input.json", "kitchen-sink.node-sdk-export.json",
                                  "jonaddams-nutrient-sdk-samples--alex.json",
                                  "PSPDFKitDotNetExample--instant.json",
                                  "pspdfkit-flutter--instant-document.json"])
def test_every_annotation_of_the_public_samples_is_valid(name):
    annotations = sample_annotations(name)
    assert annotations
    for annotation in annotations:
        accepted_content(annotation)


@pytest.mark.parametrize("change, reason", [
    ({"type": "pspdfkit/nope"}, "known annotation type"),
    ({"type": "pspdfkit/media"}, "cannot be imported"),
    ({"v": 3}, "'v' must be 1 or 2"),
    ({"v": True}, "'v' must be 1 or 2"),
    ({"pageIndex": -1}, "integer of 0 or more"),
    ({"pageIndex": 1.5}, "integer of 0 or more"),
    ({"bbox": [1, 2, 3]}, "list of 4 finite numbers"),
    ({"bbox": [1, 2, 3, "4"]}, "list of 4 numbers"),
    ({"bbox": [1e39, 2, 3, 4]}, "within ±3.4e38"),
    ({"opacity": "1"}, "finite number"),
    ({"opacity": None}, "may not be null"),
    ({"color": "red"}, "#RRGGBB"),
    ({"color": "#FFFF"}, "#RRGGBB"),
    ({"color": "rgb(10%, 0, 0)"}, "#RRGGBB"),
    ({"blendMode": "weird"}, "not a known blend mode"),
    ({"flags": ["noPrint", "shiny"]}, "not a known flag"),
    ({"customData": [1]}, "JSON object"),
    ({"createdAt": "yesterday"}, "ISO 8601"),
    ({"text": "plain string in v2"}, "in v2 records"),
    ({"text": {"format": "rtf", "value": "x"}}, "'plain' or 'xhtml'"),
    ({"action": {"type": "teleport"}}, "not a known action type"),
])
def test_bad_note_content_is_refused_with_a_reason(change, reason):
    with pytest.raises(ContentError, match=reason):
        accepted_content({**note(), **change})


def test_a_missing_opacity_or_bbox_is_refused():
    for key in ("opacity", "bbox"):
        content = note()
        del content[key]
        with pytest.raises(ContentError, match=f"'{key}' is required"):
            accepted_content(content)


def test_v1_text_is_a_string():
    accepted_content({**note(), "v": 1, "text": "a v1 note"})
    with pytest.raises(ContentError, match="plain string in v1"):
        accepted_content({**note(), "v": 1})


def test_page_index_is_checked_against_the_page_count():
    accepted_content(note(page=1), page_count=2)
    with pytest.raises(ContentError, match="has 2 pages"):
        accepted_content(note(page=2), page_count=2)


@pytest.mark.parametrize("content, reason", [
    ({**INK, "lines": {"points": [[[1, 2]]], "intensities": [[0.5, 0.5]]}}, "same shape"),
    ({k: v for k, v in INK.items() if k != "lineWidth"}, "'lineWidth' is required"),
    ({"v": 2, "type": "pspdfkit/shape/rectangle", "pageIndex": 0, "bbox": [0, 0, 1, 1],
      "opacity": 1}, "'strokeWidth' is required"),
    ({"v": 2, "type": "pspdfkit/shape/rectangle", "pageIndex": 0, "bbox": [0, 0, 1, 1],
      "opacity": 1, "strokeWidth": 1, "fillColor": None}, "'fillColor' may not be null"),
    ({"v": 2, "type": "pspdfkit/shape/line", "pageIndex": 0, "bbox": [0, 0, 1, 1],
      "opacity": 1, "strokeWidth": 1, "startPoint": [0, 0]}, "'endPoint' is required"),
    ({"v": 2, "type": "pspdfkit/markup/highlight", "pageIndex": 0, "bbox": [0, 0, 1, 1],
      "opacity": 1}, "'rects' is required"),
    ({"v": 2, "type": "pspdfkit/text", "pageIndex": 0, "bbox": [0, 0, 1, 1], "opacity": 1,
      "text": {"format": "plain", "value": "x"}}, "'horizontalAlign' is required"),
    ({"v": 2, "type": "pspdfkit/image", "pageIndex": 0, "bbox": [0, 0, 1, 1], "opacity": 1,
      "imageAttachmentId": "abc", "contentType": "image/gif"}, "image content type"),
    ({"v": 2, "type": "pspdfkit/stamp", "pageIndex": 0, "bbox": [0, 0, 1, 1], "opacity": 1},
     "'stampType'"),
])
def test_each_type_needs_its_own_fields(content, reason):
    with pytest.raises(ContentError, match=reason):
        accepted_content(content)


def test_v1_shapes_may_use_line_width_and_unknown_keys_are_kept():
    accepted_content({"v": 1, "type": "pspdfkit/shape/rectangle", "pageIndex": 0,
                      "bbox": [0, 0, 0, 0], "opacity": 1, "lineWidth": 2,
                      "someFutureField": {"x": 1}})


def link(action: dict) -> dict:
    return {**note(), "type": "pspdfkit/link", "action": action}


TEXT = {"v": 2, "type": "pspdfkit/text", "pageIndex": 0, "bbox": [0, 0, 50, 20],
        "opacity": 1, "text": {"format": "plain", "value": "x"}, "horizontalAlign": "left",
        "verticalAlign": "top"}
STAMP = {"v": 2, "type": "pspdfkit/stamp", "pageIndex": 0, "bbox": [0, 0, 50, 20],
         "opacity": 1}


@pytest.mark.parametrize("content, reason", [
    (link({"type": "uri"}), "needs 'uri'"),
    (link({"type": "uri", "uri": 5}), "'uri' must be a string"),
    (link({"type": "goTo", "pageIndex": "1"}), "integer of 0 or more"),
    (link({"type": "javaScript"}), "needs 'script'"),
    (link({"type": "launch"}), "needs 'filePath'"),
    (link({"type": "goToEmbedded"}), "needs 'relativePath'"),
    (link({"type": "goToEmbedded", "relativePath": "a.pdf", "newWindow": False}),
     "needs 'targetType'"),
    (link({"type": "goToEmbedded", "relativePath": "a.pdf", "targetType": "child"}),
     "needs 'newWindow'"),
    (link({"type": "goToRemote", "filePath": "other.pdf"}), "needs 'relativePath'"),
    (link({"type": "goToRemote", "relativePath": "a", "namedDestination": None}),
     "'namedDestination' must be a string"),
    (link({"type": "resetForm", "fields": None, "flags": None}), "not a known reset flag"),
    (link({"type": "submitForm", "uri": "u", "flags": None}), "must be a list of flags"),
    (link({"type": "submitForm", "uri": "u", "flags": ["submitCoordinated"]}),
     "not a known submit flag"),
    (link({"type": "goToRemote", "relativePath": 3}), "must be a string"),
    (link({"type": "named"}), "needs 'action'"),
    (link({"type": "submitForm"}), "needs 'uri'"),
    (link({"type": "hide", "hide": True}), "needs 'annotationReferences'"),
    (link({"type": "hide", "hide": "yes", "annotationReferences": []}), "true or false"),
    (link({"type": "uri", "uri": "https://a", "subactions": [{"type": "goTo",
                                                              "pageIndex": 0.5}]}),
     "subaction 0 of type 'goTo': 'pageIndex' must be an integer"),
    (link({"type": "uri", "uri": "https://a", "subactions": [
        {"type": "uri", "uri": "https://b", "subactions": [{"type": "launch", "filePath": 1}]}]}),
     "subaction 0 subaction 0 of type 'launch'"),
    ({**STAMP, "stampType": "Custom"}, "needs 'title'"),
    ({**STAMP, "stampType": "Custom", "title": None}, "'title' may not be null"),
    ({**STAMP, "stampType": "Custom", "title": "Checked", "subtitle": None},
     "'subtitle' may not be null"),
    ({**TEXT, "callout": None}, "'callout' may not be null"),
    ({**TEXT, "callout": {"start": [1, 2], "end": [3, 4], "innerRectInset": [0, 0, 0, 0],
                          "knee": None}}, "'knee' must be a point"),
    ({**TEXT, "fontSize": "auto"}, "finite number"),
    ({**TEXT, "callout": {"start": [1, 2]}}, "needs 'end'"),
    ({**TEXT, "callout": {"start": [1, 2], "end": [3, 4]}}, "needs 'innerRectInset'"),
    ({**TEXT, "callout": {"start": [1, 2], "end": [3, 4], "innerRectInset": [0, 0, 0, 0],
                          "knee": "here"}}, "'knee' must be a point"),
])
def test_records_the_engine_would_refuse_are_refused_with_a_reason(content, reason):
    """Regression (issue 12): these were stored, and the Web SDK then refused the whole
    document.json of their layer."""
    with pytest.raises(ContentError, match=reason):
        accepted_content(content)


@pytest.mark.parametrize("content", [
    link({"type": "uri", "uri": "https://example.com"}),
    link({"type": "goTo", "pageIndex": 0, "subactions": [{"type": "named",
                                                           "action": "NextPage"}]}),
    link({"type": "goToRemote", "relativePath": "other.pdf"}),
    link({"type": "resetForm", "fields": None}),
    {**STAMP, "stampType": "Custom", "title": "Checked", "subtitle": "below"},
    {**STAMP, "stampType": "Approved"},
    {**TEXT, "callout": {"start": [1, 2], "end": [3, 4], "innerRectInset": [0, 0, 0, 0]}},
    {**TEXT, "callout": {"start": [1, 2], "knee": [2, 3], "end": [3, 4], "cap": "openArrow",
                         "innerRectInset": [0, 0, 0, 0]}},
    link({"type": "goTo"}),
])
def test_what_the_engine_loads_is_accepted(content):
    accepted_content(content)


RECTANGLE = {"v": 2, "type": "pspdfkit/shape/rectangle", "pageIndex": 0, "bbox": [0, 0, 9, 9],
             "opacity": 1, "strokeWidth": 1}
# What the engine takes and how it exports it (issue 26, section 3): annolog stores that form.
# tests/engine/test_engine_rules.py asks the engine the same questions.
NORMALISED = [
    ({**RECTANGLE, "pageIndex": 0.0}, {"pageIndex": 0}),
    ({**RECTANGLE, "strokeColor": "#F00"}, {"strokeColor": "#FF0000"}),
    ({**RECTANGLE, "strokeColor": "#ff0000"}, {"strokeColor": "#FF0000"}),
    ({**RECTANGLE, "strokeColor": "#FF0000AA"}, {"strokeColor": "#FF0000"}),
    ({**RECTANGLE, "strokeColor": "rgb(255,0,0)"}, {"strokeColor": "#FF0000"}),
    ({**RECTANGLE, "strokeColor": "rgba(255, 0, 0, 0.5)"}, {"strokeColor": "#FF0000"}),
    ({**RECTANGLE, "strokeColor": " #abc"}, {"strokeColor": "#AABBCC"}),
    ({**RECTANGLE, "strokeColor": "rgb(300,-1,1.5)"}, {"strokeColor": "#FF0001"}),
    ({**RECTANGLE, "strokeColor": "#00000000"}, {"strokeColor": "#00000000"}),
    ({**RECTANGLE, "fillColor": "rgba(0,0,0,0)"}, {"fillColor": "#00000000"}),
    ({**RECTANGLE, "opacity": 1.5}, {"opacity": 1.5}),
    ({**RECTANGLE, "measurementPrecision": "twoDp"}, {"measurementPrecision": "0.01"}),
    ({**RECTANGLE, "strokeDashArray": [20.7, 3]}, {"strokeDashArray": [20, 3]}),
    ({**RECTANGLE, "flags": ["noView", "noZoom", "noView"]}, {"flags": ["noZoom", "noView"]}),
    ({**RECTANGLE, "bbox": [10, 20, -5, 5]}, {"bbox": [5, 20, 5, 5]}),
    ({**RECTANGLE, "strokeColor": None}, None),
    ({**RECTANGLE, "color": None, "note": None, "customData": None}, {}),
    ({**INK, "lines": None}, None),
    ({k: v for k, v in INK.items() if k != "lines"},
     {"lines": {"points": [], "intensities": []}}),
    (link({"type": "goTo"}), {"action": {"type": "goTo", "pageIndex": 0}}),
    (link({"type": "goTo", "pageIndex": 1.0}), {"action": {"type": "goTo", "pageIndex": 1}}),
    ({**STAMP, "stampType": "Draft", "rotation": -90.5}, {"rotation": 270}),
    ({**STAMP, "stampType": "Draft", "rotation": 370}, {"rotation": 10}),
    ({**note(), "rotation": 45.5}, {"rotation": 45.5}),  # a note has none: kept as sent
    ({**note(), "icon": "Comment"}, {"icon": "comment"}),
    ({**note(), "icon": "RightPointer"}, {"icon": "rightPointer"}),
    ({**note(), "futureKey": None}, {"futureKey": None}),
]


@pytest.mark.parametrize("content, stored", NORMALISED)
def test_what_the_engine_normalises_is_stored_as_it_exports_it(content, stored):
    if stored is None:
        with pytest.raises(ContentError, match="may not be null"):
            accepted_content(content)
        return
    result = accepted_content(content)
    dropped = {k for k, v in content.items() if v is None and k not in stored}
    assert result == {**{k: v for k, v in content.items() if k not in dropped}, **stored}


def test_the_content_given_is_never_changed():
    content = {**RECTANGLE, "strokeColor": "#f00", "pageIndex": 0.0, "note": None}
    before = dict(content)
    accepted_content(content)
    assert content == before
