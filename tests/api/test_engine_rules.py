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
