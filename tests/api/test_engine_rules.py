"""A record the Web SDK engine would refuse (and with it the whole document.json of its layer)
is refused on every write path (issue 12)."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson

from projections.instant_json import FORMAT
from tests.conftest import AUTH, note

BAD = {**note(), "type": "pspdfkit/link", "action": {"type": "uri"}}  # no 'uri'
REASON = "needs 'uri'"


async def stored_ids(client, document: str, layer: str = "") -> list[str]:
    base = f"/api/documents/{document}" + (f"/layers/{layer}" if layer else "")
    body = await (await client.get(f"{base}/annotations", headers=AUTH)).json()
    return [r["id"] for r in body["data"]["annotations"]]


async def test_rest_writes_refuse_it(client, document):
    base = f"/api/documents/{document}/annotations"
    batch = await (await client.post(base, headers=AUTH, json={"annotations": [
        {"id": "bad", "content": BAD}]})).json()
    assert REASON in batch["failing_paths"][0]["error"]
    single = await client.post(base, headers=AUTH, json={"id": "bad", "content": BAD})
    assert single.status == 422 and REASON in (await single.json())["error"]["reason"]
    await client.post(base, headers=AUTH, json={"annotations": [{"id": "ok",
                                                                  "content": note()}]})
    update = await client.put(f"{base}/ok", headers=AUTH, json={"content": BAD})
    assert update.status == 422
    form = aiohttp.FormData()
    form.add_field("annotation", orjson.dumps({"annotations": [{"id": "m", "content": BAD}]}),
                   content_type="application/json", filename="annotation.json")
    multipart = await (await client.post(base, headers=AUTH, data=form)).json()
    assert REASON in multipart["failing_paths"][0]["error"]
    assert await stored_ids(client, document) == ["ok"]


async def test_imports_and_layer_creation_refuse_it(client, document):
    instant = {"format": FORMAT, "annotations": [{**note(), "id": "fine"}, {**BAD, "id": "b"}]}
    form = aiohttp.FormData()
    form.add_field("instant.json", orjson.dumps(instant), filename="instant.json",
                   content_type="application/json")
    applied = await client.post(f"/api/documents/{document}/apply_instant_json", headers=AUTH,
                                data=form)
    assert applied.status == 422
    assert REASON in (await applied.json())["error"]["records"][0]["details"]
    form = aiohttp.FormData()
    form.add_field("name", "imported")
    form.add_field("instant.json", orjson.dumps(instant), filename="instant.json",
                   content_type="application/json")
    layer = await client.post(f"/api/documents/{document}/layers", headers=AUTH, data=form)
    assert layer.status == 422
    assert await stored_ids(client, document) == []
    assert (await (await client.get(f"/api/documents/{document}/layers",
                                    headers=AUTH)).json())["data"] == []


async def test_sync_refuses_it(client, document):
    async with client.ws_connect(f"/api/documents/{document}/sync", headers=AUTH) as ws:
        await ws.send_str(orjson.dumps({"type": "changes", "changes": [
            {"op": "create", "changeId": 1, "id": "s", "content": BAD}]}).decode())
        while True:
            message = orjson.loads((await ws.receive(timeout=10)).data)
            if message["type"] in ("confirmed", "rejected"):
                break
    assert message["type"] == "rejected" and REASON in message["reason"]
    await asyncio.sleep(0)
    assert await stored_ids(client, document) == []


def highlight(**extra: object) -> dict:
    return {"v": 2, "type": "pspdfkit/markup/highlight", "pageIndex": 0, "bbox": [1, 1, 9, 9],
            "opacity": 1, "rects": [[1, 1, 9, 9]], **extra}


def rectangle() -> dict:
    return {"v": 2, "type": "pspdfkit/shape/rectangle", "pageIndex": 0, "bbox": [1, 1, 9, 9],
            "opacity": 1, "strokeWidth": 1, "isCommentThreadRoot": True}


def said(root: str, text: str = "hi") -> dict:
    return {"v": 2, "type": "pspdfkit/comment", "rootId": root, "pageIndex": 0,
            "text": {"format": "plain", "value": text}}


async def test_a_comment_of_a_root_the_engine_refuses_is_refused_on_every_path(client, document):
    """Regression (issue 26): an import could give a rectangle a thread, and the engine then
    refused the whole document ("Couldn't find root comment")."""
    base = f"/api/documents/{document}"
    imported = await client.post(f"{base}/apply_instant_json", headers=AUTH, json={
        "format": FORMAT, "annotations": [{**rectangle(), "id": "rect"}],
        "comments": [{**said("rect"), "id": "c"}]})
    assert imported.status == 422, await imported.text()
    assert "holds no comments" in await imported.text()
    assert await stored_ids(client, document) == []
    await client.post(f"{base}/annotations", headers=AUTH, json={"id": "rect",
                                                                "content": rectangle()})
    replied = await client.post(f"{base}/annotations/rect/comments", headers=AUTH,
                                json={"comments": [{"content": said("rect")}]})
    assert replied.status == 400
    exported = await (await client.get(f"{base}/document.json", headers=AUTH)).json()
    assert "comments" not in exported


async def test_a_root_with_comments_cannot_become_a_type_that_holds_none(client, document):
    base = f"/api/documents/{document}"
    created = await client.post(f"{base}/comments", headers=AUTH, json={
        "annotation": {"id": "hl", "content": highlight()},
        "comments": [{"id": "c", "content": said("hl")}]})
    assert created.status == 200, await created.text()
    for write in (
            client.put(f"{base}/annotations/hl", headers=AUTH, json={"content": rectangle()}),
            client.post(f"{base}/apply_instant_json", headers=AUTH, json={
                "format": FORMAT, "annotations": [{**rectangle(), "id": "hl"}]})):
        response = await write
        assert response.status in (400, 409, 422), await response.text()
        assert "holds comments" in await response.text()
    record = await (await client.get(f"{base}/annotations/hl", headers=AUTH)).json()
    assert record["content"]["type"] == "pspdfkit/markup/highlight"
    await client.delete(f"{base}/annotations/hl/comments/c", headers=AUTH)
    await client.post(f"{base}/annotations", headers=AUTH, json={"id": "plain",
                                                                "content": highlight()})
    changed = await client.put(f"{base}/annotations/plain", headers=AUTH,
                               json={"content": rectangle()})
    assert changed.status == 200, await changed.text()
