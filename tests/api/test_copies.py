"""POST /api/copy_document (issue 17, item 1): a new document sharing the stored PDF, with
the state of every layer of the source, written as its own events, with its provenance."""

from __future__ import annotations

from typing import Any

import pytest

from api.services import SERVICES
from eventstore.domain import Document
from tests.api.test_annotations import create, ndjson
from tests.api.test_attachments import PNG_A, SHA_A, blob_files, form, image
from tests.api.test_downloads import instant_form
from tests.api.test_jwt import token
from tests.conftest import AUTH, make_pdf, note


async def copy(client: Any, **body: Any) -> Any:
    return await client.post("/api/copy_document", headers=AUTH, json=body)


async def records(client: Any, document: str, layer: str = "") -> list[dict]:
    return await ndjson(client, f"/api/documents/{document}{layer}/annotations")


async def seeded(client: Any, document: str) -> None:
    """Two layers, an image attachment, a record by a named user, and a deleted record."""
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": "n1", "user_id": "ann", "content": note(text="one")},
                                {"id": "gone", "content": note()}])
    await client.delete(f"{base}/annotations/gone", headers=AUTH)
    response = await client.post(f"{base}/annotations", headers=AUTH, data=form(
        {"annotations": [{"id": "img", "content": image(SHA_A)}]}, {SHA_A: PNG_A}))
    assert (await response.json())["result"] == "success"
    await create(client, f"{base}/layers/review", [{"id": "r1", "content": note(text="r")}])


async def test_a_copy_has_every_layer_and_shares_the_pdf(client, document, settings):
    await seeded(client, document)
    blobs = len(blob_files(settings))
    response = await copy(client, document_id=document, new_document_id="the-copy")
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["data"] == {"document_id": "the-copy"} and body["revision"] > 0
    assert len(blob_files(settings)) == blobs  # the same PDF and image, no second blob
    for layer in ("", "/layers/review"):
        assert await records(client, "the-copy", layer) == await records(client, document,
                                                                          layer)
    layers = await (await client.get("/api/documents/the-copy/layers", headers=AUTH)).json()
    assert layers["data"] == ["review"]
    mine = await (await client.get(f"/api/documents/the-copy/attachments/{SHA_A}",
                                   headers=AUTH)).read()
    assert mine == PNG_A  # the copy holds the attachment its record names
    source = await (await client.get(f"/api/documents/{document}/properties",
                                     headers=AUTH)).json()
    copied = await (await client.get("/api/documents/the-copy/properties",
                                     headers=AUTH)).json()
    assert copied["data"]["sourcePdfSha256"] == source["data"]["sourcePdfSha256"]
    assert copied["data"]["title"] == source["data"]["title"]
    assert "copiedFrom" not in source["data"]
    provenance = copied["data"]["copiedFrom"]
    assert provenance["document_id"] == document and provenance["revision"] <= body["revision"]


async def test_the_log_and_the_histories_tell_where_a_copy_came_from(client, document):
    await seeded(client, document)
    await copy(client, document_id=document, new_document_id="c")
    log = client.server.app[SERVICES].log
    events = [e.event for e in log.read_all() if getattr(e.event, "document_id", "") == "c"]
    assert isinstance(events[0], Document.Uploaded)
    assert isinstance(events[1], Document.Copied)
    assert events[1].source_document_id == document
    history = await (await client.get("/api/documents/c/annotations/n1/history",
                                      headers=AUTH)).json()
    (version,) = history["data"]
    assert version["kind"] == "created" and version["record"]["createdBy"] == "ann"
    assert version["revision"] > (await (await client.get(
        f"/api/documents/{document}/annotations/n1/history", headers=AUTH)).json()
    )["data"][0]["revision"]


async def test_a_copy_and_its_source_then_go_their_own_ways(client, document):
    await seeded(client, document)
    await copy(client, document_id=document, new_document_id="c")
    before = await records(client, document)
    await client.delete("/api/documents/c/annotations/n1", headers=AUTH)
    await create(client, "/api/documents/c", [{"id": "new", "content": note()}])
    assert await records(client, document) == before
    await client.delete(f"/api/documents/{document}", headers=AUTH)
    assert {r["id"] for r in await records(client, "c")} == {"img", "new"}
    pdf = await client.get("/api/documents/c/pdf?source=true", headers=AUTH)
    assert pdf.status == 200  # the shared blob outlives the source's deletion


async def test_the_copy_gets_an_id_when_none_is_given(client, document):
    response = await copy(client, documentId=document)
    new_id = (await response.json())["data"]["document_id"]
    assert new_id != document
    assert (await client.get(f"/api/documents/{new_id}/properties", headers=AUTH)).status == 200


async def test_refusals(client, document):
    await create(client, f"/api/documents/{document}", [{"id": "n", "content": note()}])
    assert (await copy(client, document_id="nope")).status == 404
    assert (await copy(client)).status == 400
    assert (await copy(client, document_id=document, new_document_id="a/b")).status == 400
    assert (await copy(client, document_id=document, new_document_id="..")).status == 400
    response = await copy(client, document_id=document, new_document_id=document)
    assert response.status == 409
    assert [r["id"] for r in await records(client, document)] == ["n"]  # untouched
    response = await client.post("/api/copy_document", json={"document_id": document},
                                 headers={"Authorization": f"Bearer {token()}"})
    assert response.status in (401, 403)  # server token only


async def test_a_protected_source_needs_its_password(client):
    response = await client.post("/api/documents", data=make_pdf(1, user_password="pw"),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    locked = (await response.json())["data"]["document_id"]
    assert (await copy(client, document_id=locked)).status == 403
    response = await client.post("/api/copy_document", json={"document_id": locked},
                                 headers={**AUTH, "pspdfkit-pdf-password": "pw"})
    assert response.status == 200


def instant(*annotations: dict[str, Any]) -> Any:
    return instant_form({"format": "https://pspdfkit.com/instant-json/v1",
                         "annotations": list(annotations)})


async def document_ids(client: Any) -> set[str]:
    body = await (await client.get("/api/documents", headers=AUTH)).json()
    return {d["document_id"] for d in body["data"]}


@pytest.mark.parametrize("layer", ["", "/layers/L"])
async def test_copy_with_instant_json_applies_the_document_to_the_copy(client, document,
                                                                       layer):
    await seeded(client, document)
    before = await records(client, document, layer)
    response = await client.post(
        f"/api/documents/{document}{layer}/copy_with_instant_json", headers=AUTH,
        data=instant({**note(text="added"), "id": "added"}))
    assert response.status == 200, await response.text()
    body = await response.json()
    assert set(body) == {"createdAt", "documentId", "errors", "password_protected",
                         "sourcePdfSha256", "title"}  # as the reference: no "data"
    copy_id = body["documentId"]
    assert [r["id"] for r in await records(client, copy_id, layer)] == \
        [r["id"] for r in before] + ["added"]
    assert await records(client, document, layer) == before  # the source is untouched
    assert [r["id"] for r in await records(client, copy_id, "/layers/review")] == ["r1"]


async def test_copy_with_a_json_body_is_a_plain_copy(client, document):
    await seeded(client, document)
    response = await client.post(f"/api/documents/{document}/copy_with_instant_json",
                                 headers=AUTH, json={"anything": "ignored"})
    copy_id = (await response.json())["documentId"]
    assert await records(client, copy_id) == await records(client, document)


async def test_an_instant_json_body_is_applied_to_the_copy(client, document):
    await seeded(client, document)
    before = await records(client, document)
    response = await client.post(
        f"/api/documents/{document}/copy_with_instant_json", headers=AUTH,
        json={"format": "https://pspdfkit.com/instant-json/v1",
              "annotations": [{**note(text="Grüße 日本"), "id": "added"}]})
    assert response.status == 200, await response.text()
    copied = await records(client, (await response.json())["documentId"])
    assert [r["id"] for r in copied] == [r["id"] for r in before] + ["added"]


@pytest.mark.parametrize("body, status", [
    (b"this is not json", 422), (b"[1, 2]", 422), (b'"a string"', 422), (b"\xff{}", 400),
    (b'{"format": "https://pspdfkit.com/instant-json/v1", "annotations": [{"id": 1}]}', 422),
])
async def test_a_garbage_body_copies_nothing(client, document, body, status):
    """Regression (issue 26, section 8): any body but multipart made a plain copy."""
    known = await document_ids(client)
    response = await client.post(f"/api/documents/{document}/copy_with_instant_json",
                                 headers={**AUTH, "Content-Type": "application/json"},
                                 data=body)
    assert response.status == status, await response.text()
    assert await document_ids(client) == known


async def test_a_bad_instant_json_copies_nothing(client, document):
    known = await document_ids(client)
    response = await client.post(f"/api/documents/{document}/copy_with_instant_json",
                                 headers=AUTH, data=instant({"id": "x", "type": "nope"}))
    assert response.status == 422
    assert "annotations[0]" in (await response.json())["error"]["records"][0]["path"]
    assert await document_ids(client) == known
    response = await client.post("/api/documents/nope/copy_with_instant_json", headers=AUTH,
                                 data=instant())
    assert response.status == 404
