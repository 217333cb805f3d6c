"""Annotation content rules from the Instant JSON reference (see eventstore/validation.py)."""

from __future__ import annotations

import json

import pytest

from eventstore.validation import ContentError, validate_content
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
        validate_content(annotation)


@pytest.mark.parametrize("change, reason", [
    ({"type": "pspdfkit/nope"}, "known annotation type"),
    ({"type": "pspdfkit/media"}, "cannot be imported"),
    ({"v": 3}, "'v' must be 1 or 2"),
    ({"v": True}, "'v' must be 1 or 2"),
    ({"pageIndex": -1}, "integer of 0 or more"),
    ({"pageIndex": 1.5}, "integer of 0 or more"),
    ({"bbox": [1, 2, 3]}, "list of 4 finite numbers"),
    ({"bbox": [1, 2, 3, "4"]}, "list of 4 finite numbers"),
    ({"opacity": 1.5}, "from 0 to 1"),
    ({"opacity": None}, "may not be null"),
    ({"color": "red"}, "#RRGGBB"),
    ({"color": "#FFF"}, "#RRGGBB"),
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
        validate_content({**note(), **change})


def test_a_missing_opacity_or_bbox_is_refused():
    for key in ("opacity", "bbox"):
        content = note()
        del content[key]
        with pytest.raises(ContentError, match=f"'{key}' is required"):
            validate_content(content)


def test_v1_text_is_a_string():
    validate_content({**note(), "v": 1, "text": "a v1 note"})
    with pytest.raises(ContentError, match="plain string in v1"):
        validate_content({**note(), "v": 1})


def test_page_index_is_checked_against_the_page_count():
    validate_content(note(page=1), page_count=2)
    with pytest.raises(ContentError, match="has 2 pages"):
        validate_content(note(page=2), page_count=2)


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
        validate_content(content)


def test_v1_shapes_may_use_line_width_and_unknown_keys_are_kept():
    validate_content({"v": 1, "type": "pspdfkit/shape/rectangle", "pageIndex": 0,
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
    (link({"type": "goTo"}), "needs 'pageIndex'"),
    (link({"type": "goTo", "pageIndex": "1"}), "integer of 0 or more"),
    (link({"type": "javaScript"}), "needs 'script'"),
    (link({"type": "launch"}), "needs 'filePath'"),
    (link({"type": "goToEmbedded"}), "needs 'relativePath'"),
    (link({"type": "goToRemote", "relativePath": 3}), "must be a string"),
    (link({"type": "named"}), "needs 'action'"),
    (link({"type": "submitForm"}), "needs 'uri'"),
    (link({"type": "hide", "hide": True}), "needs 'annotationReferences'"),
    (link({"type": "hide", "hide": "yes", "annotationReferences": []}), "true or false"),
    (link({"type": "uri", "uri": "https://a", "subactions": [{"type": "goTo"}]}),
     "subaction 0 of type 'goTo' needs 'pageIndex'"),
    (link({"type": "uri", "uri": "https://a", "subactions": [
        {"type": "uri", "uri": "https://b", "subactions": [{"type": "launch", "filePath": 1}]}]}),
     "subaction 0 subaction 0 of type 'launch'"),
    ({**STAMP, "stampType": "Custom"}, "needs 'title'"),
    ({**STAMP, "stampType": "Custom", "title": None}, "needs 'title'"),
    ({**TEXT, "callout": {"start": [1, 2]}}, "needs 'end'"),
    ({**TEXT, "callout": {"start": [1, 2], "end": [3, 4]}}, "needs 'innerRectInset'"),
    ({**TEXT, "callout": {"start": [1, 2], "end": [3, 4], "innerRectInset": [0, 0, 0, 0],
                          "knee": "here"}}, "'knee' must be a point"),
])
def test_records_the_engine_would_refuse_are_refused_with_a_reason(content, reason):
    """Regression (issue 12): these were stored, and the Web SDK then refused the whole
    document.json of their layer."""
    with pytest.raises(ContentError, match=reason):
        validate_content(content)


@pytest.mark.parametrize("content", [
    link({"type": "uri", "uri": "https://example.com"}),
    link({"type": "goTo", "pageIndex": 0, "subactions": [{"type": "named",
                                                           "action": "NextPage"}]}),
    link({"type": "goToRemote", "filePath": "other.pdf"}),
    link({"type": "resetForm", "fields": None, "flags": None}),
    {**STAMP, "stampType": "Custom", "title": "Checked", "subtitle": None},
    {**STAMP, "stampType": "Approved"},
    {**TEXT, "callout": {"start": [1, 2], "end": [3, 4], "innerRectInset": [0, 0, 0, 0]}},
    {**TEXT, "callout": {"start": [1, 2], "knee": [2, 3], "end": [3, 4], "cap": "openArrow",
                         "innerRectInset": [0, 0, 0, 0]}},
    {**TEXT, "callout": None},
])
def test_what_the_engine_loads_is_accepted(content):
    validate_content(content)
