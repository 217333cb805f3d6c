"""The OpenAPI 3.1 description of every route in the route table: request bodies, query and
header parameters, and for every status a route can answer, the shape of its body, so that a
fuzzer's schema and status checks mean something (the suite runs one: tests/e2e/test_fuzz.py).
"""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from api.parsing import MAX_WHOLE

STATUS_TEXT = {
    101: "Switching to WebSocket",
    200: "OK", 400: "Bad request: a malformed number, name, multipart body or query",
    401: "Missing or invalid token", 403: "Forbidden: a JWT's scope, or a PDF password",
    404: "Not found", 408: "The request body stopped arriving",
    409: "Conflict: the id exists already, or a revision beyond the log's",
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
NOT_BOTH = {"not": {"required": ["revision", "at"]}}  # a state by revision or by time
REVISION = {"type": "integer", "minimum": 0, "maximum": MAX_WHOLE}
NUMBER = {"type": "number"}
WRITE_REVISION = nullable(REVISION)
NOTE = obj({"v": {"enum": [1, 2]}, "type": {"const": "pspdfkit/note"},
            "pageIndex": {"type": "integer", "minimum": 0, "maximum": 1},
            "bbox": {"type": "array", "items": NUMBER, "minItems": 4, "maxItems": 4},
            "opacity": {"type": "number", "minimum": 0, "maximum": 1}},
           {"text": obj({"format": {"enum": ["plain", "xhtml"]}, "value": STRING})})
ITEM = obj({"content": ref("Content")},
           {"id": STRING, "user_id": nullable(STRING), "group": nullable(STRING)})
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
    "InstantJson": obj({"format": {"const": "https://pspdfkit.com/instant-json/v1"}},
                       {"annotations": {"type": "array", "items": {"type": "object"}},
                        "attachments": {"type": "object"},
                        "comments": {"type": "array"}, "bookmarks": {"type": "array"},
                        "formFields": {"type": "array"}, "formFieldValues": {"type": "array"}}),
    "Imported": obj({"data": obj({"annotations": INTEGER, "attachments": INTEGER,
                                  "errors": {"type": "array"}}), "revision": WRITE_REVISION}),
    "Change": obj({"revision": REVISION, "id": STRING, "version": INTEGER,
                   "kind": {"enum": ["created", "updated", "recreated", "deleted"]},
                   "at": STRING, "user_id": nullable(STRING), "record": ref("Record")},
                  {"of": {"const": "comment"}}),
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
COMMENT_CONTENT = obj({"text": obj({"format": {"enum": ["plain", "xhtml"]},
                                      "value": STRING})},
                      {"createdAt": STRING, "updatedAt": STRING,
                       "customData": nullable({"type": "object"}),
                       "creatorName": nullable(STRING)})
COMMENT_ITEM = obj({"content": COMMENT_CONTENT},
                   {"id": STRING, "user_id": nullable(STRING), "group": nullable(STRING)})
JSON_BODIES: dict[str, Any] = {
    "annotations": {"anyOf": [obj({"annotations": {"type": "array", "items": ITEM,
                                                   "minItems": 1}}), ITEM]},
    "updates": obj({"annotations": {"type": "array", "minItems": 1,
                                    "items": obj({"id": STRING, "content": ref("Content")},
                                                 {"user_id": nullable(STRING),
                                                  "group": nullable(STRING),
                                                  "baseVersion": INTEGER})}}),
    "update": obj({"content": ref("Content")}, {"user_id": nullable(STRING),
                                                 "group": nullable(STRING)}),
    "ids": obj({"annotationIds": {"anyOf": [{"type": "array", "items": NAME, "minItems": 1},
                                            {"const": "all"}]}}),
    "instant-json": ref("InstantJson"),
    "layer": obj({"name": NAME}, {"source_layer_name": STRING, "revision": REVISION,
                                  "at": {"type": "string", "format": "date-time"}}) | NOT_BOTH,
    "restore": {"anyOf": [obj({"revision": REVISION}),
                          obj({"at": {"type": "string", "format": "date-time"}})]},
    "confirm": obj({"annotationIds": {"type": "array", "items": NAME, "minItems": 1}},
                   {"timeout": {"type": "number", "minimum": 0, "maximum": 5}}),
    "comments": obj({"comments": {"type": "array", "items": COMMENT_ITEM, "minItems": 1}}),
    "thread": obj({"annotation": ITEM,
                   "comments": {"type": "array", "items": COMMENT_ITEM, "minItems": 1}}),
    "comment": obj({"content": COMMENT_CONTENT}, {"user_id": nullable(STRING),
                                                  "group": nullable(STRING)}),
    "revoke": obj({"jwts": {"type": "array", "items": STRING, "minItems": 1}}),
    "copy": obj({"document_id": NAME}, {"documentId": NAME, "new_document_id": NAME,
                                        "newDocumentId": NAME}),
    "pdf-options": obj({}, {"source": BOOLEAN, "flatten": BOOLEAN, "annotations": BOOLEAN,
                            "comments": BOOLEAN, "type": {"enum": ["pdf", "pdfa"]},
                            "revision": REVISION,
                            "at": {"type": "string", "format": "date-time"}}) | NOT_BOTH,
}
BINARY = {"type": "string", "format": "binary"}
MULTIPART: dict[str, Any] = {
    "annotations": obj({"annotation": {"type": "string", "contentMediaType": "application/json"}},
                       {}) | {"additionalProperties": BINARY,
                              "description": "an 'annotation' part with the JSON body, plus "
                                             "one part per attachment named by the SHA-256 "
                                             "hex of its bytes"},
    "updates": obj({"annotation": {"type": "string"}}) | {"additionalProperties": BINARY},
    "update": obj({"annotation": {"type": "string"}}) | {"additionalProperties": BINARY},
    "instant-json": obj({"instant.json": {"type": "string"}}),
    "layer": obj({"name": NAME}, {"source_layer_name": STRING,
                                  "instant.json": {"type": "string"}}),
    "pdf": obj({"file": BINARY}, {"document_id": STRING, "title": STRING,
                                  "overwrite_existing_document": BOOLEAN}),
}
QUERY: dict[str, dict[str, Any]] = {
    "page_size": {"type": "integer", "minimum": 1, "maximum": 1000},
    "cursor": STRING, "title": STRING, "document_id": STRING,
    "start_date": {"type": "string", "format": "date-time"},
    "end_date": {"type": "string", "format": "date-time"},
    "order_by": {"enum": ["created_at", "title"]},
    "order_direction": {"enum": ["asc", "desc"]},
    "revision": REVISION, "at": {"type": "string", "format": "date-time"},
    "annotation_version": {"enum": ["1", "2"]},
    "since": REVISION, "source": {"enum": ["true", "false"]},
    "flatten": {"enum": ["true", "false"]}, "annotations": {"enum": ["true", "false"]},
    "comments": {"enum": ["true", "false"]}, "type": {"enum": ["pdf", "pdfa"]},
    "width": {"type": "string", "pattern": "^[0-9]+$"},
    "height": {"type": "string", "pattern": "^[0-9]+$"},
    "jwt": STRING,
}
HEADERS: dict[str, dict[str, Any]] = {
    "pspdfkit-pdf-password": STRING,
    "Annolog-Min-Revision": REVISION,
    "If-Match": STRING,
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
    parameters += [{"name": name, "in": "query", "required": False, "schema": QUERY[name]}
                   for name in route.query]
    parameters += [{"name": name, "in": "header", "required": False, "schema": HEADERS[name]}
                   for name in route.headers]
    return parameters


def _request_body(route: Any) -> dict[str, Any] | None:
    if route.body is None:
        return None
    if route.body == "pdf":
        content = {"application/pdf": {"schema": BINARY}}
    else:
        content = {"application/json": {"schema": JSON_BODIES[route.body]}}
    if route.body in MULTIPART:
        content["multipart/form-data"] = {"schema": MULTIPART[route.body]}
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
