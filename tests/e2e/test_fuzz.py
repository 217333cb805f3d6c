"""Schemathesis against the real ``annolog serve`` and its own /api/openapi.json (issue 12):
every operation, with valid and invalid input, must answer without a server error, with a
status its description declares, in a declared content type, in the declared shape.

Bounded and deterministic (a fixed number of examples per operation, derandomized), so a
failure here is reproducible; ``ANNOLOG_FUZZ_EXAMPLES`` raises the count for a longer hunt.
The path parameters are pinned to records that exist in valid examples, so that the fuzzer
reaches past the 404s into the handlers."""

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
# Every check but two: positive_data_acceptance and negative_data_rejection still find 46
# requests (of 20 per operation and mode) whose acceptance turns on a rule the OpenAPI
# document does not state (a comment's root must be markup; 'revision' or 'at', not both;
# ...); open in issue 26, section 8. ANNOLOG_FUZZ_ALL_CHECKS=1 adds them.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance, response_headers_conformance, missing_required_header,
          unsupported_method, allow_header_conformance, ignored_auth]
if os.environ.get("ANNOLOG_FUZZ_ALL_CHECKS"):
    CHECKS += [positive_data_acceptance, negative_data_rejection]
PNG = make_png(2000, seed=3)
SHA = hashlib.sha256(PNG).hexdigest()
PINNED = {  # path parameter -> the values valid examples take
    "document_id": ["doc"], "layer_name": ["L", "M"], "annotation_id": ["a", "img", "gone"],
    "page_index": ["0", "2", "9"], "attachment_id": [SHA, "0" * 64],
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("fuzz") / "data", free_port(), TOKEN,
                           ANNOLOG_MAX_BATCH="200", ANNOLOG_BODY_TIMEOUT="5")
    try:
        asyncio.run(server.ready())
        seed(server.base)
        yield server
    finally:
        server.stop()


def seed(base: str) -> None:
    """A document with records in two layers, an image attachment and a deleted record."""
    for document_id in ("doc", "spare"):
        response = requests.post(f"{base}/api/documents", headers=AUTH, files={
            "file": ("a.pdf", make_pdf(3), "application/pdf")},
            data={"document_id": document_id}, timeout=30)
        assert response.status_code == 200, response.text
    image = {"v": 2, "type": "pspdfkit/image", "pageIndex": 0, "bbox": [1, 1, 5, 5],
             "opacity": 1, "contentType": "image/png", "imageAttachmentId": SHA}
    for layer in ("", "/layers/L"):
        response = requests.post(
            f"{base}/api/documents/doc{layer}/annotations", headers=AUTH, timeout=30,
            files={"annotation": ("a.json", requests.compat.json.dumps({"annotations": [
                {"id": "a", "content": note()}, {"id": "img", "content": image},
                {"id": "gone", "content": note()}]}), "application/json"),
                SHA: ("i.png", PNG, "image/png")})
        assert response.json()["result"] == "success", response.text
        requests.delete(f"{base}/api/documents/doc{layer}/annotations/gone", headers=AUTH,
                        timeout=30)


def pinned_schema(raw: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(raw)
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                values = PINNED.get(parameter["name"])
                if values is not None and parameter["in"] == "path":
                    if method == "delete" and path == "/api/documents/{document_id}":
                        values = ["spare"]  # deleting the fuzzed document ends the run
                    parameter["schema"] = {"enum": values}
    return schema


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


def operations(base: str) -> list[Any]:
    raw = requests.get(f"{base}/api/openapi.json", timeout=30).json()
    schema = schemathesis.openapi.from_dict(pinned_schema(raw))
    found = [result.ok() for result in schema.get_all_operations()]
    found = [op for op in found if not op.path.endswith("/sync")]  # WebSockets: test_sync
    # Reads first, then writes, then deletes: each finds the seeded records still there.
    order = {"GET": 0, "POST": 1, "PUT": 1, "DELETE": 2}
    return sorted(found, key=lambda op: (order[op.method.upper()],
                                         op.path == "/api/documents/{document_id}"))


def test_every_operation_answers_as_its_description_says(server):
    failures: list[str] = []
    for operation in operations(server.base):
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, server.base, failures)
    health = requests.get(f"{server.base}/healthcheck", timeout=30)
    assert health.status_code == 200
    log = server.log_path.read_text(errors="replace")
    assert not failures, f"{len(failures)} failures:\n\n" + "\n\n".join(failures) + \
        "\n\nthe server log:\n" + log[-20000:]
