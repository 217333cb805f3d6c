"""Which strings may name a new document, layer or annotation (issue 12): no control
characters, no '/' or '\\', not '.' or '..' (URLs could not address them, and replays
mangled NUL); nothing only white space and no bidirectional controls (issue 26: in an audit
trail they spoof what a reader sees); unusual but harmless Unicode is welcome."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp
import orjson
import pytest

from tests.conftest import AUTH, make_pdf, note

SPOOFING = [" ", "\u3000", "\u00a0 ", "abc\u202eed", "x\u2066y\u2069", "\u200fid", "a\u061c"]
REFUSED = ["k\u0000one", "tab\there", "a/b", "a\\b", ".", "..", "bell\u0007", "c1\u0085",
           *SPOOFING]
WELCOME = ["é 😀", "...", "a b", "L\u200dx", "%2F", "ä?#", "שלום עולם", " padded "]


@pytest.mark.parametrize("bad", REFUSED)
async def test_a_new_annotation_id_that_a_url_cannot_address_is_a_failing_path(
        client, document, bad):
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 json={"annotations": [{"id": bad, "content": note()},
                                                       {"id": "fine", "content": note()}]})
    body = await response.json()
    assert body["result"] == "partial_failure"
    [failing] = body["failing_paths"]
    assert failing["path"] == "$.annotations[0]" and "cannot be used" in failing["error"]
    single = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                               json={"id": bad, "content": note()})
    assert single.status == 422
    assert "cannot be used" in (await single.json())["error"]["reason"]


@pytest.mark.parametrize("name", WELCOME)
async def test_unusual_but_harmless_names_work_through_their_urls(client, document, name):
    layer = f"/api/documents/{document}/layers/{quote(name, safe='')}"
    response = await client.post(f"{layer}/annotations", headers=AUTH,
                                 json={"annotations": [{"id": name, "content": note()}]})
    assert (await response.json())["result"] == "success"
    response = await client.get(f"{layer}/annotations/{quote(name, safe='')}", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["id"] == name
    assert name in (await (await client.get(f"/api/documents/{document}/layers",
                                            headers=AUTH)).json())["data"]


@pytest.mark.parametrize("bad", ["L\u0000evil", "a\\b", "tab\there", " ", "L\u202eR"])
async def test_a_write_cannot_bring_a_layer_with_an_unsafe_name_into_being(
        client, document, bad):
    response = await client.post(
        f"/api/documents/{document}/layers/{quote(bad, safe='')}/annotations",
        headers=AUTH, json={"annotations": [{"content": note()}]})
    assert response.status == 400
    assert "cannot be used" in (await response.json())["error"]["reason"]
    response = await client.post(f"/api/documents/{document}/layers", headers=AUTH,
                                 json={"name": bad})
    assert response.status == 400
    layers = await (await client.get(f"/api/documents/{document}/layers", headers=AUTH)).json()
    assert layers["data"] == []


@pytest.mark.parametrize("bad", ["x\u0001y", "..", "a\\b", "bell\u0007"])
async def test_a_document_id_that_a_url_cannot_address_is_refused(client, bad):
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("document_id", bad)
    response = await client.post("/api/documents", data=form, headers=AUTH)
    assert response.status == 422
    assert "document_id" in (await response.json())["error"]["reason"]


async def test_an_import_with_an_unsafe_id_changes_nothing(client, document):
    document_json = {"format": "https://pspdfkit.com/instant-json/v1",
                     "annotations": [{**note(), "id": "ok"}, {**note(), "id": "a/b"}]}
    response = await client.post(f"/api/documents/{document}/apply_instant_json",
                                 headers=AUTH, data=orjson.dumps(document_json))
    assert response.status == 422
    [record] = (await response.json())["error"]["records"]
    assert record["path"] == "$.annotations[1]"
    listed = await client.get(f"/api/documents/{document}/annotations", headers=AUTH)
    assert (await listed.json())["data"]["annotations"] == []


async def test_ids_that_only_name_records_to_delete_need_not_follow_the_new_rules(
        client, document):
    """Records stored before the rules stay deletable: a delete by id is a lookup."""
    response = await client.delete(f"/api/documents/{document}/annotations", headers=AUTH,
                                   json={"annotationIds": ["k\u0000one", "a/b"]})
    assert response.status == 200


async def test_a_sync_create_with_an_unsafe_id_is_rejected(client, document):
    async with client.ws_connect(f"/api/documents/{document}/sync", headers=AUTH) as ws:
        await ws.send_str(orjson.dumps({"type": "changes", "changes": [
            {"op": "create", "changeId": 1, "id": "..", "content": note()}]}).decode())
        while True:
            message = orjson.loads((await ws.receive(timeout=10)).data)
            if message["type"] in ("confirmed", "rejected"):
                break
        assert message["type"] == "rejected", message
        assert message["changeId"] == 1 and "cannot be used" in message["reason"]
