"""What the engine makes of a record, as the tests compare it: a minimal record of each type,
the keys it exports back, the defaults it fills in, and one comparison of annolog's record with
the engine's export of it. Read from @nutrient-sdk/node 1.3.0 (see docs/api.md, "What the
engine makes of a record")."""

from __future__ import annotations

import math
from typing import Any

from eventstore.times import utc
from eventstore.validation import TRANSPARENT
from projections.instant_json import DEFAULTS, OMITTED

TIME = "2020-01-01T00:00:00Z"
BASE = {"v": 2, "pageIndex": 0, "bbox": [10, 20, 30, 40], "opacity": 1, "createdAt": TIME,
        "updatedAt": TIME}
SHAPE = {"strokeWidth": 2}
MARKUP = {"rects": [[10, 20, 30, 40]]}
MINIMAL: dict[str, dict[str, Any]] = {
    "pspdfkit/note": {"text": {"format": "plain", "value": "n"}},
    "pspdfkit/text": {"text": {"format": "plain", "value": "t"}, "horizontalAlign": "left",
                      "verticalAlign": "top"},
    "pspdfkit/ink": {"lines": {"points": [[[10, 20], [30, 40]]], "intensities": [[1, 1]]},
                     "lineWidth": 2, "isDrawnNaturally": False},
    "pspdfkit/shape/rectangle": SHAPE,
    "pspdfkit/shape/ellipse": SHAPE,
    "pspdfkit/shape/line": {**SHAPE, "startPoint": [10, 20], "endPoint": [40, 60]},
    "pspdfkit/shape/polygon": {**SHAPE, "points": [[10, 20], [40, 60], [10, 60]]},
    "pspdfkit/shape/polyline": {**SHAPE, "points": [[10, 20], [40, 60], [10, 60]]},
    "pspdfkit/link": {"action": {"type": "uri", "uri": "https://example.com"}},
    "pspdfkit/markup/highlight": MARKUP,
    "pspdfkit/markup/underline": MARKUP,
    "pspdfkit/markup/strikeout": MARKUP,
    "pspdfkit/markup/squiggly": MARKUP,
    "pspdfkit/markup/redaction": MARKUP,
    "pspdfkit/stamp": {"stampType": "Approved"},
    "pspdfkit/comment-marker": {},
    "pspdfkit/image": {"contentType": "image/png"},  # and imageAttachmentId: see image()
}
TYPES = sorted(MINIMAL)

_EVERY = ["action", "blendMode", "createdAt", "creatorName", "customData", "flags", "name",
          "opacity", "subject", "updatedAt", "bbox", "pageIndex", "type", "v"]
_SHAPE = ["fillColor", "measurementPrecision", "measurementScale", "note", "strokeColor",
          "strokeDashArray", "strokeWidth"]
_MARKUP = ["color", "note", "rects"]
# The keys the engine exports back when a record holds them (asked one key at a time).
KEPT: dict[str, frozenset[str]] = {kind: frozenset(_EVERY + keys) for kind, keys in {
    "pspdfkit/note": ["color", "icon", "isCommentThreadRoot", "text"],
    "pspdfkit/text": ["backgroundColor", "borderStyle", "borderWidth", "callout",
                      "cloudyBorderIntensity", "font", "fontColor", "fontSize", "fontStyle",
                      "horizontalAlign", "isFitting", "rotation", "verticalAlign", "text"],
    "pspdfkit/ink": ["backgroundColor", "isDrawnNaturally", "isSignature", "lineWidth",
                     "lines", "note", "strokeColor"],
    "pspdfkit/shape/rectangle": _SHAPE + ["cloudyBorderIntensity"],
    "pspdfkit/shape/ellipse": _SHAPE + ["cloudyBorderIntensity"],
    "pspdfkit/shape/line": _SHAPE + ["endPoint", "lineCaps", "startPoint"],
    "pspdfkit/shape/polygon": _SHAPE + ["cloudyBorderIntensity", "points"],
    "pspdfkit/shape/polyline": _SHAPE + ["lineCaps", "points"],
    "pspdfkit/link": ["borderStyle"],
    "pspdfkit/markup/highlight": _MARKUP,
    "pspdfkit/markup/underline": _MARKUP,
    "pspdfkit/markup/strikeout": _MARKUP,
    "pspdfkit/markup/squiggly": _MARKUP,
    "pspdfkit/markup/redaction": _MARKUP + ["fillColor", "fontSize", "outlineColor",
                                            "overlayText", "repeatOverlayText", "rotation"],
    "pspdfkit/stamp": ["color", "note", "rotation", "stampType", "subtitle", "title"],
    "pspdfkit/comment-marker": [],
    "pspdfkit/image": ["contentType", "description", "imageAttachmentId", "isSignature",
                       "note", "rotation"],
}.items()}
# Keys the engine sets on its own whatever the record holds: a marker's look and its
# thread's first comment, a text's line height.
DERIVED: dict[str, frozenset[str]] = {
    "pspdfkit/comment-marker": frozenset({"color", "icon", "text", "isCommentThreadRoot",
                                          "creatorName"}),
    "pspdfkit/text": frozenset({"lineHeightFactor", "isFitting"}),
    "pspdfkit/markup/highlight": frozenset({"isCommentThreadRoot", "note"}),
    "pspdfkit/markup/underline": frozenset({"isCommentThreadRoot", "note"}),
    "pspdfkit/markup/strikeout": frozenset({"isCommentThreadRoot", "note"}),
    "pspdfkit/markup/squiggly": frozenset({"isCommentThreadRoot", "note"}),
}





def record(kind: str, record_id: str = "r1", /, **extra: Any) -> dict[str, Any]:
    """A minimal valid record of ``kind`` (with an id, as Instant JSON lists it)."""
    return {**BASE, "type": kind, "id": record_id, **MINIMAL[kind], **extra}


def differences(stored: dict[str, Any], exported: dict[str, Any]) -> list[str]:
    """How the engine's export of a record differs from the record annolog stored: every
    key the engine exports must hold annolog's value (numbers as the engine's 32-bit floats
    hold them, times to the second), unless the engine fills it in or derives it; every key
    annolog stores that the engine keeps for the type must come back."""
    kind = stored["type"]
    found = []
    derived = DERIVED.get(kind, frozenset()) | {"id", "pdfObjectId"} | redrawn(stored)
    defaults = DEFAULTS.get(kind, {})
    for key, value in exported.items():
        if key in derived:
            continue
        if key not in stored:
            if key in defaults and defaults[key] in (None, value):
                continue
            found.append(f"{key}: the engine added {value!r}")
        elif not same(key, stored[key], value):
            found.append(f"{key}: annolog {stored[key]!r}, the engine {value!r}")
    for key in KEPT.get(kind, frozenset()) - derived:
        if key in stored and key not in exported and stored[key] not in (TRANSPARENT, []) \
                and OMITTED.get(key) != stored[key]:
            found.append(f"{key}: annolog {stored[key]!r}, the engine left it out")
    return found


def redrawn(stored: dict[str, Any]) -> frozenset[str]:
    """The geometry the engine computes itself: a measured shape's box, a cloudy border
    sent without its inset (the engine widens the box by the inset, and dates the change),
    a callout's (its inset, no rotation)."""
    measured = "measurementScale" in stored or "measurementPrecision" in stored
    cloudy = stored.get("cloudyBorderIntensity") and "cloudyBorderInset" not in stored
    found: set[str] = set()
    if measured or cloudy:
        found |= {"bbox", "cloudyBorderInset", "measurementBBox", "updatedAt"}
    if stored["type"] == "pspdfkit/text" and "callout" in stored:
        found |= {"rotation", "cloudyBorderInset"}  # a callout does not turn
    return frozenset(found)


def same(key: str, ours: Any, theirs: Any) -> bool:
    """Equal as the engine holds values."""
    if key in ("createdAt", "updatedAt") and isinstance(ours, str) and isinstance(theirs, str):
        return int(utc(ours).timestamp()) == int(utc(theirs).timestamp())
    if key == "lineHeightFactor":
        return True
    return _same(ours, theirs)


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return ours is theirs
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        scale = max(abs(ours), abs(theirs), 1024.0)
        return math.isclose(ours, theirs, rel_tol=0, abs_tol=2 * scale * 2.0 ** -23)
    if isinstance(ours, dict) and isinstance(theirs, dict):
        extra = {"destinationType"}  # a goTo's, which the engine adds
        keys = (ours.keys() | theirs.keys()) - (extra - ours.keys())
        return all(k in ours and k in theirs and _same(ours[k], theirs[k]) for k in keys)
    if isinstance(ours, list) and isinstance(theirs, list):
        return len(ours) == len(theirs) and all(map(_same, ours, theirs))
    return bool(ours == theirs)
