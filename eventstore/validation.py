"""Validation of annotation ``content`` by the rules the real Web SDK engine enforces (the
team's Instant JSON reference, checked against ``@nutrient-sdk/node``). The engine refuses a
whole document for one bad record, so one stored here would make a layer unloadable for every
client. Each check names the field and what is expected, so a person can fix the record.
Unknown keys are kept: newer clients must lose nothing.
"""

from __future__ import annotations

import re
import struct
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
    "Custom",  # not "RejectedWithText": the engine refuses the document for it
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
HEX_COLOR = re.compile(r"#([0-9A-Fa-f]{3}|[0-9A-Fa-f]{6}|[0-9A-Fa-f]{8})")
_C = r"(-?\d+(?:\.\d+)?)"
RGB_COLOR = re.compile(rf"rgba?\({_C},\s*{_C},\s*{_C}(?:,\s*{_C})?\)")
TRANSPARENT = "#00000000"
TEXT_TYPES = frozenset({"pspdfkit/note", "pspdfkit/text", "pspdfkit/comment-marker"})
SHAPES = frozenset({
    "pspdfkit/shape/line", "pspdfkit/shape/rectangle", "pspdfkit/shape/ellipse",
    "pspdfkit/shape/polygon", "pspdfkit/shape/polyline",
})
# What the engine lets hold a comment thread: a comment of any other root makes it refuse
# the whole document ("Couldn't find root comment"); a note root it turns into a marker.
THREAD_ROOT_TYPES = frozenset({
    "pspdfkit/markup/highlight", "pspdfkit/markup/underline", "pspdfkit/markup/squiggly",
    "pspdfkit/markup/strikeout", "pspdfkit/comment-marker"})
MARKUPS = frozenset({
    "pspdfkit/markup/highlight", "pspdfkit/markup/squiggly", "pspdfkit/markup/strikeout",
    "pspdfkit/markup/underline", "pspdfkit/markup/redaction",
})


class ContentError(ValueError):
    """Raised when annotation content breaks an Instant JSON rule; the message says which."""


# The engine keeps numbers as 32-bit floats and turns larger ones into null.
FLOAT32_MAX = 3.4028234663852886e38
NUMBER_RANGE = "a finite number within ±3.4e38 (the engine keeps 32-bit floats)"


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and -FLOAT32_MAX <= value <= FLOAT32_MAX


def _number(value: Any) -> None:
    if not _is_number(value):
        raise ContentError(f"must be {NUMBER_RANGE}")


def float32(value: float) -> float:
    """``value`` as the engine holds it."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _string(value: Any) -> None:
    if not isinstance(value, str):
        raise ContentError("must be a string")


def _boolean(value: Any) -> None:
    if not isinstance(value, bool):
        raise ContentError("must be true or false")


def _color(value: Any) -> str:
    """A colour as the engine reads it (#RGB, #RRGGBB, #RRGGBBAA, rgb(…), rgba(…)), stored
    as the #RRGGBB it exports: the alpha is dropped, except that a colour all zeros (the Web
    SDK's own transparent, #00000000) is kept as it is, since the engine exports it by
    leaving the key out, which a note reads as its default yellow."""
    color = parse_color(value)
    if color is None:
        raise ContentError(f"must be a colour written #RRGGBB (or #RGB, #RRGGBBAA, "
                           f"rgb(r, g, b), rgba(r, g, b, a)), not {value!r}")
    return color


def parse_color(value: Any) -> str | None:
    """The stored form of a colour the engine accepts, or None."""
    if not isinstance(value, str):
        return None
    text = value.strip()
    if hexadecimal := HEX_COLOR.fullmatch(text):
        digits = hexadecimal.group(1).upper()
        if len(digits) == 3:
            digits = "".join(d * 2 for d in digits)
        return TRANSPARENT if digits == TRANSPARENT[1:] else "#" + digits[:6]
    if functional := RGB_COLOR.fullmatch(text):
        red, green, blue = (min(255, max(0, int(float(c)))) for c in functional.groups()[:3])
        alpha = functional.group(4)
        if (red, green, blue) == (0, 0, 0) and alpha is not None and float(alpha) == 0:
            return TRANSPARENT
        return f"#{red:02X}{green:02X}{blue:02X}"
    return None


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
            if type(v) not in NUMBER_TYPES or not -FLOAT32_MAX <= v <= FLOAT32_MAX:
                raise ContentError(f"must be {what}: a list of {count} numbers, each "
                                   f"{NUMBER_RANGE}")
    return check


_four = _numbers(4, "a rectangle [left, top, width, height]")


def _rect(value: Any) -> list[float] | None:
    """A rectangle; one of negative width or height is stored the way round the engine
    turns it ([10, 20, -5, 5] is [5, 20, 5, 5])."""
    _four(value)
    left, top, width, height = value
    if width >= 0 and height >= 0:
        return None
    return [left + min(width, 0), top + min(height, 0), abs(width), abs(height)]
_point = _numbers(2, "a point [x, y]")
_inset = _numbers(4, "an inset [left, top, right, bottom]")


def _list_of(check: Callable[[Any], Any], what: str) -> Callable[[Any], Any]:
    def check_list(value: Any) -> Any:
        if not isinstance(value, list):
            raise ContentError(f"must be a list of {what}")
        stored = None
        for i, item in enumerate(value):
            try:
                kept = check(item)
            except ContentError as error:
                raise ContentError(f"item {i} {error}") from None
            if kept is not None and kept != item:
                stored = stored or list(value)
                stored[i] = kept
        return stored
    return check_list


def _object(value: Any) -> None:
    if not isinstance(value, dict):
        raise ContentError("must be a JSON object")


FIRST_YEAR = 100
NO_TIME_SECOND = 1  # 1970-01-01T00:00:01Z: the engine's mark of a missing time


def _timestamp(value: Any) -> None:
    if not isinstance(value, str):
        raise ContentError("must be an ISO 8601 timestamp string")
    try:
        moment = utc(value)
    except ValueError as error:
        raise ContentError(str(error)) from None
    if moment.year < FIRST_YEAR:
        raise ContentError(f"must be in the year {FIRST_YEAR} or later (the engine reads "
                           "the years 0 to 99 as 1900 to 1999)")
    if int(moment.timestamp()) == NO_TIME_SECOND:
        raise ContentError("may not be 1970-01-01T00:00:01Z, a second the engine reads as "
                           "no time at all (it puts the time of loading instead)")


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


def _index(value: Any) -> int:
    """A page index; 1.0 is 1, as the engine reads it (1.5 is refused: which page?)."""
    if type(value) is float and value.is_integer() and value >= 0:
        return int(value)
    if type(value) is not int or value < 0:
        raise ContentError("must be an integer of 0 or more")
    return value


def _annotation_reference(value: Any) -> None:
    if not (isinstance(value, dict) and (isinstance(value.get("fieldName"), str)
                                         or type(value.get("pdfObjectId")) is int)):
        raise ContentError("must be {\"fieldName\": string} or {\"pdfObjectId\": integer}")


def _nullable(check: Callable[[Any], Any]) -> Callable[[Any], Any]:
    return lambda value: None if value is None else check(value)


def _field_reference(value: Any) -> dict[str, Any] | None:
    """A submitted field: a reference, or its name (stored as {"fieldName": name}: the
    engine keeps references and empties a bare name)."""
    if isinstance(value, str):
        return {"fieldName": value}
    _annotation_reference(value)
    return None


# What each action type needs, as the engine checks it: key -> (check, what it is).
ACTION_KEYS: dict[str, dict[str, tuple[Callable[[Any], Any], str]]] = {
    "uri": {"uri": (_string, "the address to open, a string")},
    "goTo": {},  # 'pageIndex' may be left out: the engine reads it as 0
    "javaScript": {"script": (_string, "the script, a string")},
    "launch": {"filePath": (_string, "the file to open, a string")},
    "named": {"action": (_string, "the named action, a string such as 'NextPage'")},
    "submitForm": {"uri": (_string, "where to submit, a string")},
    "hide": {"hide": (_boolean, "true to hide, false to show"),
             "annotationReferences": (_list_of(_annotation_reference, "references"),
                                      "the fields to hide or show")},
    "goToEmbedded": {"relativePath": (_string, "the embedded document, a string"),
                     "targetType": (_one_of(frozenset({"parent", "child"}), "target type"),
                                    "'parent' or 'child'"),
                     "newWindow": (_boolean, "true or false")},
    "goToRemote": {"relativePath": (_string, "the document to open, a string")},
    "resetForm": {},
}
# Optional keys whose type the engine checks when they are there (None: a null is taken).
SUBMIT_FLAG_ORDER = (  # the engine's order (its bits'); 'submitCoordinated' crashes it
    "includeExclude", "includeNoValueFields", "exportFormat", "getMethod", "xfdf",
    "includeAppendSaves", "includeAnnotations", "submitPDF", "canonicalFormat",
    "excludeNonUserAnnotations", "excludeFKey", "embedForm")
SUBMIT_FLAGS = frozenset(SUBMIT_FLAG_ORDER)
ACTION_OPTIONAL: dict[str, dict[str, Callable[[Any], Any]]] = {
    "goTo": {"pageIndex": _nullable(_index)},
    "resetForm": {"fields": _nullable(_list_of(_annotation_reference, "references")),
                  "flags": _one_of(frozenset({"", "includeExclude"}), "reset flag")},
    "submitForm": {"fields": _nullable(_list_of(_field_reference, "field references")),
                   "flags": _list_of(_one_of(SUBMIT_FLAGS, "submit flag"), "flags")},
    "goToEmbedded": {"pageIndex": _nullable(_index)},
    "goToRemote": {"namedDestination": _string, "pageIndex": _nullable(_index)},
}
# What the engine exports for an optional key left out, or for an empty one it drops.
ACTION_DEFAULTS: dict[str, dict[str, Any]] = {
    "goTo": {"pageIndex": 0}, "goToEmbedded": {"pageIndex": 0},
    "goToRemote": {"pageIndex": 0, "namedDestination": ""},
}
ACTION_DROPPED: dict[str, dict[str, Any]] = {
    "resetForm": {"flags": "", "fields": []}, "submitForm": {"flags": [], "fields": None},
}


# The named actions the engine knows; any other name it keeps as a custom one.
NAMED_ACTIONS = frozenset({
    "nextPage", "prevPage", "firstPage", "lastPage", "goBack", "goForward", "goToPage",
    "find", "print", "outline", "search", "brightness", "zoomIn", "zoomOut", "saveAs",
    "info"})


def _named(name: str, custom: Any) -> dict[str, Any]:
    """A named action as the engine exports it: a name it knows with its first letter lower
    case ('NextPage' is 'nextPage'); any other as a custom action, first letter upper case."""
    if not name:
        raise ContentError("of type 'named' needs a non-empty 'action'")
    if name == "custom" and isinstance(custom, str) and custom:
        name = custom
    known = name[:1].lower() + name[1:]
    if known in NAMED_ACTIONS:
        return {"action": known}
    return {"action": "custom", "customAction": name[:1].upper() + name[1:]}


def _action(value: Any, depth: int = 0) -> dict[str, Any]:
    """The action as stored, as the engine exports it: a goTo (remote, embedded) names its
    page (0 when left out), empty flags and subactions are left out; and so for each of its
    subactions."""
    _object(value)
    kind = value.get("type")
    _one_of(ACTION_TYPES, "action type")(kind)
    stored = dict(value)
    for key, (check, what) in ACTION_KEYS[kind].items():
        if key not in value or value[key] is None:
            raise ContentError(f"of type {kind!r} needs '{key}': {what}")
        _checked(key, value[key], check, f"of type {kind!r}: ")
    for key, check in ACTION_OPTIONAL.get(kind, {}).items():
        if key in value:
            stored[key] = _checked(key, value[key], check, f"of type {kind!r}: ")
    for key, default in ACTION_DEFAULTS.get(kind, {}).items():
        if stored.get(key) is None:
            stored[key] = default
    for key, empty in ACTION_DROPPED.get(kind, {}).items():
        if key in stored and stored[key] in (empty, None):
            del stored[key]
    if kind == "named":
        stored.update(_named(value["action"], value.get("customAction")))
    if kind == "submitForm" and stored.get("flags"):  # each once, in the engine's order
        stored["flags"] = [f for f in SUBMIT_FLAG_ORDER if f in stored["flags"]]
    if value.get("subactions") in ([], None):
        stored.pop("subactions", None)
    else:
        if depth >= MAX_ACTION_DEPTH:
            raise ContentError(f"nests subactions more than {MAX_ACTION_DEPTH} deep")
        subactions = value["subactions"]
        if not isinstance(subactions, list):
            raise ContentError("'subactions' must be a list of actions")
        stored["subactions"] = []
        for i, subaction in enumerate(subactions):
            try:
                stored["subactions"].append(_action(subaction, depth + 1))
            except ContentError as error:
                raise ContentError(f"subaction {i} {error}") from None
    return stored


def validate_action(value: Any) -> dict[str, Any]:
    """An action (of a link, a bookmark, ...) as the engine checks it, as stored."""
    try:
        return _action(value)
    except ContentError as error:
        raise ContentError(f"'action' {error}") from None


def _checked(key: str, value: Any, check: Callable[[Any], Any], context: str) -> Any:
    """``value`` as stored (what ``check`` returns, or ``value`` itself)."""
    try:
        stored = check(value)
    except ContentError as error:
        raise ContentError(f"{context}'{key}' {error}") from None
    return value if stored is None else stored


def _callout(value: Any) -> None:
    """A text's callout line: the engine needs its start, its end and the inset of the
    text box (knee and cap are optional)."""
    _object(value)
    for key, check in (("start", _point), ("end", _point), ("innerRectInset", _inset)):
        if key not in value or value[key] is None:
            raise ContentError(f"needs '{key}' (a callout has start, end and "
                               "innerRectInset; knee and cap are optional)")
        _checked(key, value[key], check, "")
    for key, check in (("knee", _point), ("cap", _one_of(LINE_CAPS, "line cap"))):
        if key in value:  # null too: the engine refuses it (leave the key out)
            _checked(key, value[key], check, "")


# The order the engine lists flags in (the PDF's bit order, noPrint last).
FLAG_ORDER = ("invisible", "hidden", "noZoom", "noRotate", "noView", "readOnly", "locked",
              "toggleNoView", "lockedContents", "noPrint")


def _flags(value: Any) -> list[str]:
    """The flags as the engine lists them: once each, in its order."""
    _list_of(_one_of(FLAGS, "flag"), "flags")(value)
    return [flag for flag in FLAG_ORDER if flag in value]


def _dashes(value: Any) -> list[int]:
    """A dash pattern [dash, gap] in whole points, as the engine keeps it (20.7 is 20)."""
    _numbers(2, "a dash pattern [dash, gap]")(value)
    if not all(-2**31 < v < 2**31 for v in value):
        raise ContentError("must be a dash pattern [dash, gap] of whole points within "
                           "±2,147,483,647")
    return [int(v) for v in value]


def _font_style(value: Any) -> list[str]:
    """Font styles as the engine lists them: bold before italic, each once."""
    _list_of(_string, "strings")(value)
    known = [style for style in ("bold", "italic") if style in value]
    return known + [style for style in dict.fromkeys(value) if style not in known]


def _rotation(value: Any) -> int:
    """Whole degrees from 0 to 359, as the engine stores a rotation (it truncates the
    32-bit float it reads, then turns it: -90 is 270, 370 is 10)."""
    if not _is_number(value) or not -2**31 < value < 2**31:
        raise ContentError("must be a number of degrees (within ±2,147,483,647)")
    return int(float32(value)) % 360


def _icon(value: Any) -> str:
    """The engine's name of a note icon: its first letter lower case ('Comment' is
    'comment', as PDFs and XFDF spell them)."""
    _string(value)
    return value[:1].lower() + value[1:]


MEASUREMENT_PRECISION_NAMES = {"whole": "1", "oneDp": "0.1", "twoDp": "0.01",
                               "threeDp": "0.001", "fourDp": "0.0001"}


def _measurement_precision(value: Any) -> str:
    """The precision as the engine exports it: 'twoDp' is '0.01'."""
    _one_of(MEASUREMENT_PRECISIONS, "measurement precision")(value)
    return MEASUREMENT_PRECISION_NAMES.get(value, value)


SCALE_UNITS_FROM = frozenset({"in", "mm", "cm", "pt"})
SCALE_UNITS_TO = SCALE_UNITS_FROM | {"ft", "m", "yd", "km", "mi"}


def _measurement_scale(value: Any) -> dict[str, Any] | None:
    """A scale as the engine takes it: two numbers and their units; a description, when
    not empty, is the number it describes written out ('2,5' for 2.5: anything else makes
    the engine refuse the record). Empty descriptions are left out, as it exports them."""
    _object(value)
    for key in ("from", "to"):
        _checked(key, value.get(key), _number, "")
    for key, units in (("unitFrom", SCALE_UNITS_FROM), ("unitTo", SCALE_UNITS_TO)):
        _checked(key, value.get(key), _one_of(units, "unit"), "")
    stored = dict(value)
    for key, number in (("fromDescription", "from"), ("toDescription", "to")):
        if stored.get(key) in ("", None):
            stored.pop(key, None)
        elif not _describes(stored[key], value[number]):
            raise ContentError(f"'{key}' must be empty or the number '{number}' written "
                               f"out, as the engine reads it, not {stored[key]!r}")
    return stored


def _describes(text: Any, number: float) -> bool:
    if not isinstance(text, str) or not text.isascii():  # strtod's digits, not Unicode's
        return False
    digits = text.strip().replace(",", ".")
    try:
        written = float.fromhex(digits) if "x" in digits.lower() else float(digits)
    except ValueError:
        return False
    return abs(written) <= FLOAT32_MAX and float32(written) == float32(number)


def _font_size(value: Any) -> None:
    if value != "auto":  # 'auto' only on a widget: see _widget_or_not
        _number(value)


def _pdf_object_id(value: Any) -> None:
    if type(value) is not int:
        raise ContentError("must be an integer")


FIELD_RULES: dict[str, Callable[[Any], Any]] = {
    # key -> its check; a check returns the value to store when that is not the value sent
    "bbox": _rect,
    "opacity": _number,  # the engine keeps 1.5 or -0.5 too; drawing clamps to 0..1
    "pdfObjectId": _pdf_object_id,
    "name": _string,
    "subject": _string,
    "note": _string,
    "creatorName": _string,
    "createdAt": _timestamp,
    "updatedAt": _timestamp,
    "flags": _flags,
    "action": _action,
    "customData": _object,
    "blendMode": _one_of(BLEND_MODES, "blend mode"),
    "isCommentThreadRoot": _boolean,
    "isAnonymous": _boolean,
    "color": _color,
    "strokeColor": _color,
    "backgroundColor": _color,
    "fillColor": _color,
    "fontColor": _color,
    "borderColor": _color,
    "outlineColor": _color,
    "borderStyle": _one_of(BORDER_STYLES, "border style"),
    "lineCaps": _line_caps,
    "lines": _lines,
    "callout": _callout,
    "lineWidth": _number,
    "strokeWidth": _number,
    "borderWidth": _number,
    "rotation": _number,  # stored as whole degrees where the type has one: ROTATED
    "fontSize": _font_size,
    "isDrawnNaturally": _boolean,
    "isSignature": _boolean,
    "horizontalAlign": _one_of(HORIZONTAL_ALIGNS, "horizontal alignment"),
    "verticalAlign": _one_of(VERTICAL_ALIGNS, "vertical alignment"),
    "rects": _list_of(_rect, "rectangles [left, top, width, height]"),
    "startPoint": _point,
    "endPoint": _point,
    "points": _list_of(_point, "points [x, y]"),
    "cloudyBorderInset": _inset,
    "cloudyBorderIntensity": _number,
    "strokeDashArray": _dashes,
    "measurementPrecision": _measurement_precision,
    "measurementScale": _measurement_scale,
    "imageAttachmentId": _string,
    "stampType": _one_of(STAMP_TYPES, "stamp type"),
    "kind": _one_of(STAMP_TYPES, "stamp kind"),
    "title": _string,
    "subtitle": _string,
    "icon": _string,  # stored as the engine names it where the type has one: ICONS
    "formFieldName": _string,
    "font": _string,
    "fontStyle": _font_style,
    "isFitting": _boolean,
    "lineHeightFactor": _number,
    "overlayText": _string,
    "repeatOverlayText": _boolean,
    "contentType": _string,
    "description": _string,
}
# The types whose rotation and icon the engine normalises (others ignore the key).
ROTATED = frozenset({"pspdfkit/text", "pspdfkit/markup/redaction", "pspdfkit/stamp",
                     "pspdfkit/image"})
ICONS = frozenset({"pspdfkit/note"})

_TEXT, _INK, _LINK, _NOTE, _STAMP, _IMAGE, _WIDGET = (
    "pspdfkit/text", "pspdfkit/ink", "pspdfkit/link", "pspdfkit/note", "pspdfkit/stamp",
    "pspdfkit/image", "pspdfkit/widget")
_CLOUDY = frozenset({"pspdfkit/shape/rectangle", "pspdfkit/shape/ellipse",
                     "pspdfkit/shape/polygon", _TEXT})
_LINE = "pspdfkit/shape/line"
_POLY = frozenset({"pspdfkit/shape/polygon", "pspdfkit/shape/polyline"})
_MARKUPS = MARKUPS
_FILLED = SHAPES | {"pspdfkit/markup/redaction"}
EVERY_TYPE = IMPORTABLE_TYPES
# A null is what the engine makes of it (asked of @nutrient-sdk/node 1.3.0 key by key and type
# by type; tests/engine/test_engine_rules.py asks again): for the types listed it refuses the
# whole document, so annolog refuses the record; for any other type it reads the key as left
# out, and so does annolog (the key is not stored). Widgets were not asked one key at a time:
# every null but of the free-text keys is refused for them. 'createdAt' and 'updatedAt' are
# refused too, though the engine reads null as "now": a record's times are not guesses.
NULL_REFUSED: dict[str, frozenset[str]] = {
    "action": EVERY_TYPE, "bbox": EVERY_TYPE, "blendMode": EVERY_TYPE, "flags": EVERY_TYPE,
    "opacity": EVERY_TYPE, "createdAt": EVERY_TYPE, "updatedAt": EVERY_TYPE,
    "backgroundColor": frozenset({_INK, _TEXT}),
    "borderColor": frozenset({_LINK, _TEXT}),
    "borderStyle": frozenset({_LINK, _TEXT}),
    "borderWidth": frozenset({_LINK, _TEXT}),
    "callout": frozenset({_TEXT}),
    "cloudyBorderInset": _CLOUDY,
    "cloudyBorderIntensity": _CLOUDY,
    "color": _MARKUPS | {_NOTE, _STAMP},
    "contentType": frozenset({_IMAGE}),
    "description": frozenset({_IMAGE}),
    "endPoint": frozenset({_LINE}),
    "fillColor": _FILLED,
    "font": frozenset({_TEXT}),
    "fontColor": frozenset({_TEXT}),
    "fontSize": frozenset({_TEXT, "pspdfkit/markup/redaction"}),
    "fontStyle": frozenset({_TEXT}),
    "horizontalAlign": frozenset({_TEXT}),
    "icon": frozenset({_NOTE}),
    "imageAttachmentId": frozenset({_IMAGE}),
    "isDrawnNaturally": frozenset({_INK}),
    "isSignature": frozenset({_INK, _IMAGE}),
    "lineCaps": _POLY | {_LINE},
    "lineWidth": frozenset({_INK}),
    "lines": frozenset({_INK, _LINE}),
    "measurementPrecision": SHAPES,
    "measurementScale": SHAPES,
    "outlineColor": frozenset({"pspdfkit/markup/redaction"}),
    "points": _POLY,
    "rects": _MARKUPS,
    "rotation": ROTATED,
    "stampType": frozenset({_STAMP}),
    "startPoint": frozenset({_LINE}),
    "strokeColor": SHAPES | {_INK},
    "strokeWidth": SHAPES,
    "subtitle": frozenset({_STAMP}),
    "text": frozenset({_NOTE, _TEXT}),
    "title": frozenset({_STAMP}),
    "verticalAlign": frozenset({_TEXT}),
}
# Keys a widget may leave null (the engine reads them as empty): free text and free data.
NULL_AS_ABSENT_FOR_WIDGETS = frozenset({"name", "note", "subject", "creatorName",
                                        "customData", "pdfObjectId"})


def null_refused(key: str, kind: str) -> bool:
    """Whether the engine refuses a document holding ``key: null`` in a record of ``kind``."""
    if kind == _WIDGET:
        return key in FIELD_RULES and key not in NULL_AS_ABSENT_FOR_WIDGETS
    return kind in NULL_REFUSED.get(key, ())


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
    # An image's description is its subject to the engine: one text, the subject first.
    described = content.get("subject", content.get("description"))
    if described is not None:
        content["subject"] = content["description"] = described


def _stamp(content: dict) -> None:
    if "stampType" not in content and "kind" not in content:
        raise ContentError("'stampType' (or 'kind') is required for pspdfkit/stamp annotations")
    if "Custom" in (content.get("stampType"), content.get("kind")) and \
            not isinstance(content.get("title"), str):
        raise ContentError("a custom stamp (stampType 'Custom') needs 'title': the text it "
                           "shows, a string")


FLATTEST_SQUIGGLE = 0.01


def _squiggly(content: dict) -> None:
    """The engine fails on a squiggly rect with no height (no wave to draw), refusing the
    whole document."""
    _required("rects")(content)
    for i, rect in enumerate(content["rects"]):
        if abs(rect[3]) < FLATTEST_SQUIGGLE:
            raise ContentError(f"'rects' item {i} of a squiggly must be at least "
                               f"{FLATTEST_SQUIGGLE} high (the engine fails on a flat one)")


def _ink(content: dict) -> None:
    _required("lineWidth", "isDrawnNaturally")(content)
    content.setdefault("lines", {"points": [], "intensities": []})  # as the engine reads it


REPEATABLE = re.compile("[\x20-\x7e\xa0-\xff]*")


def _redaction(content: dict) -> None:
    """The engine fails (refusing the document) on a repeated overlay text holding a
    character beyond Latin-1 ('Ω', '日'): such text may be shown once, not repeated."""
    _required("rects")(content)
    text = content.get("overlayText")
    if content.get("repeatOverlayText") is True and isinstance(text, str) and \
            not REPEATABLE.fullmatch(text):
        raise ContentError("'overlayText' may be repeated (repeatOverlayText) only when it "
                           "holds printable Latin-1 characters (the engine fails on others); "
                           "send repeatOverlayText false to show it once")


TYPE_RULES: dict[str, Callable[[dict], None]] = {
    "pspdfkit/text": _required("text", "horizontalAlign", "verticalAlign"),
    "pspdfkit/ink": _ink,
    "pspdfkit/image": _image,
    "pspdfkit/stamp": _stamp,
    **{t: _required("rects") for t in MARKUPS},
    "pspdfkit/markup/squiggly": _squiggly,
    "pspdfkit/markup/redaction": _redaction,
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


def accepted_content(content: Any, page_count: int | None = None) -> dict[str, Any]:
    """``content`` as annolog stores it: the form the engine normalises it to (see
    ``FIELD_RULES`` and ``NULL_REFUSED``), or ``ContentError`` naming the first rule it
    breaks. The dict given is never changed."""
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
    stored = dict(content)
    stored["pageIndex"] = page_index(content.get("pageIndex"), page_count)
    for key in ("bbox", "opacity"):
        if key not in content:
            raise ContentError(f"'{key}' is required")
    for key, value in content.items():
        if value is None:
            _null(stored, key, kind)
            continue
        check = FIELD_RULES.get(key)
        if check is not None:
            stored[key] = _checked(key, value, _check_for(key, kind), "")
    _text(stored)
    type_rule = TYPE_RULES.get(kind)
    if type_rule is not None:
        type_rule(stored)
    return stored


def _check_for(key: str, kind: str) -> Callable[[Any], Any]:
    """The check of ``key`` in a record of ``kind``: a few keys are stored as the engine
    normalises them only where the type has them."""
    if key == "rotation" and kind in ROTATED:
        return _rotation
    if key == "icon" and kind in ICONS:
        return _icon
    if key == "fontSize" and kind != _WIDGET:
        return _number
    return FIELD_RULES[key]


def _null(stored: dict[str, Any], key: str, kind: str) -> None:
    """A null: refused where the engine would refuse the document, else the key left out."""
    if key in ("type", "v", "pageIndex"):
        return  # checked above, with their own messages
    if key not in FIELD_RULES and key not in NULL_REFUSED:
        return  # a key unknown here: kept as sent, for the clients that know it
    if null_refused(key, kind):
        raise ContentError(f"'{key}' may not be null in a {kind} annotation (the engine "
                           "refuses the document); leave the key out instead")
    del stored[key]


def page_index(value: Any, page_count: int | None) -> int:
    """A page of the document (1.0 is page 1); ContentError names the problem."""
    try:
        index = _index(value)
    except ContentError:
        raise ContentError("'pageIndex' must be an integer of 0 or more") from None
    if page_count is not None and index >= page_count:
        raise ContentError(f"'pageIndex' {index} is outside the document, which has "
                           f"{page_count} page{'s' if page_count != 1 else ''}")
    return index
