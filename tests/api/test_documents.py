"""Document routes, password-protected PDFs, the token and the OpenAPI document."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import aiohttp
import orjson
import pytest

from api.app import create_app
from api.console import PREFIX as CONSOLE
from api.routes import ROUTES
from api.settings import Settings
from tests.conftest import AUTH, make_pdf, note

PDF = {**AUTH, "Content-Type": "application/pdf"}


def multipart(pdf: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", pdf, filename="upload.pdf", content_type="application/pdf")
    for name, value in fields.items():
        form.add_field(name, value)
    return form


async def test_raw_upload_reads_title_and_pages(client):
    pdf = make_pdf(3, title="Quarterly")
    response = await client.post("/api/documents", data=pdf, headers=PDF)
    body = await response.json()
    data = body["data"]
    assert data["title"] == "Quarterly"
    assert data["password_protected"] is False
    assert data["sourcePdfSha256"] == hashlib.sha256(pdf).hexdigest()
    assert data["errors"] == []
    assert int(response.headers["Annolog-Revision"]) == body["revision"] == 1
    info = await (await client.get(f"/api/documents/{data['document_id']}/document_info",
                                   headers=AUTH)).json()
    assert info["data"]["pageCount"] == 3
    assert info["data"]["pages"][1] == {"pageIndex": 1, "pageLabel": "2", "width": 611.0,
                                        "height": 792.0, "rotation": 0}
    layer_info = await (await client.get(
        f"/api/documents/{data['document_id']}/layers/any/document_info", headers=AUTH)).json()
    assert layer_info == info
    response = await client.get("/api/documents/nope/document_info", headers=AUTH)
    assert response.status == 404


async def test_multipart_upload_with_id_and_title_and_the_original_bytes_back(client):
    pdf = make_pdf(title=None)
    response = await client.post("/api/documents", headers=AUTH,
                                 data=multipart(pdf, document_id="my-doc", title="Mine"))
    assert (await response.json())["data"]["document_id"] == "my-doc"
    props = await (await client.get("/api/documents/my-doc/properties", headers=AUTH)).json()
    assert props["data"]["title"] == "Mine"
    assert props["data"]["byteSize"] == len(pdf)
    assert props["data"]["passwordProtected"] is False
    response = await client.get("/api/documents/my-doc/pdf?source=true", headers=AUTH)
    assert response.headers["Content-Type"] == "application/pdf"
    assert await response.read() == pdf
    response = await client.get("/api/documents/my-doc/layers/l/pdf?source=true", headers=AUTH)
    assert await response.read() == pdf
    # without annotations to write, the download is the upload itself
    assert await (await client.get("/api/documents/my-doc/pdf", headers=AUTH)).read() == pdf


async def test_title_falls_back_to_the_file_name(client):
    response = await client.post("/api/documents", headers=AUTH,
                                 data=multipart(make_pdf(title=None)))
    assert (await response.json())["data"]["title"] == "upload.pdf"


@pytest.mark.parametrize("body, content_type, status", [
    (b"hello, not a pdf", "application/pdf", 422),
    (b"%PDF-1.7 but broken", "application/pdf", 422),
    (b"{}", "application/json", 415),
])
async def test_bodies_that_are_not_pdfs_are_refused(client, body, content_type, status):
    response = await client.post("/api/documents", data=body,
                                 headers={**AUTH, "Content-Type": content_type})
    assert response.status == status
    assert (await response.json())["error"]["reason"]
    listing = await (await client.get("/api/documents", headers=AUTH)).json()
    assert listing["document_count"] == 0


async def test_multipart_without_file_or_with_import_parts_is_422(client):
    form = aiohttp.FormData()
    form.add_field("document_id", "x")
    form.add_field("title", "t", content_type="text/plain", filename="t.txt")
    assert (await client.post("/api/documents", headers=AUTH, data=form)).status == 422
    response = await client.post("/api/documents", headers=AUTH,
                                 data=multipart(make_pdf(), attachment="{}"))
    assert response.status == 422


async def test_a_truncated_multipart_body_is_400_and_stores_nothing(client, settings):
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"a.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode() + \
        make_pdf()[:200]
    response = await client.post("/api/documents", data=body, headers={
        **AUTH, "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert 400 <= response.status < 500
    assert list((settings.data_dir / "blobs" / "tmp").iterdir()) == []


async def test_duplicate_ids_are_409_unless_overwritten(client):
    await client.post("/api/documents", headers=AUTH, data=multipart(make_pdf(),
                                                                     document_id="d"))
    await client.post("/api/documents/d/annotations", headers=AUTH,
                      json={"annotations": [{"id": "a", "content": note()}]})
    response = await client.post("/api/documents", headers=AUTH,
                                 data=multipart(make_pdf(1), document_id="d"))
    assert response.status == 409
    response = await client.post("/api/documents", headers=AUTH, data=multipart(
        make_pdf(1), document_id="d", overwrite_existing_document="true"))
    assert response.status == 200
    info = await (await client.get("/api/documents/d/document_info", headers=AUTH)).json()
    assert info["data"]["pageCount"] == 1
    assert (await client.get("/api/documents/d/annotations/a", headers=AUTH)).status == 404


async def test_deleting_a_document_removes_it_and_its_annotations(client, document):
    await client.post(f"/api/documents/{document}/layers/l/annotations", headers=AUTH,
                      json={"annotations": [{"id": "a", "content": note()}]})
    response = await client.delete(f"/api/documents/{document}", headers=AUTH)
    assert response.status == 200
    assert (await client.get(f"/api/documents/{document}/properties", headers=AUTH)).status == 404
    assert (await client.delete(f"/api/documents/{document}", headers=AUTH)).status == 404
    response = await client.post("/api/documents", headers=AUTH,
                                 data=multipart(make_pdf(), document_id=document))
    assert response.status == 200
    response = await client.get(f"/api/documents/{document}/layers/l/annotations/a",
                                headers=AUTH)
    assert response.status == 404
    assert (await (await client.get(f"/api/documents/{document}/layers",
                                    headers=AUTH)).json())["data"] == []


async def test_document_list_pages_with_a_cursor_and_filters_by_title(client):
    for i in range(5):
        await client.post("/api/documents", headers=AUTH, data=multipart(
            make_pdf(1), document_id=f"doc{i}", title="odd" if i % 2 else "even"))
    seen, cursor = [], None
    while True:
        query = "?page_size=2&order_by=title&order_direction=asc" + (
            f"&cursor={cursor}" if cursor else "")
        body = await (await client.get("/api/documents" + query, headers=AUTH)).json()
        assert body["document_count"] == 5
        seen += [d["document_id"] for d in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["doc0", "doc2", "doc4", "doc1", "doc3"]
    body = await (await client.get("/api/documents?title=odd", headers=AUTH)).json()
    assert sorted(d["document_id"] for d in body["data"]) == ["doc1", "doc3"]


@pytest.mark.parametrize("query", ["page_size=0", "page_size=x", "order_by=size",
                                   "order_direction=up", "cursor=%%%"])
async def test_bad_list_parameters_are_400(client, query):
    assert (await client.get(f"/api/documents?{query}", headers=AUTH)).status == 400


async def test_an_upload_over_the_limit_is_413_and_leaves_nothing(aiohttp_client, tmp_path):
    settings = Settings(data_dir=tmp_path / "d", api_token="t", max_upload_bytes=500)
    client = await aiohttp_client(create_app(settings))
    response = await client.post("/api/documents", data=make_pdf(5), headers={
        "Authorization": "Token token=t", "Content-Type": "application/pdf"})
    assert response.status == 413
    assert list((settings.data_dir / "blobs" / "tmp").iterdir()) == []


class TestPasswordProtectedDocuments:
    async def upload(self, client: Any, password: str | None = None) -> str:
        headers = {**PDF} if password is None else {**PDF, "pspdfkit-pdf-password": password}
        response = await client.post("/api/documents", data=make_pdf(user_password="s3cret"),
                                     headers=headers)
        assert response.status == 200
        body = await response.json()
        assert body["data"]["password_protected"] is True
        return body["data"]["document_id"]

    @pytest.mark.parametrize("given", [None, "s3cret"])
    async def test_every_request_needs_the_password(self, client, given):
        document = await self.upload(client, given)
        url = f"/api/documents/{document}/annotations"
        response = await client.get(url, headers=AUTH)
        assert response.status == 403
        assert "password-protected" in await response.text()
        response = await client.get(url, headers={**AUTH, "pspdfkit-pdf-password": "nope"})
        assert response.status == 403
        assert await response.text() == ("Value for 'pspdfkit-pdf-password' header doesn't "
                                          "match document password.")
        good = {**AUTH, "pspdfkit-pdf-password": "s3cret"}
        response = await client.post(url, headers=good,
                                     json={"annotations": [{"content": note(page=1)}]})
        assert (await response.json())["result"] == "success"
        encoded = "base64:" + base64.b64encode(b"s3cret").decode()
        info = await client.get(f"/api/documents/{document}/document_info",
                                headers={**AUTH, "pspdfkit-pdf-password": encoded})
        assert (await info.json())["data"]["pageCount"] == 2

    async def test_a_wrong_password_at_upload_is_403(self, client):
        response = await client.post("/api/documents", data=make_pdf(user_password="s3cret"),
                                     headers={**PDF, "pspdfkit-pdf-password": "wrong"})
        assert response.status == 403


@pytest.mark.parametrize("header", [None, "Token token=wrong", "Bearer abc", "Token"])
async def test_the_api_needs_the_token(client, header):
    headers = {} if header is None else {"Authorization": header}
    response = await client.get("/api/documents", headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["reason"]


async def test_the_token_is_accepted_quoted_and_unquoted(client):
    for header in ['Token token="test-token"', "Token token=test-token"]:
        response = await client.get("/api/documents", headers={"Authorization": header})
        assert response.status == 200


async def test_healthcheck_and_openapi_need_no_token(client):
    for path in ("/healthcheck", "/api/openapi.json", "/healthcheck/", "/api/openapi.json/"):
        assert (await client.get(path)).status == 200


async def test_every_route_is_in_the_openapi_document(client):
    spec = await (await client.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.1")
    registered = {  # the console's static files are not API operations; nor are the
        # trailing-slash twins of the routes (test_every_route_answers_with_a_trailing_slash)
        (route.method.lower(), route.resource.canonical)
        for route in client.server.app.router.routes()
        if route.method != "HEAD" and not route.resource.canonical.startswith(CONSOLE)
        and not route.resource.canonical.endswith("/")
    }
    described = {(m, p) for p, ops in spec["paths"].items() for m in ops}
    assert registered == described
    assert len(described) == len(ROUTES)


async def test_a_request_id_is_echoed_or_made(client):
    response = await client.get("/healthcheck", headers={"X-Request-Id": "abc-123"})
    assert response.headers["X-Request-Id"] == "abc-123"
    response = await client.get("/healthcheck")
    assert len(response.headers["X-Request-Id"]) == 26


async def test_documents_are_deleted_in_bulk_by_their_filters(client):
    ids = []
    for title in ("keep", "drop", "drop"):
        response = await client.post("/api/documents", data=make_pdf(title=title),
                                     headers={**AUTH, "Content-Type": "application/pdf"})
        ids.append((await response.json())["data"]["document_id"])
    response = await client.delete("/api/documents", headers=AUTH, params={"title": "drop"})
    assert response.status == 200, await response.text()
    assert await response.json() == {"deleted_count": 2, "skipped_count": 0,
                                     "total_matched": 2}
    statuses = [(await client.get(f"/api/documents/{i}/properties", headers=AUTH)).status
                for i in ids]
    assert statuses == [200, 404, 404]
    future = await client.delete("/api/documents", headers=AUTH,
                                 params={"start_date": "2999-01-01T00:00:00Z"})
    assert await future.json() == {"deleted_count": 0, "skipped_count": 0, "total_matched": 0}
    up_to_now = await client.delete("/api/documents", headers=AUTH, params={
        "end_date": "2999-01-01T00:00:00Z", "document_id": ids[0]})
    assert (await up_to_now.json())["deleted_count"] == 1


@pytest.mark.parametrize("params, code", [
    ({}, "missing_filter_parameters"),
    ({"title": ""}, "missing_filter_parameters"),
    ({"start_date": "yesterday"}, "invalid_start_date"),
    ({"title": "x", "end_date": "2024-13-01"}, "invalid_end_date"),
])
async def test_a_bulk_delete_without_usable_filters_is_a_400_with_its_code(client, params,
                                                                           code):
    response = await client.delete("/api/documents", headers=AUTH, params=params)
    assert response.status == 400
    error = (await response.json())["error"]
    assert error["reason"] == code and error["description"]


async def _a_document_with_a_record(client: Any) -> str:
    response = await client.post("/api/documents", data=make_pdf(),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    document_id = (await response.json())["data"]["document_id"]
    for layer in ("", "/layers/L"):
        response = await client.post(f"/api/documents/{document_id}{layer}/annotations",
                                     headers=AUTH, json={"annotations": [
                                         {"id": "a", "content": note()}]})
        assert response.status == 200
    return document_id


def _shape(body: bytes, document_id: str) -> Any:
    """What must agree between two answers: an error's words, else the keys of a body
    (revisions and times differ between twin documents)."""
    try:
        parsed = orjson.loads(body.replace(document_id.encode(), b"<id>"))
    except orjson.JSONDecodeError:
        return len(body) > 0
    if isinstance(parsed, dict):
        return parsed.get("error") or sorted(parsed)
    return type(parsed).__name__


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
async def test_every_route_answers_with_a_trailing_slash(client, route):
    """Document Engine's router ignores empty path segments: real clients send
    ``GET …/layers/``. Each route is asked the same thing on twin documents, once with a
    trailing slash, and must answer the same (no redirect)."""
    answers = []
    for slash in ("", "/"):
        document_id = await _a_document_with_a_record(client)
        path = route.path.format(document_id=document_id, layer_name="L", annotation_id="a",
                                 page_index="0", attachment_id="0" * 64,
                                 comment_id="c") + slash
        response = await client.request(route.method, path, headers=AUTH,
                                        allow_redirects=False)
        answers.append((response.status, response.content_type,
                        _shape(await response.read(), document_id)))
    assert answers[0][0] != 404 or route.path.endswith("/attachments/{attachment_id}")
    assert answers[0] == answers[1]
