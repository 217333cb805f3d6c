"""Every change message names the write that caused it (issue 27): over sync, the socket
(the ``clientId`` of its hello) and the message's ``requestId``; over REST, the request's
``X-Request-Id``. A client skips its own echoes by them instead of guessing."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from tests.api.test_sync import until
from tests.conftest import AUTH, note


async def listen(client: Any, document: str) -> tuple[Any, list[dict], asyncio.Task]:
    ws = await client.ws_connect(f"/api/documents/{document}/sync", headers=AUTH)
    messages: list[dict] = []

    async def pump() -> None:
        async for message in ws:
            messages.append(orjson.loads(message.data))
    task = asyncio.create_task(pump())
    await until(lambda: any(m["type"] == "caught_up" for m in messages))
    return ws, messages, task


def hello(messages: list[dict]) -> str:
    return next(m["clientId"] for m in messages if m["type"] == "hello")


def changes(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["type"] == "change"]


async def test_a_change_over_sync_names_its_socket_and_message(client, document):
    (a, a_messages, a_task), (b, b_messages, b_task) = \
        await listen(client, document), await listen(client, document)
    await a.send_str(orjson.dumps({"type": "changes", "requestId": "mine-1", "changes": [
        {"changeId": "c1", "op": "create", "id": "x", "content": note()}]}).decode())
    await until(lambda: changes(b_messages) and changes(a_messages))
    [seen_by_b], [seen_by_a] = changes(b_messages), changes(a_messages)
    assert seen_by_b["client_id"] == seen_by_a["client_id"] == hello(a_messages)
    assert seen_by_b["request_id"] == f"sync:{hello(a_messages)}:mine-1"
    # without a requestId, each message still gets an id of its own
    await a.send_str(orjson.dumps({"type": "changes", "changes": [
        {"changeId": "c2", "op": "update", "id": "x", "content": note(text="2")}]}).decode())
    await until(lambda: len(changes(b_messages)) == 2)
    second = changes(b_messages)[1]
    assert second["client_id"] == hello(a_messages)
    assert second["request_id"] != seen_by_b["request_id"]
    await a.close()
    await b.close()
    await asyncio.gather(a_task, b_task)


async def test_a_change_over_rest_names_its_request(client, document):
    ws, messages, task = await listen(client, document)
    response = await client.post(f"/api/documents/{document}/annotations", json={
        "id": "y", "content": note()}, headers={**AUTH, "X-Request-Id": "page-7"})
    assert response.status == 200
    await until(lambda: changes(messages))
    [change] = changes(messages)
    assert change["request_id"] == "page-7" and change["client_id"] is None
    feed = await (await client.get(f"/api/documents/{document}/changes",
                                   headers=AUTH)).text()
    assert orjson.loads(feed.splitlines()[-1])["request_id"] == "page-7"
    await ws.close()
    await task
