"""The parts of a request: items of a batch, ids, names and numbers, checked once at the edge."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from ulid import ULID

from api.errors import ApiError
from eventstore.domain import DEFAULT_LAYER
from eventstore.names import attachment_references, check_annotation_id, layer_name_problem
from eventstore.validation import ContentError, accepted_content


def json_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(422, "the request body must be a JSON object")
    return body


def layer_name(request: web.Request, *, creating: bool = False) -> str:
    """The layer of the path; ``creating`` routes may bring a new layer into being, so its
    name must be one a URL can address (a name stored before the rules came stays
    readable and deletable)."""
    name = request.match_info.get("layer_name", DEFAULT_LAYER)
    if "layer_name" in request.match_info:
        check_layer_name(name, new=creating)
    return name


def check_layer_name(name: str, *, new: bool = True) -> None:
    problem = layer_name_problem(name, new=new)
    if problem is not None:
        raise ApiError(400, problem)


def optional_string(item: dict[str, Any], key: str) -> str | None:
    value = item.get(key)
    if value is not None and not isinstance(value, str):
        raise ContentError(f"'{key}' must be a string or null")
    return value


@dataclass(frozen=True)
class AnnotationInput:
    """One validated item of a create or update request."""

    annotation_id: str
    content: dict[str, Any]
    user_id: str | None
    group: str | None
    has_group: bool
    references: tuple[str, ...] = ()
    base_version: int | None = None  # the version the change was based on (extension)


def parse_item(item: Any, *, page_count: int | None, id_required: bool,
               path_id: str | None = None) -> AnnotationInput:
    """Validate one annotation item; raises ``ContentError`` with a reason to act on."""
    if not isinstance(item, dict):
        raise ContentError("each annotation must be a JSON object with a 'content' object")
    if "content" not in item:
        raise ContentError("'content' is required")
    if path_id is not None:
        if "id" in item and item["id"] != path_id:
            raise ContentError(f"'id' {item['id']!r} does not match the id in the path "
                               f"{path_id!r}")
        annotation_id = path_id
    elif "id" in item and item["id"] is not None:
        annotation_id = check_annotation_id(item["id"], new=not id_required)
    elif id_required:
        raise ContentError("'id' is required to update an annotation")
    else:
        annotation_id = str(ULID())
    user_id = optional_string(item, "user_id")
    group = optional_string(item, "group")
    content = accepted_content(item["content"], page_count)
    _check_storable(content)
    base_version = item.get("baseVersion")
    if base_version is not None and (type(base_version) is not int or base_version < 1):
        raise ContentError("'baseVersion' must be the record version (1 or more) the change "
                           "was based on")
    return AnnotationInput(annotation_id, content, user_id, group, "group" in item,
                           attachment_references(content), base_version)


def _check_storable(content: dict[str, Any]) -> None:
    try:
        orjson.dumps(content)
    except TypeError as error:  # only the relaxed parser can produce such values
        raise ContentError(f"'content' cannot be stored: {error} (integers must fit in "
                           "64 bits)") from None


@dataclass
class Batch:
    """The items of a batch that passed validation, and a failing path for each that did not."""

    items: list[tuple[int, AnnotationInput]] = field(default_factory=list)
    failing: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, index: int, reason: str) -> None:
        self.failing.append(failing_path(index, reason))


def failing_path(index: int, reason: str) -> dict[str, Any]:
    return {"path": f"$.annotations[{index}]", "details": reason, "error": reason}


def parse_batch(body: dict[str, Any], *, page_count: int | None, id_required: bool,
                max_batch: int) -> Batch:
    items = body.get("annotations")
    if not isinstance(items, list):
        raise ApiError(422, "'annotations' must be a list of annotation objects")
    if not items:
        raise ApiError(422, "'annotations' is empty; send at least one annotation")
    if len(items) > max_batch:
        raise ApiError(413, f"{len(items)} annotations in one request; the limit is "
                            f"{max_batch} (ANNOLOG_MAX_BATCH)")
    batch, seen = Batch(), set()
    for index, item in enumerate(items):
        try:
            parsed = parse_item(item, page_count=page_count, id_required=id_required)
        except ContentError as error:
            batch.fail(index, str(error))
            continue
        if parsed.annotation_id in seen:
            batch.fail(index, f"id {parsed.annotation_id!r} appears more than once in this "
                              "request")
            continue
        seen.add(parsed.annotation_id)
        batch.items.append((index, parsed))
    return batch


def parse_delete_ids(body: Any, max_batch: int) -> list[str] | None:
    """The ids of a batch delete; None means "all"."""
    body = json_object(body)
    ids = body.get("annotationIds", body.get("annotation_ids"))
    if ids == "all":
        return None
    if not isinstance(ids, list) or not ids:
        raise ApiError(422, "'annotationIds' must be a non-empty list of annotation ids or "
                            "the string \"all\"")
    if len(ids) > max_batch:
        raise ApiError(413, f"{len(ids)} ids in one request; the limit is {max_batch}")
    for value in ids:
        try:
            check_annotation_id(value, new=False)
        except ContentError:
            raise ApiError(422, f"'annotationIds' holds {value!r}, which is not a non-empty "
                                "string id") from None
    return list(dict.fromkeys(ids))


MAX_WHOLE = 2**63 - 1  # what SQLite and PostgreSQL integers hold
ASCII_DIGITS = re.compile(r"[0-9]{1,19}")


def whole_number(value: Any, what: str, *, status: int = 400, maximum: int = MAX_WHOLE
                 ) -> int:
    """A whole number of 0 or more from a query, header, path or JSON value; refused (400 by
    default) before any work starts, so no stream ever fails half-way on one."""
    if type(value) is float and value.is_integer() and 0 <= value <= maximum:
        return int(value)  # JSON has one number type: 3.0 is the whole number 3
    text = str(value) if type(value) is int else value
    if not isinstance(text, str) or not ASCII_DIGITS.fullmatch(text) or int(text) > maximum:
        raise ApiError(status, f"{what} must be a whole number from 0 to {maximum}, not "
                               f"{str(value)[:40]!r}")
    return int(text)


# An If-Match header annolog understands: one record version ("3", W/"3" or 3), or "*",
# which any current version matches (RFC 9110). The OpenAPI document states the same.
IF_MATCH = re.compile(r'\*|(?:W/)?"?([0-9]{1,19})"?')


def if_match(header: str | None) -> int | None:
    """The version an ``If-Match`` header names; None when it names none or any ("*")."""
    if header is None:
        return None
    found = IF_MATCH.fullmatch(header.strip())
    if found is None:
        raise ApiError(400, f"If-Match must be one record version, such as \"3\", or *; "
                            f"not {header[:40]!r}")
    if found.group(1) is None:
        return None
    return whole_number(found.group(1), "If-Match (a record version, such as \"3\")")
