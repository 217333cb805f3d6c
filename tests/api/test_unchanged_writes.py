"""A change that finds the record already as asked records nothing (issue 27): a client that
saves what it loaded must not fill the history with versions that changed nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import AUTH, note

BASE = "/api/documents/{}"


@pytest.fixture
async def doc(client: Any, document: str) -> tuple[Any, str]:
    base = BASE.format(document)
    response = await client.post(f"{base}/annotations", headers=AUTH, json={
        "annotations": [{"id": "a", "content": note(), "group": "g"},
                        {"id": "h", "content": {
                            "v": 2, "type": "pspdfkit/markup/highlight", "pageIndex": 0,
                            "bbox": [1, 1, 9, 9], "opacity": 1, "rects": [[1, 1, 9, 9]],
                            "color": "#FFFF00"}}]})
    assert (await response.json())["result"] == "success", await response.text()
    response = await client.post(f"{base}/annotations/h/comments", headers=AUTH, json={
        "comments": [{"id": "c", "content": {"text": {"format": "plain", "value": "hi"}}}]})
    assert response.status == 200, await response.text()
    return client, base


async def versions(client: Any, base: str, path: str) -> list[int]:
    history = await (await client.get(f"{base}/{path}/history", headers=AUTH)).json()
    return [change["version"] for change in history["data"]]


async def test_an_identical_put_records_nothing(doc):
    client, base = doc
    response = await client.put(f"{base}/annotations/a", headers=AUTH,
                                json={"content": note(), "group": "g"})
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["revision"] is None and "Annolog-Revision" not in response.headers
    assert response.headers["ETag"] == '"1"'  # the version it still is
    assert await versions(client, base, "annotations/a") == [1]


@pytest.mark.parametrize("change", [{"content": note(text="other"), "group": "g"},
                                    {"content": note(), "group": "h"},
                                    {"content": {**note(), "opacity": 1.0}, "group": "g"}])
async def test_a_put_that_changes_anything_records_a_version(doc, change):
    client, base = doc  # 1.0 is not 1 as JSON text: the engine's export would differ too
    response = await client.put(f"{base}/annotations/a", headers=AUTH, json=change)
    assert response.status == 200, await response.text()
    assert response.headers["ETag"] == '"2"'
    assert await versions(client, base, "annotations/a") == [1, 2]


async def test_an_identical_batch_update_records_nothing(doc):
    client, base = doc
    response = await client.put(f"{base}/annotations", headers=AUTH, json={
        "annotations": [{"id": "a", "content": note(), "group": "g"}]})
    assert (await response.json())["result"] == "success", await response.text()
    assert await versions(client, base, "annotations/a") == [1]


async def test_an_identical_comment_edit_records_nothing(doc):
    client, base = doc
    path = "annotations/h/comments/c"
    before = await versions(client, base, path)
    response = await client.put(f"{base}/{path}", headers=AUTH,
                                json={"content": {"text": {"format": "plain", "value": "hi"}}})
    assert response.status == 200, await response.text()
    assert await versions(client, base, path) == before
    response = await client.put(f"{base}/{path}", headers=AUTH,
                                json={"content": {"text": {"format": "plain", "value": "ho"}}})
    assert response.status == 200
    assert len(await versions(client, base, path)) == len(before) + 1
