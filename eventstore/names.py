"""Names and references in records: which strings may name a new document, layer or
annotation (one that every URL can address), and the attachments a record's content names."""

from __future__ import annotations

import re
from typing import Any

from eventstore.validation import ContentError

SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
MAX_ID_LENGTH = 256
MAX_LAYER_NAME = 256
# What a new document id, layer name or annotation id may not hold: control characters
# (U+0000-U+001F, U+007F-U+009F), which logs, terminals and SQL text functions mangle, the
# URL path separators '/' and '\' (WHATWG URL parsers read '\' as '/'), and surrogates,
# which UTF-8 cannot carry. "." and ".." are dot segments: URL normalisation removes them,
# so no URL could ever address such a name.
UNSAFE_CLASS = r"\x00-\x1f\x7f-\x9f/\\"
UNSAFE_IN_NAMES = re.compile(f"[{UNSAFE_CLASS}\\ud800-\\udfff]")
# Unicode's bidirectional controls (the Bidi_Control property): invisible, they reorder what
# a reader sees, so an id in an audit trail could pass for another ("abc\u202eed" shows as
# "abcde").
BIDI_CLASS = r"\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
BIDI_CONTROLS = re.compile(f"[{BIDI_CLASS}]")
DOT_SEGMENTS = (".", "..")
# The same rules as JSON Schema, for the OpenAPI document: the characters a new name may
# hold (name_problem adds: not a dot segment, not only white space). Surrogates are left
# out: no UTF-8 text or JSON parser here yields one.
NAME_CHARACTERS = f"[^{UNSAFE_CLASS}{BIDI_CLASS}]"
NOT_IN_LAYER_NAMES = "*"  # besides: a layer name may not hold '*'
LAYER_NAME_CHARACTERS = f"[^{UNSAFE_CLASS}{BIDI_CLASS}{NOT_IN_LAYER_NAMES}]"


def name_problem(value: str) -> str | None:
    """Why ``value`` cannot name a new document, layer or annotation; None when it can.
    Unusual but harmless Unicode (accents, scripts, right-to-left text, emoji, spaces
    within) is welcome."""
    if value in DOT_SEGMENTS:
        return f"{value!r} is a URL dot segment, which no URL can address"
    if value.isspace():
        return "it is only white space, which no reader can tell from another"
    bidi = BIDI_CONTROLS.search(value)
    if bidi is not None:
        return f"it holds a bidirectional control (U+{ord(bidi.group()):04X}) at position " \
               f"{bidi.start()}, which changes what a reader sees"
    unsafe = UNSAFE_IN_NAMES.search(value)
    if unsafe is not None:
        character = unsafe.group()
        what = "a path separator" if character in "/\\" else (
            "a surrogate" if "\ud800" <= character <= "\udfff" else "a control character")
        return f"it holds {what} ({character!r}, U+{ord(character):04X}) at position " \
               f"{unsafe.start()}"
    return None


def check_annotation_id(value: Any, *, new: bool = True) -> str:
    """A new record's id must be addressable by URL; an id that only names a record to
    change or delete need only be a string (records stored before the rules stay
    reachable)."""
    if not isinstance(value, str) or not value:
        raise ContentError("'id' must be a non-empty string")
    if len(value) > MAX_ID_LENGTH:
        raise ContentError(f"'id' may have at most {MAX_ID_LENGTH} characters")
    problem = name_problem(value) if new else None
    if problem is not None:
        raise ContentError(f"'id' {value!r} cannot be used: {problem}")
    return value


REFERENCE_KEYS = ("imageAttachmentId", "mediaAttachmentId", "widgetAttachmentId")


def attachment_references(content: dict[str, Any]) -> tuple[str, ...]:
    """The attachment ids a record's content names (image, stamp, media, widget)."""
    named = [value for value in map(content.get, REFERENCE_KEYS) if isinstance(value, str)]
    if not named:  # most records: no generator, no dict
        return ()
    return tuple(dict.fromkeys(normalize_attachment_id(value) for value in named))


def normalize_attachment_id(value: str) -> str:
    """SHA-256 hex ids compare case-insensitively; any other id is kept as it is."""
    return value.lower() if SHA256_HEX.fullmatch(value) else value


def layer_name_problem(name: str, *, new: bool = True) -> str | None:
    """Why ``name`` cannot name a layer (a new one must be addressable by URL; one stored
    before the rules came stays usable); None when it can."""
    if not name:
        return "a layer name may not be empty"
    if NOT_IN_LAYER_NAMES in name:
        return f"layer name {name!r} may not contain {NOT_IN_LAYER_NAMES!r}"
    if len(name) > MAX_LAYER_NAME:
        return f"a layer name may have at most {MAX_LAYER_NAME} characters"
    problem = name_problem(name) if new else None
    if problem is not None:
        return f"layer name {name!r} cannot be used: {problem}"
    return None
