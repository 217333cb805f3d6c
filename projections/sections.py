"""The Instant JSON sections besides annotations and attachments: comments, bookmarks, form
fields and form field values (rules from shared/reference/instant-json.md §7–§9).

Each record is checked on import, given a ULID when it has no ``id`` (the engine would export
it without one), and written in a canonical form on export: keys sorted, no ``pdfObjectId``
(annolog holds no objects of the PDF), timestamps in whole UTC seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from typing import Any

from ulid import ULID

from eventstore.domain import SECTION_KEYS, SECTIONS
from eventstore.names import check_annotation_id
from eventstore.times import utc
from eventstore.validation import ContentError, page_index, validate_action

FORM_FIELD_KINDS = ("text", "checkbox", "radio", "combobox", "listbox", "button", "signature",
                    "unknown")
FORM_FIELD_FLAGS = ("readOnly", "required", "noExport")
TIMESTAMP_KEYS = ("createdAt", "updatedAt")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ContentError(message)


def _common(record: Any, type_: str, versions: tuple[int, ...]) -> dict[str, Any]:
    _expect(isinstance(record, dict), "each record must be a JSON object")
    _expect(record.get("type") == type_, f"'type' must be {type_!r}")
    _expect(record.get("v") in versions and type(record.get("v")) is int,
            f"'v' must be {' or '.join(map(str, versions))}")
    return dict(record)


def _with_id(record: dict[str, Any]) -> dict[str, Any]:
    if record.get("id") in (None, ""):
        record["id"] = str(ULID())
    else:
        record["id"] = check_annotation_id(record["id"])
    return record


def _optional(record: dict[str, Any], key: str, check: Callable[[Any], bool],
              what: str) -> None:
    if key in record:
        _expect(check(record[key]), f"'{key}' must be {what}")


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _is_object(value: Any) -> bool:
    return isinstance(value, dict)


def _is_timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        utc(value)
    except ValueError:
        return False
    return True


def _is_index(value: Any, count: int | None) -> bool:
    return type(value) is int and value >= 0 and (count is None or value < count)


def check_comment(record: Any, page_count: int | None, roots: Collection[str]
                  ) -> dict[str, Any]:
    comment = _with_id(_common(record, "pspdfkit/comment", (2,)))
    root = comment.get("rootId")
    _expect(isinstance(root, str) and root != "",
            "'rootId' must be the id of the annotation the comment belongs to (usually a "
            "pspdfkit/comment-marker)")
    _expect(root in roots, f"'rootId' {root!r} names no annotation of this import or layer")
    text = comment.get("text")
    _expect(isinstance(text, dict) and text.get("format") in ("plain", "xhtml")
            and (text.get("value") is None or isinstance(text.get("value"), str)),
            "'text' must be {\"format\": \"plain\" or \"xhtml\", \"value\": a string}")
    if comment.get("pageIndex") is not None:
        comment["pageIndex"] = page_index(comment["pageIndex"], page_count)
    for key in TIMESTAMP_KEYS:
        _optional(comment, key, _is_timestamp, "an ISO 8601 time such as 2024-05-01T10:00:00Z")
    _optional(comment, "creatorName", lambda v: v is None or _is_text(v), "a string or null")
    _optional(comment, "customData", lambda v: v is None or _is_object(v), "an object or null")
    _optional(comment, "isAnonymous", lambda v: isinstance(v, bool), "true or false")
    return comment


def check_bookmark(record: Any, page_count: int | None, roots: Collection[str]
                   ) -> dict[str, Any]:
    bookmark = _with_id(_common(record, "pspdfkit/bookmark", (1,)))
    action: Any = bookmark.get("action")
    _expect(isinstance(action, dict) and isinstance(action.get("type"), str),
            "'action' must be an action object with a 'type', e.g. "
            "{\"type\": \"goTo\", \"pageIndex\": 1}")
    bookmark["action"] = action = validate_action(action)
    if action["type"] == "goTo":
        _expect(_is_index(action.get("pageIndex"), page_count),
                "a goTo action's 'pageIndex' must be a page of this document")
    _optional(bookmark, "name", lambda v: v is None or _is_text(v), "a string or null")
    _optional(bookmark, "sortKey",
              lambda v: v is None or (type(v) in (int, float) and math.isfinite(v)),
              "a number or null")
    _optional(bookmark, "pdfBookmarkId", lambda v: v is None or _is_text(v),
              "a string or null")
    return bookmark


def check_form_field(record: Any, page_count: int | None, roots: Collection[str]
                     ) -> dict[str, Any]:
    _expect(isinstance(record, dict), "each record must be a JSON object")
    kind = str(record.get("type", "")).removeprefix("pspdfkit/form-field/")
    _expect(kind in FORM_FIELD_KINDS, "'type' must be pspdfkit/form-field/ followed by one of "
            + ", ".join(FORM_FIELD_KINDS))
    field = _with_id(_common(record, f"pspdfkit/form-field/{kind}", (1,)))
    _expect(isinstance(field.get("name"), str) and field["name"] != "",
            "'name' (the field's fully qualified name) must be a non-empty string")
    ids = field.get("annotationIds")
    _expect(isinstance(ids, list) and all(isinstance(i, str) for i in ids),
            "'annotationIds' must be a list of the ids of the field's widget annotations")
    _optional(field, "label", _is_text, "a string")
    _optional(field, "flags", lambda v: isinstance(v, list) and all(
        f in FORM_FIELD_FLAGS for f in v), "a list of " + ", ".join(FORM_FIELD_FLAGS))
    return field


def check_form_field_value(record: Any, page_count: int | None, roots: Collection[str]
                           ) -> dict[str, Any]:
    value = _common(record, "pspdfkit/form-field-value", (1,))
    _expect(isinstance(value.get("name"), str) and value["name"] != "",
            "'name' (the field's fully qualified name) must be a non-empty string")
    given = value.get("value", ...)
    _expect(given is None or isinstance(given, str) or (
        isinstance(given, list) and all(isinstance(v, str) for v in given)),
        "'value' must be a string, a list of strings, or null")
    _optional(value, "optionIndexes", lambda v: isinstance(v, list) and all(
        _is_whole(i) for i in v), "a list of whole numbers")
    if "optionIndexes" in value:  # JSON has one number type: 2.0 is the index 2
        value["optionIndexes"] = [int(i) for i in value["optionIndexes"]]
    return value


MAX_INDEX = 2**63 - 1  # what the log's JSON encoder holds


def _is_whole(value: Any) -> bool:
    return type(value) in (int, float) and float(value).is_integer() and \
        0 <= value <= MAX_INDEX


CHECKS = {"comments": check_comment, "bookmarks": check_bookmark,
          "formFields": check_form_field, "formFieldValues": check_form_field_value}


def plan_sections(document: dict[str, Any], page_count: int | None, roots: Collection[str],
                  fail: Callable[[str, str], None]) -> dict[str, list[dict[str, Any]]]:
    """The sections a document brings, checked; ``fail(path, reason)`` for each bad record."""
    sections: dict[str, list[dict[str, Any]]] = {}
    for name in SECTIONS:
        records = document.get(name)
        if records is None:
            continue
        if not isinstance(records, list):
            fail(f"$.{name}", f"'{name}' must be a list")
            continue
        seen: set[str] = set()
        for index, record in enumerate(records):
            path = f"$.{name}[{index}]"
            try:
                checked = CHECKS[name](record, page_count, roots)
            except ContentError as error:
                fail(path, str(error))
                continue
            key = checked[SECTION_KEYS[name]]
            if key in seen:
                fail(path, f"{SECTION_KEYS[name]} {key!r} appears more than once in "
                           f"'{name}'")
                continue
            seen.add(key)
            sections.setdefault(name, []).append(checked)
    return sections


def export_sections(sections: dict[str, list[dict[str, Any]]],
                    canonical_timestamp: Callable[[str], str],
                    exported_ids: Collection[str] | None = None
                    ) -> dict[str, list[dict[str, Any]]]:
    """The sections in canonical form; with ``exported_ids``, only comments whose root
    annotation is exported (a caller who may not see an annotation sees none of its thread)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name in SECTIONS:
        records = sections.get(name, [])
        if name == "comments" and exported_ids is not None:
            records = [r for r in records if r.get("rootId") in exported_ids]
        if records:
            out[name] = [_canonical(r, canonical_timestamp) for r in records]
    return out


def _canonical(record: dict[str, Any], canonical_timestamp: Callable[[str], str]
               ) -> dict[str, Any]:
    record = {k: v for k, v in record.items() if k != "pdfObjectId"}
    for key in TIMESTAMP_KEYS:
        if isinstance(record.get(key), str):
            record[key] = canonical_timestamp(record[key])
    return dict(sorted(record.items()))
