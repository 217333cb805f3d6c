"""The OpenAPI 3.1 description of every route in the route table: request bodies, query and
header parameters, and for every status a route can answer, the shape of its body, so that a
fuzzer's schema and status checks mean something (the suite runs one: tests/e2e/test_fuzz.py).
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from api.documents import BULK_FILTERS
from api.parsing import IF_MATCH, MAX_WHOLE
from eventstore.names import (
    BIDI_CLASS,
    DOT_SEGMENTS,
    LAYER_NAME_CHARACTERS,
    MAX_ID_LENGTH,
    MAX_LAYER_NAME,
    NAME_CHARACTERS,
    UNSAFE_CLASS,
)
from eventstore.validation import FLOAT32_MAX
from projections.covers import MAX_SIDE
from projections.instant_json import FORMAT
from projections.queries import CURSOR_PATTERN
from projections.saves import OUTCOMES
from projections.sections import FORM_FIELD_FLAGS, FORM_FIELD_KINDS

STATUS_TEXT = {
    101: "Switching to WebSocket",
    200: "OK", 400: "Bad request: a malformed number, name, multipart body or query",
    401: "Missing or invalid token", 403: "Forbidden: a JWT's scope, or a PDF password",
    404: "Not found", 408: "The request body stopped arriving",
    409: "Conflict: the id exists already, a revision beyond the log's, or a save's "
         "records changed by someone else too",
    412: "The record changed since the version given (If-Match)", 413: "Too large",
    415: "Unsupported media type", 422: "Invalid input: {\"error\": {\"reason\": ...}}",
    503: "The log could not be written, or the read model did not catch up in time",
}
PARAMETER = re.compile(r"{(\w+)}")
REF = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None,
        closed: bool = False) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "required": list(required),
                              "properties": {**required, **(optional or {})}}
    if closed:
        schema["additionalProperties"] = False
    return schema


STRING, INTEGER, BOOLEAN = {"type": "string"}, {"type": "integer"}, {"type": "boolean"}
NAME = {"type": "string", "minLength": 1}  # an id or a layer name: never empty
# A new annotation id, comment id or layer name (eventstore.names states why), and a new
# document id, which holds no white space either.
NEW_NAME = {"type": "string", "pattern": f"^{NAME_CHARACTERS}{{1,{MAX_ID_LENGTH}}}$",
            "not": {"anyOf": [{"enum": list(DOT_SEGMENTS)}, {"pattern": r"^\s+$"}]}}
NEW_LAYER_NAME = NEW_NAME | {
    "pattern": f"^{LAYER_NAME_CHARACTERS}{{1,{MAX_LAYER_NAME}}}$"}
NEW_DOCUMENT_ID = {"type": "string", "not": {"enum": list(DOT_SEGMENTS)},
                   "pattern": f"^[^\\s{UNSAFE_CLASS}{BIDI_CLASS}]{{1,{MAX_ID_LENGTH}}}$"}
NOT_BOTH = {"not": {"required": ["revision", "at"]}}  # a state by revision or by time
# Rules over a query as a whole (Route.query_rule): a cover is 'width' or 'height' pixels;
# the original upload (source=true) takes no other option; a bulk delete needs a filter.
ONE_SIDE = {"oneOf": [{"required": ["width"]}, {"required": ["height"]}]}
SOURCE_ALONE = {"anyOf": [{"not": {"required": ["source"]}},
                          {"properties": {"source": {"const": False}}},
                          {"propertyNames": {"enum": ["source", "jwt"]}}]}
ANY_FILTER = {"anyOf": [{"required": [name], "properties": {name: {"minLength": 1}}}
                        for name in BULK_FILTERS]}
REVISION = {"type": "integer", "minimum": 0, "maximum": MAX_WHOLE}
NUMBER = {"type": "number"}
COORDINATE = {"type": "number", "minimum": -FLOAT32_MAX, "maximum": FLOAT32_MAX}
WRITE_REVISION = nullable(REVISION)
TEXT = obj({"format": {"enum": ["plain", "xhtml"]}, "value": STRING})
COMMENT_TEXT = obj({"format": {"enum": ["plain", "xhtml"]}}, {"value": nullable(STRING)})
PAGE = {"type": "integer", "minimum": 0}
TIME = {"type": "string", "format": "date-time"}
BASE64 = "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"
# A page index has no maximum here: the page count is the document's (the fuzz test pins
# it to its document's).
NOTE = obj({"v": {"const": 2}, "type": {"const": "pspdfkit/note"},
            "pageIndex": PAGE,
            "bbox": {"type": "array", "items": COORDINATE, "minItems": 4, "maxItems": 4},
            "opacity": COORDINATE},  # any number, as the engine keeps it
           {"text": TEXT})
# A thread's root: a markup annotation or a comment marker (the example shape: a marker).
MARKER = NOTE | {"properties": {**NOTE["properties"],
                                "type": {"const": "pspdfkit/comment-marker"}}}
ITEM = obj({"content": ref("Content")},
           {"id": NEW_NAME, "user_id": nullable(STRING), "group": nullable(STRING)})
SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({"reason": STRING}, {
        "records": {"type": "array", "items": obj({"path": STRING, "details": STRING})},
        "current": {"type": "object"}, "description": STRING})}),
    "Content": {"description": "Instant JSON annotation content (one example shape: a note; "
                               "every importable type is accepted)", **NOTE},
    "Record": obj({"id": STRING, "content": {"type": "object"},
                   "createdBy": nullable(STRING), "updatedBy": nullable(STRING),
                   "group": nullable(STRING)},
                  {"isEditable": BOOLEAN, "isDeletable": BOOLEAN, "canSetGroup": BOOLEAN}),
    "FailingPath": obj({"path": STRING, "details": STRING, "error": STRING},
                       {"current": {"type": "object"}}),
    "Batch": obj({"data": {"type": "array", "items": {"type": "object"}},
                  "details": STRING, "failing_paths": {"type": "array",
                                                       "items": ref("FailingPath")},
                  "request_id": STRING,
                  "result": {"enum": ["success", "partial_failure", "failure"]},
                  "status": {"const": 200}, "revision": WRITE_REVISION}),
    "BulkDeleted": obj({"deleted_count": INTEGER, "skipped_count": INTEGER,
                        "total_matched": INTEGER}),
    "CreatedOne": obj({"data": obj({"annotation_id": STRING}), "revision": REVISION}),
    "CreatedOrBatch": {"anyOf": [ref("Batch"), ref("CreatedOne")]},
    "RecordWritten": obj({"data": ref("Record"), "revision": WRITE_REVISION}),
    "AnnotationList": obj({"data": obj({"annotations": {"type": "array",
                                                        "items": ref("Record")},
                                        "truncated": BOOLEAN})}),
    "Properties": obj({"document_id": STRING, "passwordProtected": BOOLEAN,
                       "sourcePdfSha256": STRING, "title": nullable(STRING),
                       "byteSize": INTEGER, "createdAt": STRING, "storage": {"type": "object"}},
                      {"copiedFrom": obj({"document_id": STRING, "instance": STRING,
                                          "revision": INTEGER})}),
    "Copied": obj({"data": obj({"document_id": STRING}), "revision": WRITE_REVISION}),
    "CopiedWithInstantJson": obj({"createdAt": STRING, "documentId": STRING,
                                  "errors": {"type": "array", "items": {"type": "object"}},
                                  "password_protected": BOOLEAN, "sourcePdfSha256": STRING,
                                  "title": nullable(STRING)}),
    "DocumentList": obj({"data": {"type": "array", "items": ref("Properties")},
                         "next_cursor": nullable(STRING), "prev_cursor": {"type": "null"},
                         "document_count": INTEGER}),
    "PropertiesAnswer": obj({"data": ref("Properties")}),
    "Uploaded": obj({"data": obj({"document_id": STRING, "errors": {"type": "array"},
                                  "password_protected": BOOLEAN, "sourcePdfSha256": STRING,
                                  "title": nullable(STRING), "createdAt": STRING}),
                     "revision": REVISION}),
    "DocumentInfo": obj({"data": obj({"pageCount": INTEGER, "title": nullable(STRING),
                                      "pages": {"type": "array", "items": obj({
                                          "pageIndex": INTEGER, "pageLabel": STRING,
                                          "width": NUMBER, "height": NUMBER,
                                          "rotation": INTEGER})}})}),
    "Names": obj({"data": {"type": "array", "items": STRING}}),
    "LayerCreated": obj({"data": obj({"name": STRING, "errors": {"type": "array"}}),
                         "revision": WRITE_REVISION}),
    "InstantJson": obj({"format": {"const": FORMAT}},
                       {name: {"type": "array"} for name in ("annotations", "comments",
                                                            "bookmarks", "formFields",
                                                            "formFieldValues")} |
                       {"attachments": {"type": "object"}}),
    "InstantJsonImport": obj({"format": {"const": FORMAT}}, {
        "annotations": {"type": "array", "items": ref("InstantAnnotation")},
        "attachments": {"type": "object", "additionalProperties": obj({
            "binary": {"type": "string", "pattern": BASE64},
            "contentType": {"type": "string", "pattern": "^[^/]*/"}})},
        "comments": {"type": "array", "items": ref("InstantComment")},
        "bookmarks": {"type": "array", "items": ref("Bookmark")},
        "formFields": {"type": "array", "items": ref("FormField")},
        "formFieldValues": {"type": "array", "items": ref("FormFieldValue")},
        "pdfId": nullable(obj({"permanent": STRING, "changing": STRING})),
        "skippedPdfObjectIds": {"type": "array", "items": {"type": "integer", "minimum": 0}}}),
    "InstantAnnotation": NOTE | {"description": "an annotation with its id (the example "
                                                "shape: a note)",
                                 "properties": {**NOTE["properties"], "id": NEW_NAME}},
    "InstantComment": obj({"type": {"const": "pspdfkit/comment"}, "v": {"const": 2},
                           "rootId": NAME, "text": COMMENT_TEXT},
                          {"id": NEW_NAME, "pageIndex": nullable(PAGE), "createdAt": TIME,
                           "updatedAt": TIME, "creatorName": nullable(STRING),
                           "customData": nullable({"type": "object"}),
                           "isAnonymous": BOOLEAN}),
    "Bookmark": obj({"type": {"const": "pspdfkit/bookmark"}, "v": {"const": 1},
                     "action": obj({"type": {"const": "goTo"}, "pageIndex": PAGE})},
                    {"id": NEW_NAME, "name": nullable(STRING), "sortKey": nullable(NUMBER),
                     "pdfBookmarkId": nullable(STRING)}),
    "FormField": obj({"type": {"enum": [f"pspdfkit/form-field/{kind}"
                                        for kind in FORM_FIELD_KINDS]},
                      "v": {"const": 1}, "name": NAME,
                      "annotationIds": {"type": "array", "items": STRING}},
                     {"id": NEW_NAME, "label": STRING, "flags": {
                         "type": "array", "items": {"enum": list(FORM_FIELD_FLAGS)}}}),
    "FormFieldValue": obj({"type": {"const": "pspdfkit/form-field-value"}, "v": {"const": 1},
                           "name": NAME, "value": {"anyOf": [
                               {"type": "null"}, STRING, {"type": "array", "items": STRING}]}},
                          {"optionIndexes": {"type": "array", "items": REVISION}}),
    "Saved": obj({"data": obj({**{outcome: INTEGER for outcome in OUTCOMES},
                                "conflicts": {"type": "array", "items": obj(
                                    {"kind": STRING, "id": STRING},
                                    {"current": nullable({"type": "object"}),
                                     "reason": STRING})},
                                "refused": {"type": "array", "items": obj(
                                    {"kind": STRING, "id": STRING, "reason": STRING})}}),
                  "revision": WRITE_REVISION}),
    "Imported": obj({"data": obj({"annotations": INTEGER, "attachments": INTEGER,
                                  "errors": {"type": "array"}}), "revision": WRITE_REVISION}),
    "Change": obj({"revision": REVISION, "id": STRING, "version": INTEGER,
                   "kind": {"enum": ["created", "updated", "recreated", "deleted"]},
                   "at": STRING, "user_id": nullable(STRING), "record": ref("Record")},
                  {"of": {"const": "comment"}, "request_id": nullable(STRING),
                   "client_id": nullable(STRING)}),
    "History": obj({"data": {"type": "array", "items": ref("Change")}}),
    "Confirmations": obj({"data": {"type": "array", "items": obj({
        "id": STRING, "version": INTEGER, "revision": REVISION, "persistedAt": STRING,
        "deleted": BOOLEAN, "record": ref("Record")})},
        "missing": {"type": "array", "items": STRING}, "revision": REVISION}),
    "Restored": obj({"data": obj({"changed": INTEGER}), "revision": WRITE_REVISION}),
    "Revoked": obj({"data": {"type": "array", "items": obj({"jti": STRING})},
                    "details": STRING, "failing_paths": {"type": "array",
                                                         "items": ref("FailingPath")},
                    "request_id": STRING,
                    "result": {"enum": ["success", "partial_failure", "failure"]},
                    "status": {"const": 200}, "revision": WRITE_REVISION}),
    "CommentList": obj({"data": obj({"comments": {"type": "array", "items": ref("Record")}})}),
    "CommentsPosted": obj({"data": obj({"comments": {"type": "array",
                                                     "items": obj({"id": STRING})}}),
                           "revision": WRITE_REVISION}),
    "ThreadCreated": obj({"data": obj({"annotation": obj({"id": STRING}),
                                       "comments": {"type": "array",
                                                    "items": obj({"id": STRING})}}),
                          "revision": WRITE_REVISION}),
    "CommentWritten": obj({"data": ref("Record"), "revision": WRITE_REVISION}),
    "CommentDeleted": obj({"data": obj({"id": STRING}), "revision": WRITE_REVISION}),
    "FieldErrors": obj({}, {"annotation": {"type": "object"},
                            "comments": {"type": "array"}}) | {
        "description": "the engine's field-keyed 422 of the comment routes: per field, "
                       "its reasons; one map per comment, in the request's order"},
    "Health": obj({"ok": BOOLEAN}),
    "OpenApi": obj({"openapi": STRING, "paths": {"type": "object"}}),
}
COMMENT_CONTENT = obj({"text": COMMENT_TEXT},
                      {"createdAt": TIME, "updatedAt": TIME,
                       "customData": nullable({"type": "object"}),
                       "creatorName": nullable(STRING)})
COMMENT_ITEM = obj({"content": COMMENT_CONTENT},
                   {"id": NEW_NAME, "user_id": nullable(STRING), "group": nullable(STRING)})
def batch_item(shape: dict[str, Any]) -> dict[str, Any]:
    """An item of a batch: each is checked on its own, and one that is not of ``shape`` is a
    failing path of the 200 answer (the batch contract), not a refusal of the request."""
    return {"anyOf": [shape, {}], "description": "checked on its own: an item not of this "
                                                 "shape is a failing path of the answer"}


JSON_BODIES: dict[str, Any] = {
    "annotations": {"anyOf": [obj({"annotations": {"type": "array", "items": batch_item(ITEM),
                                                   "minItems": 1}}), ITEM]},
    "updates": obj({"annotations": {"type": "array", "minItems": 1, "items": batch_item(obj(
        {"id": STRING, "content": ref("Content")},
        {"user_id": nullable(STRING), "group": nullable(STRING), "baseVersion": INTEGER}))}}),
    "update": obj({"content": ref("Content")}, {"user_id": nullable(STRING),
                                                 "group": nullable(STRING)}),
    "ids": obj({"annotationIds": {"anyOf": [{"type": "array", "items": NAME, "minItems": 1},
                                            {"const": "all"}]}}),
    "instant-json": ref("InstantJsonImport"),
    # copy_with_instant_json: an object without 'format' makes a plain copy, as Document
    # Engine ignores a JSON body
    "copy-instant-json": {"anyOf": [ref("InstantJsonImport"),
                                    {"type": "object", "not": {"required": ["format"]}}]},
    "layer": obj({"name": NEW_LAYER_NAME}, {"source_layer_name": STRING,
                                        "revision": REVISION, "at": TIME}) | NOT_BOTH,
    "restore": {"anyOf": [obj({"revision": REVISION}), obj({"at": TIME})]} | NOT_BOTH,
    "confirm": obj({"annotationIds": {"type": "array", "items": NAME, "minItems": 1}},
                   {"timeout": {"type": "number", "minimum": 0, "maximum": 5}}),
    "comments": obj({"comments": {"type": "array", "items": COMMENT_ITEM, "minItems": 1}}),
    "thread": obj({"annotation": ITEM | {"properties": {**ITEM["properties"],
                                                         "content": MARKER}},
                   "comments": {"type": "array", "items": COMMENT_ITEM, "minItems": 1}}),
    "comment": obj({"content": COMMENT_CONTENT}, {"user_id": nullable(STRING),
                                                  "group": nullable(STRING)}),
    "revoke": obj({"jwts": {"type": "array", "items": batch_item(STRING), "minItems": 1}}),
    "copy": obj({"document_id": NAME}, {"documentId": NAME,
                                        "new_document_id": NEW_DOCUMENT_ID,
                                        "newDocumentId": NEW_DOCUMENT_ID}),
    "pdf-options": obj({}, {"source": BOOLEAN, "flatten": BOOLEAN, "annotations": BOOLEAN,
                            "comments": BOOLEAN, "type": {"const": "pdf"},
                            "revision": REVISION,
                            "at": TIME}, closed=True) | {
        "allOf": [NOT_BOTH, {"anyOf": [{"not": {"required": ["source"]}},
                                       {"properties": {"source": {"const": False}}},
                                       {"propertyNames": {"const": "source"}}]}]},
}
BINARY = {"type": "string", "format": "binary"}
FLAG = {"enum": ["true", "false", "1", "0", "yes", "no"]}  # a form's yes or no
SHA256_NAMED = {"^[0-9a-fA-F]{64}$": BINARY}  # an attachment part, named by its bytes' hash


def with_attachments(json_body: dict[str, Any]) -> dict[str, Any]:
    """A multipart body: an 'annotation' part holding the JSON body, and one part per
    attachment named by the SHA-256 hex of its bytes; no other part."""
    return obj({"annotation": json_body}, closed=True) | {"patternProperties": SHA256_NAMED}


# Multipart bodies; a part whose schema is an object travels as JSON (JSON_PARTS).
MULTIPART: dict[str, Any] = {
    "annotations": with_attachments(JSON_BODIES["annotations"]),
    "updates": with_attachments(JSON_BODIES["updates"]),
    "update": with_attachments(JSON_BODIES["update"]),
    "instant-json": obj({"instant.json": ref("InstantJsonImport")}, closed=True),
    "copy-instant-json": obj({"instant.json": ref("InstantJsonImport")}, closed=True),
    "layer": obj({"name": NEW_LAYER_NAME}, {"source_layer_name": STRING,
                                            "revision": REVISION, "at": TIME,
                                            "instant.json": ref("InstantJsonImport")},
                 closed=True) | NOT_BOTH,
    "pdf": obj({"file": BINARY}, {"document_id": NEW_DOCUMENT_ID, "title": STRING,
                                  "overwrite_existing_document": FLAG,
                                  "keep_current_annotations": FLAG,
                                  "attachment": ref("InstantJsonImport") | {
                                      "description": "an Instant JSON (or an XFDF) document "
                                                     "to apply"}},
               closed=True),
}
JSON_PARTS = ("annotation", "instant.json", "attachment")
QUERY: dict[str, dict[str, Any]] = {
    "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
    "cursor": {"type": "string", "pattern": CURSOR_PATTERN}, "title": STRING, "document_id": STRING,
    "start_date": TIME,
    "end_date": TIME,
    "order_by": {"enum": ["created_at", "title"]},
    "order_direction": {"enum": ["asc", "desc"]},
    "revision": REVISION, "at": TIME,
    "annotation_version": {"enum": ["1", "2"]},
    "since": REVISION, "source": BOOLEAN, "flatten": BOOLEAN, "annotations": BOOLEAN,
    "comments": BOOLEAN, "type": {"const": "pdf"},
    "width": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
    "height": {"type": "integer", "minimum": 1, "maximum": MAX_SIDE},
    "jwt": STRING,
}
HEADERS: dict[str, dict[str, Any]] = {
    "pspdfkit-pdf-password": STRING,
    "Annolog-Min-Revision": REVISION,
    "Annolog-Base-Revision": REVISION,
    "If-Match": {"type": "string", "pattern": f"^(?:{IF_MATCH.pattern})$"},
}
ANSWERS: dict[str, dict[str, Any]] = {
    "pdf": {"application/pdf": {"schema": BINARY}},
    "png": {"image/png": {"schema": BINARY}},
    "xfdf": {"application/vnd.adobe.xfdf": {"schema": {"type": "string"}}},
    "attachment": {media: {"schema": BINARY}
                   for media in ("image/png", "image/jpeg", "application/pdf")},
    "records": {"application/json": {"schema": ref("AnnotationList")},
                "application/x-ndjson": {"schema": ref("Record"),
                                         "description": "one record per line"}},
    "changes": {"application/x-ndjson": {"schema": ref("Change"),
                                         "description": "one change per line"}},
}
ERROR_CONTENT = {"application/json": {"schema": ref("Error")}}
FIELD_ERROR_BODIES = ("comments", "thread", "comment")  # their 422 is the engine's map
PASSWORD_CONTENT = {"text/plain": {"schema": STRING}}  # a PDF password missing or wrong


def _responses(route: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in route.statuses:
        response: dict[str, Any] = {"description": STATUS_TEXT[status]}
        if status == 200 and route.answer is not None:
            response["content"] = ANSWERS.get(route.answer) or {
                "application/json": {"schema": ref(route.answer)}}
        elif status == 422 and route.body in FIELD_ERROR_BODIES:
            response["content"] = {"application/json": {"schema": {
                "anyOf": [ref("Error"), ref("FieldErrors")]}}}
        elif status >= 400:
            response["content"] = {**ERROR_CONTENT,
                                   **(PASSWORD_CONTENT if status == 403 else {})}
        responses[str(status)] = response
    return responses


def _parameters(route: Any) -> list[dict[str, Any]]:
    parameters = [{"name": name, "in": "path", "required": True, "schema": STRING}
                  for name in PARAMETER.findall(route.path)]
    if route.query_rule is None:
        parameters += [{"name": name, "in": "query", "required": False,
                        "schema": QUERY[name]} for name in route.query]
    else:  # one object, each property its own query parameter (form, exploded)
        parameters.append({
            "name": "query", "in": "query", "required": _demands(route.query_rule),
            "style": "form",
            "explode": True, "description": "the query parameters, with a rule over them all",
            "schema": {"type": "object", "properties": {name: QUERY[name]
                                                        for name in route.query},
                       "additionalProperties": False, **route.query_rule}})
    parameters += [{"name": name, "in": "header", "required": False, "schema": HEADERS[name]}
                   for name in route.headers]
    return parameters


def _demands(rule: dict[str, Any]) -> bool:
    """Whether a query rule wants at least one parameter (each of its choices requires one)."""
    choices = rule.get("oneOf") or rule.get("anyOf") or []
    return bool(choices) and all("required" in choice for choice in choices)


def _request_body(route: Any) -> dict[str, Any] | None:
    if route.body is None:
        return None
    content: dict[str, Any]
    if route.body == "pdf":
        content = {"application/pdf": {"schema": BINARY}}
    else:
        content = {"application/json": {"schema": JSON_BODIES[route.body]}}
    if route.body in MULTIPART:
        schema = MULTIPART[route.body]
        content["multipart/form-data"] = {"schema": schema, "encoding": {
            part: {"contentType": "application/json"}
            for part in JSON_PARTS if part in schema["properties"]}}
    return {"content": content, "required": True}


def _operation(route: Any) -> dict[str, Any]:
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{route.handler.__name__}_"
                       f"{'layer' if '{layer_name}' in route.path else 'default'}",
        "responses": _responses(route),
        "parameters": _parameters(route),
    }
    body = _request_body(route)
    if body is not None:
        operation["requestBody"] = body
    if route.extension:
        operation["x-annolog-extension"] = True
    if route.authenticated:
        operation["security"] = [{"token": []}]
    return operation


def build_openapi(routes: list[Any]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route)
    return {
        "openapi": "3.1.0",
        "info": {"title": "annolog", "version": _version(),
                 "description": "Event-sourced annotation persistence speaking the Document "
                                "Engine annotation API. Every write answers with the "
                                "revision it was saved at (Annolog-Revision header)."},
        "components": {"schemas": SCHEMAS, "securitySchemes": {"token": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": 'Token token="<API_AUTH_TOKEN>", or Bearer <client JWT>'}}},
        "paths": paths,
    }


def _version() -> str:
    try:
        return version("annolog")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"
