"""Schemathesis against the real ``annolog serve`` and its own /api/openapi.json (issue 12):
every operation, with valid and invalid input, must answer without a server error, with a
status its description declares, in a declared content type, in the declared shape.

Bounded and deterministic (a fixed number of examples per operation, derandomized), so a
failure here is reproducible; ``ANNOLOG_FUZZ_EXAMPLES`` raises the count for a longer hunt.

Every check runs, positive_data_acceptance and negative_data_rejection too: what the
OpenAPI document calls valid is accepted, what it calls invalid is refused. What no schema
can know is the state of the data, so the test tells the fuzzer its document's (as a client
knows its own): in valid examples, path parameters name records that exist, page indexes
stay within the document's 3 pages, a comment's root is the seeded highlight, a cursor is
one a list gave, an uploaded file is a PDF, ``pdfId`` is null (the test PDF has no /ID) and
no ``skippedPdfObjectIds`` (it has no annotations of its own); attachment parts, which must
be named by the SHA-256 of their bytes, are left out, and an Instant JSON section holds one
record (its records' ids must differ)."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    not_a_server_error,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from tests.conftest import make_pdf, note
from tools.process import ServerProcess, free_port
from tools.samples import make_png

pytestmark = pytest.mark.e2e
TOKEN = "fuzz-token"
AUTH = {"Authorization": f"Token token={TOKEN}"}
EXAMPLES = int(os.environ.get("ANNOLOG_FUZZ_EXAMPLES", "20"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, missing_required_header,
          unsupported_method, allow_header_conformance, ignored_auth,
          positive_data_acceptance, negative_data_rejection]
PNG = make_png(2000, seed=3)
SHA = hashlib.sha256(PNG).hexdigest()
PAGES = 3
PINNED = {  # path parameter -> the values valid examples take
    "document_id": ["doc"], "layer_name": ["L", "M"], "annotation_id": ["a", "img", "gone"],
    "page_index": ["0", "2", "9"], "attachment_id": [SHA, "0" * 64], "comment_id": ["c1"],
}
FRESH = "#/components/schemas/FreshInstantJson"
KEYED_SECTIONS = ("comments", "bookmarks", "formFields", "formFieldValues")
THREAD_PATH = "/annotations/{annotation_id}/comments"  # its root: the seeded highlight
# The test PDF as text (its binary comment line made ASCII; same length, same offsets), so
# that a schema can name it as a constant.
PDF_TEXT = make_pdf(PAGES).replace(b"%\xbf\xf7\xa2\xfe\n", b"%AAAA\n").decode("ascii")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", free_port(), TOKEN,
                           ANNOLOG_MAX_BATCH="200", ANNOLOG_BODY_TIMEOUT="5")
    try:
        asyncio.run(server.ready())
        server.cursor = seed(server.base)  # type: ignore[attr-defined]
        yield server
    finally:
        server.stop()


HIGHLIGHT = {"v": 2, "type": "pspdfkit/markup/highlight", "pageIndex": 0,
             "bbox": [10, 10, 100, 20], "opacity": 1, "rects": [[10, 10, 100, 20]],
             "color": "#ffff00"}


def seed(base: str) -> str:
    """A document with records in two layers, an image attachment, a deleted record and a
    highlight with a comment; returns a cursor a document list gave."""
    for document_id in ("doc", "spare"):
        response = requests.post(f"{base}/api/documents", headers=AUTH, files={
            "file": ("a.pdf", make_pdf(PAGES), "application/pdf")},
            data={"document_id": document_id}, timeout=30)
        assert response.status_code == 200, response.text
    image = {"v": 2, "type": "pspdfkit/image", "pageIndex": 0, "bbox": [1, 1, 5, 5],
             "opacity": 1, "contentType": "image/png", "imageAttachmentId": SHA}
    for layer in ("", "/layers/L", "/layers/M"):
        response = requests.post(
            f"{base}/api/documents/doc{layer}/annotations", headers=AUTH, timeout=30,
            files={"annotation": ("a.json", requests.compat.json.dumps({"annotations": [
                {"id": "a", "content": note()}, {"id": "img", "content": image},
                {"id": "gone", "content": note()}, {"id": "hl", "content": HIGHLIGHT}]}),
                "application/json"), SHA: ("i.png", PNG, "image/png")})
        assert response.json()["result"] == "success", response.text
        requests.delete(f"{base}/api/documents/doc{layer}/annotations/gone", headers=AUTH,
                        timeout=30)
        response = requests.post(
            f"{base}/api/documents/doc{layer}/annotations/hl/comments", headers=AUTH,
            timeout=30, json={"comments": [{"id": "c1", "content": {
                "text": {"format": "plain", "value": "first"}}}]})
        assert response.status_code == 200, response.text
    listed = requests.get(f"{base}/api/documents?page_size=1", headers=AUTH, timeout=30)
    return listed.json()["next_cursor"]


def pinned_schema(raw: dict[str, Any], mode: GenerationMode, cursor: str) -> dict[str, Any]:
    """The OpenAPI document with the state of the fuzzed document written in (see the
    module's docstring). Negative examples keep the layer unpinned: any other layer name
    is a layer that is empty, not a wrong one."""
    schema = copy.deepcopy(raw)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                values = PINNED.get(parameter["name"])
                if parameter["name"] == "annotation_id" and THREAD_PATH in path:
                    values = ["hl"]
                if method == "delete" and path == "/api/documents/{document_id}":
                    values = ["spare"]  # deleting the fuzzed document ends the run
                if parameter["name"] == "layer_name" and mode is GenerationMode.NEGATIVE:
                    values = None
                if values is not None and parameter["in"] == "path":
                    parameter["schema"] = {"enum": values}
                if parameter["name"] == "cursor":
                    parameter["schema"] = {"const": cursor}
                if parameter["name"] == "If-Match":  # any version: the fuzzer knows none
                    parameter["schema"] = {"const": "*"}
    _pin_state(schema, cursor, mode)
    components = schema["components"]["schemas"]
    # The records of an Instant JSON section each have their own id (or field name), which
    # JSON Schema cannot say: one record per section, so no two collide.
    for section in ("annotations", *KEYED_SECTIONS):
        components["InstantJsonImport"]["properties"][section]["maxItems"] = 1
    # A new document or layer holds no annotation yet: no comment of its Instant JSON has
    # a root.
    fresh = copy.deepcopy(components["InstantJsonImport"])
    fresh["properties"]["comments"]["maxItems"] = 0
    components["FreshInstantJson"] = fresh
    for path, part in (("/api/documents", "attachment"),
                       ("/api/documents/{document_id}/layers", "instant.json")):
        form = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        form["schema"]["properties"][part]["$ref"] = FRESH
    # A whole-document save is the layer's whole state: its comments' roots are its own
    # annotations, which the fuzzer cannot name; it saves none.
    for path, operations in schema["paths"].items():
        if path.endswith("/document.json") and "put" in operations:
            content = operations["put"]["requestBody"]["content"]
            content["application/json"]["schema"] = {"$ref": FRESH}
            content["multipart/form-data"]["schema"]["properties"]["instant.json"] = {
                "$ref": FRESH}
    return schema


def _pin_state(node: Any, cursor: str, mode: GenerationMode) -> None:
    """Page indexes, comment roots, cursors, PDFs, pdfId, skippedPdfObjectIds and
    attachment parts, wherever a schema names them. Valid annotations get no keys beyond
    the example shape's: a key the validator knows has rules of its own (a random
    'strokeWidth' must be a number), which the example shape does not state."""
    if isinstance(node, list):
        for item in node:
            _pin_state(item, cursor, mode)
        return
    if not isinstance(node, dict):
        return
    properties = node.get("properties", {})
    if isinstance(properties, dict):
        for name, pin in (("pageIndex", {"type": "integer", "minimum": 0,
                                         "maximum": PAGES - 1}),
                          ("rootId", {"const": "hl"}), ("cursor", {"const": cursor}),
                          ("file", {"const": PDF_TEXT}), ("pdfId", {"type": "null"}),
                          ("skippedPdfObjectIds", {"type": "array", "maxItems": 0})):
            if isinstance(properties.get(name), dict):
                properties[name] = pin
        if isinstance(properties.get("comments"), dict):  # a request's comment ids differ
            properties["comments"]["maxItems"] = 1
    if "bbox" in properties and mode is GenerationMode.POSITIVE:
        node["additionalProperties"] = False
    node.pop("patternProperties", None)  # attachment parts: named by their bytes' hash
    if "application/pdf" in node and "schema" in node["application/pdf"]:
        node["application/pdf"] = {"schema": {"const": PDF_TEXT}}
    for value in node.values():
        _pin_state(value, cursor, mode)


def fuzz(operation: Any, mode: GenerationMode, base: str, failures: list[str]) -> None:
    seen: set[str] = set()

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode))
    def run(case: Any) -> None:
        try:
            case.call_and_validate(base_url=base, headers=AUTH, checks=CHECKS, timeout=30)
        except BaseException as error:  # noqa: BLE001 - every failure is collected
            if isinstance(error, KeyboardInterrupt):
                raise
            text = str(error)
            first = next((line for line in text.splitlines() if line.startswith("- ")), text)
            if first not in seen:
                seen.add(first)
                failures.append(f"{operation.label} ({mode.value}): {text[:2000]}")

    try:
        run()
    except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
        pass


def operations(base: str, mode: GenerationMode, cursor: str) -> list[Any]:
    raw = requests.get(f"{base}/api/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(pinned_schema(raw, mode, cursor))
    found = [result.ok() for result in schema.get_all_operations()]
    found = [op for op in found if not op.path.endswith("/sync")]  # WebSockets: test_sync
    # Reads first, then writes, then deletes: each finds the seeded records still there (a
    # whole-document save, which replaces them, comes last of the writes).
    order = {"GET": 0, "POST": 1, "PUT": 1, "DELETE": 2}
    return sorted(found, key=lambda op: (order[op.method.upper()],
                                         op.path == "/api/documents/{document_id}",
                                         op.method.upper() == "PUT"
                                         and "document.json" in op.path))


def test_every_operation_answers_as_its_description_says(server):
    failures: list[str] = []
    by_mode = {mode: operations(server.base, mode, server.cursor)
               for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)}
    for positive, negative in zip(*by_mode.values(), strict=True):
        fuzz(positive, GenerationMode.POSITIVE, server.base, failures)
        fuzz(negative, GenerationMode.NEGATIVE, server.base, failures)
    health = requests.get(f"{server.base}/healthcheck", timeout=30)
    assert health.status_code == 200
    log = server.log_path.read_text(errors="replace")
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures) + \
        "\n\nthe server log:\n" + log[-20000:]
