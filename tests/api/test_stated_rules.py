"""What the OpenAPI document states, the server does (issue 26, section 8): misspelt query
parameters and form parts are refused rather than ignored, a present-but-empty value is
malformed rather than absent, JSON's one number type reads 2.0 as 2, and If-Match takes *."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from tests.conftest import AUTH, make_pdf, note

BASE = "/api/documents/doc"


@pytest.fixture
async def doc(client: Any) -> Any:
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(3), filename="a.pdf", content_type="application/pdf")
    form.add_field("document_id", "doc")
    response = await client.post("/api/documents", data=form, headers=AUTH)
    assert response.status == 200, await response.text()
    response = await client.post(f"{BASE}/annotations", headers=AUTH,
                                 json={"id": "a", "content": note()})
    assert response.status == 200, await response.text()
    return client


async def reason(response: Any) -> str:
    return str((await response.json())["error"]["reason"])


@pytest.mark.parametrize("path", [f"{BASE}/document.json?revison=1",
                                  f"{BASE}/annotations?page=2", "/healthcheck?x=1"])
async def test_an_unknown_query_parameter_is_refused(doc, path):
    response = await doc.get(path, headers=AUTH)
    assert response.status == 400
    assert "unknown query parameter" in await reason(response)


async def test_the_parameters_every_route_takes_stay_welcome(doc):
    response = await doc.get(f"{BASE}/annotations?min_revision=1", headers=AUTH)
    assert response.status == 200, await response.text()


@pytest.mark.parametrize("query", ["revision=", "at=", "annotation_version=3",
                                   "revision=1&at=2026-01-01T00:00:00Z"])
async def test_a_state_asked_for_badly_is_400(doc, query):
    response = await doc.get(f"{BASE}/document.json?{query}", headers=AUTH)
    assert response.status == 400, await response.text()


@pytest.mark.parametrize("query", ["width=&height=5", "width=5&height=5", ""])
async def test_a_cover_is_one_side(doc, query):
    response = await doc.get(f"/documents/doc/cover?{query}", headers=AUTH)
    assert response.status == 400


async def test_a_bulk_delete_with_an_empty_date_deletes_nothing(doc):
    response = await doc.delete("/api/documents?title=Test%20PDF&start_date=", headers=AUTH)
    assert response.status == 400
    assert (await doc.get(f"{BASE}/properties", headers=AUTH)).status == 200


@pytest.mark.parametrize("body, status", [
    ({"flaten": True}, 400), ({"flatten": "true"}, 400), ({"revision": True}, 400),
    ({"revision": 1.0}, 200), ({"source": True, "flatten": False}, 400),
    ({"source": True}, 200)])
async def test_posted_pdf_options_are_checked_by_name_and_type(doc, body, status):
    response = await doc.post(f"{BASE}/pdf", headers=AUTH, json=body)
    assert response.status == status, await response.text()


async def test_source_in_the_query_is_true_or_false(doc):
    assert (await doc.get(f"{BASE}/pdf?source=null", headers=AUTH)).status == 400
    assert (await doc.get(f"{BASE}/pdf?source=false", headers=AUTH)).status == 200


async def test_a_whole_number_may_be_written_with_a_point(doc):
    response = await doc.post(f"{BASE}/restore", headers=AUTH, json={"revision": 2.0})
    assert response.status == 200, await response.text()
    response = await doc.post(f"{BASE}/restore", headers=AUTH, json={"revision": 2.5})
    assert response.status == 400


@pytest.mark.parametrize("header, status", [("*", 200), ('"1"', 200), ('W/"1"', 200),
                                            ("*x", 400), ('"1", "2"', 400), ('"9"', 412)])
async def test_if_match_names_one_version_or_any(doc, header, status):
    response = await doc.put(f"{BASE}/annotations/a", headers={**AUTH, "If-Match": header},
                             json={"content": note(text="changed")})
    assert response.status == status, await response.text()


def upload(*fields: tuple[str, str]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(1), filename="a.pdf", content_type="application/pdf")
    for name, value in fields:
        form.add_field(name, value)
    return form


@pytest.mark.parametrize("fields, words", [
    ((("documnet_id", "x"),), "unexpected part 'documnet_id'"),
    ((("document_id", ""),), "'document_id' must be"),
    ((("overwrite_existing_document", "maybe"),), "must be true or false"),
    ((("keep_current_annotations", "maybe"),), "must be true or false"),
    ((("attachment", "null"),), "must be an Instant JSON or an XFDF")])
async def test_an_upload_names_only_its_parts(doc, fields, words):
    response = await doc.post("/api/documents", data=upload(*fields), headers=AUTH)
    assert response.status == 422
    assert words in await reason(response)
    listed = await (await doc.get("/api/documents", headers=AUTH)).json()
    assert listed["document_count"] == 1  # nothing was stored


async def test_a_layer_form_names_only_its_parts(doc):
    form = aiohttp.FormData(default_to_multipart=True)
    form.add_field("name", "new")
    form.add_field("source_layer", "x")
    response = await doc.post(f"{BASE}/layers", data=form, headers=AUTH)
    assert response.status == 422
    assert "unexpected part 'source_layer'" in await reason(response)


async def test_a_layer_made_twice_with_instant_json_is_409(doc):
    def form() -> aiohttp.FormData:
        data = aiohttp.FormData(default_to_multipart=True)
        data.add_field("name", "twice")
        data.add_field("instant.json", '{"format": "https://pspdfkit.com/instant-json/v1"}',
                       content_type="application/json")
        return data
    assert (await doc.post(f"{BASE}/layers", data=form(), headers=AUTH)).status == 200
    response = await doc.post(f"{BASE}/layers", data=form(), headers=AUTH)
    assert response.status == 409
    assert "already exists" in await reason(response)


async def test_section_numbers_written_with_a_point_are_stored_whole(doc):
    response = await doc.post(f"{BASE}/apply_instant_json", headers=AUTH, json={
        "format": "https://pspdfkit.com/instant-json/v1",
        "formFieldValues": [{"v": 1, "type": "pspdfkit/form-field-value", "name": "f",
                             "value": "x", "optionIndexes": [2.0]}],
        "annotations": [{"id": "h", "v": 2, "type": "pspdfkit/markup/highlight",
                         "pageIndex": 1, "bbox": [1, 1, 9, 9], "opacity": 1,
                         "rects": [[1, 1, 9, 9]], "color": "#ffff00"}],
        "comments": [{"v": 2, "type": "pspdfkit/comment", "rootId": "h", "pageIndex": 1.0,
                      "text": {"format": "plain", "value": "hi"}}]})
    assert response.status == 200, await response.text()
    exported = await (await doc.get(f"{BASE}/document.json", headers=AUTH)).json()
    assert exported["formFieldValues"][0]["optionIndexes"] == [2]
    assert type(exported["comments"][0]["pageIndex"]) is int
    response = await doc.post(f"{BASE}/apply_instant_json", headers=AUTH, json={
        "format": "https://pspdfkit.com/instant-json/v1",
        "formFieldValues": [{"v": 1, "type": "pspdfkit/form-field-value", "name": "g",
                             "value": "x", "optionIndexes": [1e20]}]})
    assert response.status == 422
