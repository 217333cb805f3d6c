"""The OpenAPI 3.1 description of every route in the route table."""

from __future__ import annotations

import re
from importlib.metadata import PackageNotFoundError, version
from typing import Any

STATUS_TEXT = {
    101: "Switching to WebSocket",
    200: "OK", 400: "Bad request", 401: "Missing or invalid token",
    403: "Forbidden (PDF password missing or wrong)", 404: "Not found",
    409: "Already exists", 413: "Too large", 415: "Unsupported media type",
    422: "Invalid input: {\"error\": {\"reason\": ...}}",
    412: "The record changed since the version given (If-Match or baseVersion)",
    503: "The log could not be written, or the read model did not catch up",
}
PARAMETER = re.compile(r"{(\w+)}")
ERROR = {"type": "object", "properties": {"error": {
    "type": "object", "properties": {"reason": {"type": "string"}}}}}
RECORD = {"type": "object", "required": ["id", "content", "createdBy", "updatedBy"],
          "properties": {"id": {"type": "string"}, "content": {"type": "object"},
                         "createdBy": {"type": ["string", "null"]},
                         "updatedBy": {"type": ["string", "null"]},
                         "group": {"type": ["string", "null"]}}}
BODIES = {
    "json": {"application/json": {"schema": {"type": "object"}}},
    "annotations": {
        "application/json": {"schema": {"type": "object"}},
        "multipart/form-data": {"schema": {
            "type": "object",
            "description": "an 'annotation' part with the JSON body, plus one part per "
                           "attachment named by the SHA-256 hex of its bytes",
            "properties": {"annotation": {"type": "string"}},
            "additionalProperties": {"type": "string", "format": "binary"}}}},
    "pdf": {"application/pdf": {"schema": {"type": "string", "format": "binary"}},
            "multipart/form-data": {"schema": {"type": "object", "properties": {
                "file": {"type": "string", "format": "binary"},
                "document_id": {"type": "string"}, "title": {"type": "string"},
                "overwrite_existing_document": {"type": "boolean"}}}}},
}


def _operation(route: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {}
    for status in route.statuses:
        response: dict[str, Any] = {"description": STATUS_TEXT[status]}
        if status >= 400 and status != 403 and status in STATUS_TEXT:
            response["content"] = {"application/json": {"schema": ERROR}}
        responses[str(status)] = response
    if route.streams:
        responses["200"]["content"] = {"application/json": {"schema": {"type": "object"}},
                                       "application/x-ndjson": {"schema": RECORD}}
    operation: dict[str, Any] = {
        "summary": route.summary,
        "operationId": f"{route.method.lower()}_{route.handler.__name__}_"
                       f"{'layer' if '{layer_name}' in route.path else 'default'}",
        "responses": responses,
        "parameters": [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in PARAMETER.findall(route.path)
        ] + [{"name": "pspdfkit-pdf-password", "in": "header", "required": False,
              "schema": {"type": "string"}}],
    }
    if route.body is not None:
        operation["requestBody"] = {"content": BODIES[route.body]}
    if route.extension:
        operation["x-annolog-extension"] = True
    if route.path not in ("/healthcheck", "/api/openapi.json"):
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
        "components": {"securitySchemes": {"token": {
            "type": "apiKey", "in": "header", "name": "Authorization",
            "description": 'Token token="<API_AUTH_TOKEN>"'}}},
        "paths": paths,
    }


def _version() -> str:
    try:
        return version("annolog")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "0+unknown"
