"""Validation of annotation ``content`` by the rules the real Web SDK engine enforces (the
team's Instant JSON reference, checked against ``@nutrient-sdk/node``). The engine refuses a
whole document for one bad record, so one stored here would make a layer unloadable for every
client. Each check names the field and what is expected, so a person can fix the record.
Unknown keys are kept: newer clients must lose nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from eventstore.times import utc

IMPORTABLE_TYPES = frozenset({
    "pspdfkit/ink", "pspdfkit/shape/line", "pspdfkit/shape/rectangle",
    "pspdfkit/shape/ellipse", "pspdfkit/shape/polygon", "pspdfkit/shape/polyline",
    "pspdfkit/link", "pspdfkit/markup/highlight", "pspdfkit/markup/squiggly",
    "pspdfkit/markup/strikeout", "pspdfkit/markup/underline", "pspdfkit/markup/redaction",
    "pspdfkit/stamp", "pspdfkit/text", "pspdfkit/note", "pspdfkit/image", "pspdfkit/widget",
    "pspdfkit/comment-marker",
})
REFUSED_TYPES = {
    "pspdfkit/media": "media annotations cannot be imported by the Web SDK",
    "pspdfkit/unknown": "unknown-type annotations cannot be imported by the Web SDK",
    "pspdfkit/file": "file annotations are not part of Instant JSON",
    "pspdfkit/redaction": "the redaction type is 'pspdfkit/markup/redaction'",
}
BLEND_MODES = frozenset({
    "normal", "multiply", "screen", "overlay", "darken", "lighten", "colorDodge", "colorBurn",
    "hardLight", "softLight", "difference", "exclusion",
})
FLAGS = frozenset({
    "noPrint", "noZoom", "noRotate", "noView", "hidden", "locked", "lockedContents",
    "readOnly", "invisible", "toggleNoView",
})
LINE_CAPS = frozenset({
    "square", "circle", "diamond", "openArrow", "closedArrow", "butt", "reverseOpenArrow",
    "reverseClosedArrow", "slash",
})
BORDER_STYLES = frozenset({"solid", "dashed", "beveled", "inset", "underline"})
STAMP_TYPES = frozenset({
    "Approved", "NotApproved", "Draft", "Final", "Completed", "Confidential",
    "ForPublicRelease", "NotForPublicRelease", "ForComment", "Void", "PreliminaryResults",
    "InformationOnly", "Rejected", "Accepted", "InitialHere", "SignHere", "Witness", "AsIs",
    "Departmental", "Experimental", "Expired", "Sold", "TopSecret", "Revised",
    "RejectedWithText", "Custom",
})
HORIZONTAL_ALIGNS = frozenset({"left", "center", "right"})
VERTICAL_ALIGNS = frozenset({"top", "center", "bottom"})
TEXT_FORMATS = frozenset({"plain", "xhtml"})
IMAGE_CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "application/pdf"})
ACTION_TYPES = frozenset({
    "uri", "goTo", "goToEmbedded", "goToRemote", "hide", "resetForm", "submitForm", "launch",
    "named", "javaScript",
})
MEASUREMENT_PRECISIONS = frozenset({
    "whole", "oneDp", "twoDp", "threeDp", "fourDp", "1/2", "1/4", "1/8", "1/16",
    "1", "0.1", "0.01", "0.001", "0.0001",
})
COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
TEXT_TYPES = frozenset({"pspdfkit/note", "pspdfkit/text", "pspdfkit/comment-marker"})
SHAPES = frozenset({
    "pspdfkit/shape/line", "pspdfkit/shape/rectangle", "pspdfkit/shape/ellipse",
    "pspdfkit/shape/polygon", "pspdfkit/shape/polyline",
})
MARKUPS = frozenset({
    "pspdfkit/markup/highlight", "pspdfkit/markup/squiggly", "pspdfkit/markup/strikeout",
    "pspdfkit/markup/underline", "pspdfkit/markup/redaction",
})


class ContentError(ValueError):
    """Raised when annotation content breaks an Instant JSON rule; the message says which."""


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _number(value: Any) -> None:
    if not _is_number(value):
        raise ContentError("must be a finite number")


def _unit_interval(value: Any) -> None:
    if not _is_number(value) or not 0 <= value <= 1:
        raise ContentError("must be a number from 0 to 1")


def _string(value: Any) -> None:
    if not isinstance(value, str):
        raise ContentError("must be a string")


def _boolean(value: Any) -> None:
    if not isinstance(value, bool):
        raise ContentError("must be true or false")


def _color(value: Any) -> None:
    if not isinstance(value, str) or not COLOR.fullmatch(value):
        raise ContentError(f"must be a colour written #RRGGBB, not {value!r}")


def _one_of(allowed: frozenset[str], what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not isinstance(value, str) or value not in allowed:
            raise ContentError(f"{value!r} is not a known {what}; expected one of "
                               f"{', '.join(sorted(allowed))}")
    return check


NUMBER_TYPES = (int, float)


def _numbers(count: int, what: str) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if type(value) is not list or len(value) != count:
            raise ContentError(f"must be {what}: a list of {count} finite numbers")
        for v in value:  # a plain loop: this runs for every bbox, point and rect
            if type(v) not in NUMBER_TYPES or not math.isfinite(v):
                raise ContentError(f"must be {what}: a list of {count} finite numbers")
    return check


_rect = _numbers(4, "a rectangle [left, top, width, height]")
_point = _numbers(2, "a point [x, y]")
_inset = _numbers(4, "an inset [left, top, right, bottom]")


def _list_of(check: Callable[[Any], None], what: str) -> Callable[[Any], None]:
    def check_list(value: Any) -> None:
        if not isinstance(value, list):
            raise ContentError(f"must be a list of {what}")
        for i, item in enumerate(value):
            try:
                check(item)
            except ContentError as error:
                raise ContentError(f"item {i} {error}") from None
    return check_list


def _object(value: Any) -> None:
    if not isinstance(value, dict):
        raise ContentError("must be a JSON object")


def _timestamp(value: Any) -> None:
    if not isinstance(value, str):
        raise ContentError("must be an ISO 8601 timestamp string")
    try:
        utc(value)
    except ValueError as error:
        raise ContentError(str(error)) from None


def _line_caps(value: Any) -> None:
    _object(value)
    for end in ("start", "end"):
        if end in value:
            _one_of(LINE_CAPS, "line cap")(value[end])


def _lines(value: Any) -> None:
    _object(value)
    points, intensities = value.get("points"), value.get("intensities")
    _list_of(_list_of(_point, "points"), "segments")(points)
    _list_of(_list_of(_number, "numbers"), "segments")(intensities)
    if [len(s) for s in points] != [len(s) for s in intensities]:
        raise ContentError("'intensities' must have the same shape as 'points'")


MAX_ACTION_DEPTH = 16  # subactions within subactions; real documents use one or two


def _index(value: Any) -> None:
    if type(value) is not int or value < 0:
        raise ContentError("must be an integer of 0 or more")


def _annotation_reference(value: Any) -> None:
    if not (isinstance(value, dict) and (isinstance(value.get("fieldName"), str)
                                         or type(value.get("pdfObjectId")) is int)):
        raise ContentError("must be {\"fieldName\": string} or {\"pdfObjectId\": integer}")


def _nullable(check: Callable[[Any], None]) -> Callable[[Any], None]:
    return lambda value: None if value is None else check(value)


# What each action type needs, as the engine checks it: key -> (check, what it is).
ACTION_KEYS: dict[str, dict[str, tuple[Callable[[Any], None], str]]] = {
    "uri": {"uri": (_string, "the address to open, a string")},
    "goTo": {"pageIndex": (_index, "the page to show, an integer of 0 or more")},
    "javaScript": {"script": (_string, "the script, a string")},
    "launch": {"filePath": (_string, "the file to open, a string")},
    "named": {"action": (_string, "the named action, a string such as 'NextPage'")},
    "submitForm": {"uri": (_string, "where to submit, a string")},
    "hide": {"hide": (_boolean, "true to hide, false to show"),
             "annotationReferences": (_list_of(_annotation_reference, "references"),
                                      "the fields to hide or show")},
    "goToEmbedded": {}, "goToRemote": {}, "resetForm": {},
}
# Optional keys whose type the engine checks when they are there.
ACTION_OPTIONAL: dict[str, dict[str, Callable[[Any], None]]] = {
    "resetForm": {"fields": _nullable(_list_of(_annotation_reference, "references")),
                  "flags": _nullable(_string)},
    "submitForm": {"fields": _nullable(_list_of(_string, "field names")),
                   "flags": _nullable(_list_of(_string, "flags"))},
    "goToEmbedded": {"newWindow": _boolean, "relativePath": _string, "filePath": _string},
    "goToRemote": {"relativePath": _string, "filePath": _string,
                   "namedDestination": _string},
}


def _action(value: Any, depth: int = 0) -> None:
    _object(value)
    kind = value.get("type")
    _one_of(ACTION_TYPES, "action type")(kind)
    for key, (check, what) in ACTION_KEYS[kind].items():
        if key not in value or value[key] is None:
            raise ContentError(f"of type {kind!r} needs '{key}': {what}")
        _checked(key, value[key], check, f"of type {kind!r}: ")
    for key, check in ACTION_OPTIONAL.get(kind, {}).items():
        if key in value:
            _checked(key, value[key], check, f"of type {kind!r}: ")
    if kind in ("goToEmbedded", "goToRemote") and not any(
            isinstance(value.get(key), str) for key in ("relativePath", "filePath")):
        raise ContentError(f"of type {kind!r} needs 'relativePath' (or 'filePath'): the "
                           "document to open, a string")
    if value.get("subactions") is not None:
        if depth >= MAX_ACTION_DEPTH:
            raise ContentError(f"nests subactions more than {MAX_ACTION_DEPTH} deep")
        subactions = value["subactions"]
        if not isinstance(subactions, list):
            raise ContentError("'subactions' must be a list of actions")
        for i, subaction in enumerate(subactions):
            try:
                _action(subaction, depth + 1)
            except ContentError as error:
                raise ContentError(f"subaction {i} {error}") from None


def validate_action(value: Any) -> None:
    """An action (of a link, a bookmark, ...) as the engine checks it."""
    try:
        _action(value)
    except ContentError as error:
        raise ContentError(f"'action' {error}") from None


def _checked(key: str, value: Any, check: Callable[[Any], None], context: str) -> None:
    try:
        check(value)
    except ContentError as error:
        raise ContentError(f"{context}'{key}' {error}") from None


def _callout(value: Any) -> None:
    """A text's callout line: the engine needs its start, its end and the inset of the
    text box (knee and cap are optional)."""
    _object(value)
    for key, check in (("start", _point), ("end", _point), ("innerRectInset", _inset)):
        if key not in value or value[key] is None:
            raise ContentError(f"needs '{key}' (a callout has start, end and "
                               "innerRectInset; knee and cap are optional)")
        _checked(key, value[key], check, "")
    if value.get("knee") is not None:
        _checked("knee", value["knee"], _point, "")
    if value.get("cap") is not None:
        _checked("cap", value["cap"], _one_of(LINE_CAPS, "line cap"), "")


# key -> (check, may the value be null?)
FIELD_RULES: dict[str, tuple[Callable[[Any], None], bool]] = {
    "bbox": (_rect, False),
    "opacity": (_unit_interval, False),
    "pdfObjectId": (lambda v: None if type(v) is int else _fail("must be an integer"), True),
    "name": (_string, True),
    "subject": (_string, True),
    "note": (_string, True),
    "creatorName": (_string, True),
    "createdAt": (_timestamp, False),
    "updatedAt": (_timestamp, False),
    "flags": (_list_of(_one_of(FLAGS, "flag"), "flags"), True),
    "action": (_action, True),
    "customData": (_object, True),
    "blendMode": (_one_of(BLEND_MODES, "blend mode"), True),
    "isCommentThreadRoot": (_boolean, False),
    "isAnonymous": (_boolean, False),
    "color": (_color, True),
    "strokeColor": (_color, True),
    "backgroundColor": (_color, True),
    "fillColor": (_color, False),  # the engine refuses null: omit the key for no fill
    "fontColor": (_color, False),
    "borderColor": (_color, True),
    "outlineColor": (_color, True),
    "borderStyle": (_one_of(BORDER_STYLES, "border style"), True),
    "lineCaps": (_line_caps, False),
    "lines": (_lines, False),
    "callout": (_callout, True),
    "lineWidth": (_number, False),
    "strokeWidth": (_number, False),
    "borderWidth": (_number, True),
    "rotation": (_number, True),
    "fontSize": (lambda v: None if v == "auto" else _number(v), False),
    "isDrawnNaturally": (_boolean, False),
    "isSignature": (_boolean, False),
    "horizontalAlign": (_one_of(HORIZONTAL_ALIGNS, "horizontal alignment"), False),
    "verticalAlign": (_one_of(VERTICAL_ALIGNS, "vertical alignment"), False),
    "rects": (_list_of(_rect, "rectangles [left, top, width, height]"), False),
    "startPoint": (_point, False),
    "endPoint": (_point, False),
    "points": (_list_of(_point, "points [x, y]"), False),
    "cloudyBorderInset": (_inset, True),
    "cloudyBorderIntensity": (_number, True),
    "strokeDashArray": (_numbers(2, "a dash pattern [dash, gap]"), True),
    "measurementPrecision": (_one_of(MEASUREMENT_PRECISIONS, "measurement precision"), True),
    "measurementScale": (_object, True),
    "imageAttachmentId": (_string, False),
    "stampType": (_one_of(STAMP_TYPES, "stamp type"), False),
    "kind": (_one_of(STAMP_TYPES, "stamp kind"), False),
    "title": (_string, True),
    "subtitle": (_string, True),
    "icon": (_string, False),
    "formFieldName": (_string, False),
    "font": (_string, False),
    "fontStyle": (_list_of(_string, "strings"), False),
    "isFitting": (_boolean, False),
    "lineHeightFactor": (_number, False),
    "overlayText": (_string, True),
    "repeatOverlayText": (_boolean, False),
}


def _fail(message: str) -> None:
    raise ContentError(message)


def _required(*keys: str) -> Callable[[dict], None]:
    def check(content: dict) -> None:
        for key in keys:
            if key not in content:
                raise ContentError(f"'{key}' is required for {content['type']} annotations")
    return check


def _shape(content: dict) -> None:
    if "strokeWidth" not in content and not (content["v"] == 1 and "lineWidth" in content):
        raise ContentError(f"'strokeWidth' is required for {content['type']} annotations")
    kind = content["type"]
    if kind == "pspdfkit/shape/line":
        _required("startPoint", "endPoint")(content)
    elif kind in ("pspdfkit/shape/polygon", "pspdfkit/shape/polyline"):
        _required("points")(content)


def _image(content: dict) -> None:
    _required("imageAttachmentId", "contentType")(content)
    _one_of(IMAGE_CONTENT_TYPES, "image content type")(content["contentType"])


def _stamp(content: dict) -> None:
    if "stampType" not in content and "kind" not in content:
        raise ContentError("'stampType' (or 'kind') is required for pspdfkit/stamp annotations")
    if "Custom" in (content.get("stampType"), content.get("kind")) and \
            not isinstance(content.get("title"), str):
        raise ContentError("a custom stamp (stampType 'Custom') needs 'title': the text it "
                           "shows, a string")


TYPE_RULES: dict[str, Callable[[dict], None]] = {
    "pspdfkit/text": _required("text", "horizontalAlign", "verticalAlign"),
    "pspdfkit/ink": _required("lines", "lineWidth", "isDrawnNaturally"),
    "pspdfkit/image": _image,
    "pspdfkit/stamp": _stamp,
    **{t: _required("rects") for t in MARKUPS},
    **{t: _shape for t in SHAPES},
}


def _text(content: dict) -> None:
    if "text" not in content or content["type"] not in TEXT_TYPES:
        return
    text = content["text"]
    if content["v"] == 1:
        if not isinstance(text, str):
            raise ContentError("'text' must be a plain string in v1 records "
                               "(use v 2 for a {format, value} object)")
        return
    if not isinstance(text, dict):
        raise ContentError("'text' must be an object {\"format\": \"plain\"|\"xhtml\", "
                           "\"value\": string} in v2 records")
    if not isinstance(text.get("format"), str) or text["format"] not in TEXT_FORMATS:
        raise ContentError("'text.format' must be 'plain' or 'xhtml'")
    if not isinstance(text.get("value"), str):
        raise ContentError("'text.value' must be a string")


def validate_content(content: Any, page_count: int | None = None) -> None:
    """Raise ``ContentError`` naming the first rule ``content`` breaks."""
    if not isinstance(content, dict):
        raise ContentError("'content' must be a JSON object in the Instant JSON annotation format")
    kind = content.get("type")
    if not isinstance(kind, str):
        raise ContentError(f"'type' must be a known annotation type such as 'pspdfkit/note', "
                           f"not {kind!r}")
    if kind in REFUSED_TYPES:
        raise ContentError(f"type {kind!r} is not accepted: {REFUSED_TYPES[kind]}")
    if kind not in IMPORTABLE_TYPES:
        raise ContentError(f"'type' must be a known annotation type such as 'pspdfkit/note', "
                           f"not {kind!r}")
    if content.get("v") not in (1, 2) or isinstance(content.get("v"), bool):
        raise ContentError("'v' must be 1 or 2")
    _page_index(content.get("pageIndex"), page_count)
    for key in ("bbox", "opacity"):
        if key not in content:
            raise ContentError(f"'{key}' is required")
    for key, value in content.items():
        rule = FIELD_RULES.get(key)
        if rule is None:
            continue
        check, nullable = rule
        if value is None:
            if not nullable:
                raise ContentError(f"'{key}' may not be null; leave the key out instead")
            continue
        try:
            check(value)
        except ContentError as error:
            raise ContentError(f"'{key}' {error}") from None
    _text(content)
    type_rule = TYPE_RULES.get(kind)
    if type_rule is not None:
        type_rule(content)


def _page_index(value: Any, page_count: int | None) -> None:
    if type(value) is not int or value < 0:
        raise ContentError("'pageIndex' must be an integer of 0 or more")
    if page_count is not None and value >= page_count:
        raise ContentError(f"'pageIndex' {value} is outside the document, which has "
                           f"{page_count} page{'s' if page_count != 1 else ''}")
