"""Multipart writes with attachments, content-addressed storage, attachment retrieval."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from api.app import create_app
from api.settings import Settings
from tests.conftest import AUTH, make_pdf
from tools.samples import make_png

PNG_A, PNG_B = make_png(seed=1), make_png(seed=2)
SHA_A, SHA_B = hashlib.sha256(PNG_A).hexdigest(), hashlib.sha256(PNG_B).hexdigest()
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64
SHA_JPEG = hashlib.sha256(JPEG).hexdigest()


def image(sha: str, x: int = 100, **extra: Any) -> dict[str, Any]:
    return {"bbox": [x, 100, 100, 100], "opacity": 1, "pageIndex": 0, "type": "pspdfkit/image",
            "contentType": "image/png", "imageAttachmentId": sha, "v": 1, **extra}


def form(body: dict, files: dict[str, bytes], part: str = "annotation") -> aiohttp.FormData:
    data = aiohttp.FormData()
    data.add_field(part, orjson.dumps(body).decode(), filename="annotation.json",
                   content_type="application/json")
    for name, content in files.items():
        data.add_field(name, content, filename="example.png", content_type="image/png")
    return data


def blob_files(settings: Settings) -> list[Path]:
    root = settings.data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file() and p.parent.name != "tmp"]


def temporaries(settings: Settings) -> list[Path]:
    return list((settings.data_dir / "blobs" / "tmp").iterdir())


async def get_attachment(client: Any, document: str, sha: str) -> aiohttp.ClientResponse:
    return await client.get(f"/api/documents/{document}/attachments/{sha}", headers=AUTH)


@pytest.mark.parametrize("layer", ["", "/layers/my-layer"])
async def test_the_seed_multipart_create_and_update(client, document, layer):
    base = f"/api/documents/{document}{layer}/annotations"
    body = {"annotations": [{"content": image(SHA_A)}, {"content": image(SHA_B, 200)}]}
    response = await client.post(base, headers=AUTH,
                                 data=form(body, {SHA_A: PNG_A, SHA_B: PNG_B}))
    result = await response.json()
    assert result["result"] == "success", result
    first, second = (r["id"] for r in result["data"])
    for sha, png in ((SHA_A, PNG_A), (SHA_B, PNG_B)):
        response = await get_attachment(client, document, sha)
        assert response.headers["Content-Type"] == "image/png"
        assert await response.read() == png
    # the seed's update: new bytes for one, an already held attachment for the other
    body = {"annotations": [{"id": first, "content": image(SHA_JPEG, contentType="image/jpeg")},
                            {"id": second, "content": image(SHA_A, 200)}]}
    response = await client.put(base, headers=AUTH, data=form(body, {SHA_JPEG: JPEG}))
    assert (await response.json())["result"] == "success"
    response = await get_attachment(client, document, SHA_JPEG)
    assert response.headers["Content-Type"] == "image/jpeg"


async def test_single_create_and_update_take_multipart_too(client, document):
    base = f"/api/documents/{document}/annotations"
    response = await client.post(base, headers=AUTH,
                                 data=form({"id": "one", "content": image(SHA_A)},
                                           {SHA_A: PNG_A}))
    assert (await response.json())["data"] == {"annotation_id": "one"}
    response = await client.put(f"{base}/one", headers=AUTH,
                                data=form({"content": image(SHA_B)}, {SHA_B: PNG_B},
                                          part="annotations"))
    assert response.status == 200
    assert (await response.json())["data"]["content"]["imageAttachmentId"] == SHA_B


async def test_a_part_whose_name_is_not_its_hash_is_refused_and_nothing_stored(
        client, document, settings):
    before = blob_files(settings)
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=form({"annotations": [{"content": image(SHA_A)}]},
                                           {SHA_A: PNG_B}))
    assert response.status == 422
    assert f"SHA-256 is {SHA_B}" in (await response.json())["error"]["reason"]
    assert blob_files(settings) == before
    assert temporaries(settings) == []
    listing = await (await client.get(f"/api/documents/{document}/annotations",
                                      headers=AUTH)).json()
    assert listing["data"]["annotations"] == []


async def test_a_missing_attachment_is_a_failing_path_and_nothing_of_the_item_is_saved(
        client, document):
    base = f"/api/documents/{document}/annotations"
    body = {"annotations": [{"id": "ok", "content": image(SHA_A)},
                            {"id": "orphan", "content": image(SHA_B)}]}
    result = await (await client.post(base, headers=AUTH,
                                      data=form(body, {SHA_A: PNG_A}))).json()
    assert result["result"] == "partial_failure"
    assert result["failing_paths"][0]["path"] == "$.annotations[1]"
    assert "neither sent with this request nor held" in result["failing_paths"][0]["details"]
    assert (await client.get(f"{base}/orphan", headers=AUTH)).status == 404
    assert (await get_attachment(client, document, SHA_B)).status == 404
    response = await client.post(base, headers=AUTH,
                                 json={"id": "json", "content": image(SHA_B)})
    assert response.status == 404


async def test_a_held_attachment_can_be_named_again_without_sending_it(client, document):
    base = f"/api/documents/{document}/annotations"
    await client.post(base, headers=AUTH, data=form({"annotations": [
        {"content": image(SHA_A)}]}, {SHA_A: PNG_A}))
    result = await (await client.post(base, headers=AUTH, json={"annotations": [
        {"content": image(SHA_A.upper(), 300)}]})).json()
    assert result["result"] == "success"


async def test_the_content_type_comes_from_the_bytes(client, document):
    await client.post(f"/api/documents/{document}/annotations", headers=AUTH, data=form(
        {"annotations": [{"content": image(SHA_JPEG)}]}, {SHA_JPEG: JPEG}))
    response = await get_attachment(client, document, SHA_JPEG)
    assert response.headers["Content-Type"] == "image/jpeg"
    text = b"just some text"
    sha = hashlib.sha256(text).hexdigest()
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=form({"annotations": [{"content": image(sha)}]},
                                           {sha: text}))
    assert response.status == 422
    assert "not a PNG, JPEG or PDF" in (await response.json())["error"]["reason"]


async def test_unexpected_parts_and_a_missing_json_part_are_422(client, document):
    url = f"/api/documents/{document}/annotations"
    data = form({"annotations": [{"content": image(SHA_A)}]}, {"picture": PNG_A})
    assert (await client.post(url, headers=AUTH, data=data)).status == 422
    data = aiohttp.FormData()
    data.add_field(SHA_A, PNG_A, filename="a.png", content_type="image/png")
    response = await client.post(url, headers=AUTH, data=data)
    assert response.status == 422
    assert "no 'annotation' part" in (await response.json())["error"]["reason"]


async def test_sent_attachments_no_valid_item_references_are_not_kept(client, document,
                                                                       settings):
    before = blob_files(settings)
    body = {"annotations": [{"content": {**image(SHA_A), "opacity": "9"}}]}
    result = await (await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                      data=form(body, {SHA_A: PNG_A}))).json()
    assert result["result"] == "failure"
    assert blob_files(settings) == before
    assert temporaries(settings) == []


async def test_the_same_image_in_two_documents_is_stored_once(client, document, settings):
    other = (await (await client.post("/api/documents", data=make_pdf(), headers={
        **AUTH, "Content-Type": "application/pdf"})).json())["data"]["document_id"]
    for doc in (document, other):
        result = await (await client.post(f"/api/documents/{doc}/annotations", headers=AUTH,
                                          data=form({"annotations": [{"content": image(SHA_A)}]},
                                                    {SHA_A: PNG_A}))).json()
        assert result["result"] == "success"
    assert [p.name for p in blob_files(settings)].count(SHA_A) == 1


async def test_another_documents_attachment_is_a_404(client, document):
    other = (await (await client.post("/api/documents", data=make_pdf(), headers={
        **AUTH, "Content-Type": "application/pdf"})).json())["data"]["document_id"]
    await client.post(f"/api/documents/{document}/annotations", headers=AUTH, data=form(
        {"annotations": [{"content": image(SHA_A)}]}, {SHA_A: PNG_A}))
    assert (await get_attachment(client, document, SHA_A)).status == 200
    response = await get_attachment(client, other, SHA_A)
    assert response.status == 404
    assert await response.json() == {"error": {"reason": "Attachment not found"}}
    assert (await get_attachment(client, other, "0" * 64)).status == 404
    result = await (await client.post(f"/api/documents/{other}/annotations", headers=AUTH,
                                      json={"annotations": [{"content": image(SHA_A)}]})).json()
    assert result["result"] == "failure"  # naming it does not borrow it either


async def small_client(aiohttp_client: Any, tmp_path: Path, **limits: int) -> tuple[Any, str]:
    settings = Settings(data_dir=tmp_path / "small", api_token="t", **limits)
    client = await aiohttp_client(create_app(settings))
    headers = {"Authorization": "Token token=t"}
    response = await client.post("/api/documents", data=make_pdf(),
                                 headers={**headers, "Content-Type": "application/pdf"})
    return client, (await response.json())["data"]["document_id"]


async def test_an_oversized_part_is_413_and_leaves_nothing(aiohttp_client, tmp_path):
    client, document = await small_client(aiohttp_client, tmp_path, max_attachment_bytes=1000)
    response = await client.post(f"/api/documents/{document}/annotations",
                                 headers={"Authorization": "Token token=t"},
                                 data=form({"annotations": [{"content": image(SHA_A)}]},
                                           {SHA_A: PNG_A}))
    assert response.status == 413
    assert "ANNOLOG_MAX_ATTACHMENT_BYTES" in (await response.json())["error"]["reason"]
    assert list((tmp_path / "small" / "blobs" / "tmp").iterdir()) == []


async def test_a_request_over_max_upload_size_is_413(aiohttp_client, tmp_path):
    client, document = await small_client(aiohttp_client, tmp_path,
                                          max_upload_bytes=len(PNG_A) + len(make_pdf()))
    body = {"annotations": [{"content": image(SHA_A)}, {"content": image(SHA_B)}]}
    response = await client.post(f"/api/documents/{document}/annotations",
                                 headers={"Authorization": "Token token=t"},
                                 data=form(body, {SHA_A: PNG_A, SHA_B: PNG_B}))
    assert response.status == 413
    assert "MAX_UPLOAD_SIZE_BYTES" in (await response.json())["error"]["reason"]
    assert list((tmp_path / "small" / "blobs" / "tmp").iterdir()) == []


async def test_a_body_cut_off_halfway_is_a_4xx_and_leaves_nothing(client, document, settings):
    boundary = "cut"
    body = (f'--{boundary}\r\nContent-Disposition: form-data; name="annotation"\r\n\r\n'
            f'{orjson.dumps({"annotations": [{"content": image(SHA_A)}]}).decode()}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="{SHA_A}"; '
            f'filename="a.png"\r\nContent-Type: image/png\r\n\r\n').encode() + PNG_A[:1000]
    response = await client.post(f"/api/documents/{document}/annotations", data=body, headers={
        **AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert response.status == 400
    assert "truncated" in (await response.json())["error"]["reason"]
    assert temporaries(settings) == []
    assert SHA_A not in [p.name for p in blob_files(settings)]
