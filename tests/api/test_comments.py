"""Comment threads (issue 17, items 4 and 5): the routes, their rules and errors, one store
with Instant JSON, per-comment history, deletion rules, concurrent posts, and the
``comments`` permissions wherever comments appear."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import orjson
import pytest

from tests.api.test_jwt import DOC, bearer, seed
from tests.api.test_jwt import client as jwt_client  # noqa: F401  (a fixture)
from tests.conftest import AUTH, note

BASE = f"/api/documents/{DOC}"


def highlight(page: int = 0, **extra: Any) -> dict[str, Any]:
    return {"v": 2, "type": "pspdfkit/markup/highlight", "pageIndex": page,
            "bbox": [10, 10, 100, 20], "opacity": 1, "rects": [[10, 10, 100, 20]],
            "color": "#ffff00", **extra}


def marker(page: int = 0) -> dict[str, Any]:
    return {"v": 2, "type": "pspdfkit/comment-marker", "pageIndex": page,
            "bbox": [50, 50, 20, 20], "opacity": 1}


def said(text: str, **extra: Any) -> dict[str, Any]:
    return {"content": {"text": {"format": "plain", "value": text}}, **extra}


@pytest.fixture
async def client(jwt_client: Any) -> Any:  # noqa: F811
    """The JWT-enabled server of test_jwt, with a highlight 'hl' by alice, a note 'nt' and
    a comment marker 'mk' by bob."""
    await seed(jwt_client, [
        {"id": "hl", "user_id": "alice", "content": highlight()},
        {"id": "nt", "content": note()},
        {"id": "mk", "user_id": "bob", "content": marker(1)}])
    return jwt_client


async def post(client: Any, root: str, comments: list[dict], headers: dict = AUTH,
               layer: str = "") -> Any:
    return await client.post(f"{BASE}{layer}/annotations/{root}/comments", headers=headers,
                             json={"comments": comments})


async def thread(client: Any, root: str, headers: dict = AUTH, layer: str = "") -> Any:
    response = await client.get(f"{BASE}{layer}/annotations/{root}/comments", headers=headers)
    assert response.status == 200, await response.text()
    return (await response.json())["data"]["comments"]


async def exported(client: Any, headers: dict = AUTH, query: str = "") -> dict[str, Any]:
    response = await client.get(f"{BASE}/document.json{query}", headers=headers)
    assert response.status == 200, await response.text()
    return await response.json()


async def test_a_thread_is_posted_listed_and_exported(client):
    response = await post(client, "hl", [said("first", id="c1", user_id="carol"),
                                         said("second", group="team")])
    assert response.status == 200, await response.text()
    body = await response.json()
    ids = [c["id"] for c in body["data"]["comments"]]
    assert ids[0] == "c1" and len(ids) == 2 and body["revision"] > 0
    found = await thread(client, "hl")
    assert [c["id"] for c in found] == ids
    first = found[0]
    assert first["createdBy"] == "carol" and first["updatedBy"] == "carol"
    assert first["content"]["text"] == {"format": "plain", "value": "first"}
    assert first["content"]["rootId"] == "hl" and first["content"]["pageIndex"] == 0
    assert first["content"]["type"] == "pspdfkit/comment" and first["content"]["createdAt"]
    assert found[1]["group"] == "team"
    comments = (await exported(client))["comments"]
    assert [(c["id"], c["rootId"], c["text"]["value"]) for c in comments] == [
        ("c1", "hl", "first"), (ids[1], "hl", "second")]


async def test_routes_and_imports_share_one_store(client):
    form = aiohttp.FormData()
    form.add_field("instant.json", orjson.dumps({
        "format": "https://pspdfkit.com/instant-json/v1",
        "comments": [{"v": 2, "type": "pspdfkit/comment", "id": "imported", "rootId": "hl",
                      "text": {"format": "xhtml", "value": "<p>hi</p>"}}]}),
        filename="instant.json", content_type="application/json")
    response = await client.post(f"{BASE}/apply_instant_json", headers=AUTH, data=form)
    assert response.status == 200, await response.text()
    assert [c["id"] for c in await thread(client, "hl")] == ["imported"]
    assert (await post(client, "hl", [said("again", id="imported")])).status == 409
    await post(client, "hl", [said("reply", id="r")])
    assert {c["id"] for c in (await exported(client))["comments"]} == {"imported", "r"}


async def test_the_roots_and_bodies_the_engine_refuses(client):
    response = await post(client, "nt", [said("on a note")])
    assert response.status == 400
    assert "markup annotation" in (await response.json())["error"]["reason"]
    assert (await client.get(f"{BASE}/annotations/nt/comments", headers=AUTH)).status == 400
    assert (await post(client, "nope", [said("x")])).status == 404
    response = await post(client, "hl", [said("fine"), {"id": "no-content"},
                                         {"content": {"text": {"format": "rtf"}}}])
    assert response.status == 422
    body = await response.json()
    assert body["comments"][0] == {} and body["comments"][1] == {"content": ["is required"]}
    assert "'text' must be" in body["comments"][2]["content"][0]
    assert await thread(client, "hl") == []  # all or nothing
    response = await client.post(f"{BASE}/annotations/hl/comments", headers=AUTH,
                                 json={"comments": []})
    assert response.status == 422


async def test_a_root_and_its_first_comments_in_one_write(client):
    response = await client.post(f"{BASE}/comments", headers=AUTH, json={
        "annotation": {"id": "m2", "content": marker()},
        "comments": [said("opening", id="o1"), said("more")]})
    assert response.status == 200, await response.text()
    data = (await response.json())["data"]
    assert data["annotation"] == {"id": "m2"} and data["comments"][0] == {"id": "o1"}
    assert len(await thread(client, "m2")) == 2
    response = await client.post(f"{BASE}/comments", headers=AUTH,
                                 json={"comments": [said("orphan")]})
    assert response.status == 422
    assert await response.json() == {"annotation": {"content": ["is required"]}}
    response = await client.post(f"{BASE}/comments", headers=AUTH, json={
        "annotation": {"content": marker()}, "comments": [{"content": {}}]})
    assert response.status == 422
    assert "'text' must be" in (await response.json())["comments"][0]["content"][0]
    response = await client.post(f"{BASE}/comments", headers=AUTH, json={
        "annotation": {"content": note()}, "comments": [said("x")]})
    assert response.status == 400
    response = await client.post(f"{BASE}/comments", headers=AUTH, json={
        "annotation": {"id": "hl", "content": marker()}, "comments": [said("x")]})
    assert response.status == 409  # the root id is taken: nothing is written
    assert [c["id"] for c in await thread(client, "hl")] == []


async def test_deleting_a_root_deletes_its_thread(client):
    await post(client, "hl", [said("a", id="a"), said("b", id="b")])
    assert (await client.delete(f"{BASE}/annotations/hl", headers=AUTH)).status == 200
    assert "comments" not in await exported(client)
    history = await client.get(f"{BASE}/annotations/hl/comments/a/history", headers=AUTH)
    assert history.status == 404  # the root is gone
    restored = await client.post(f"{BASE}/annotations/hl/restore", headers=AUTH)
    assert restored.status == 200
    assert await thread(client, "hl") == []  # the thread went with it, for good


async def test_the_last_comment_of_a_marker_takes_the_marker(client):
    await post(client, "mk", [said("a", id="a"), said("b", id="b")])
    await post(client, "hl", [said("h", id="h")])
    url = f"{BASE}/annotations/mk/comments"
    assert (await client.delete(f"{url}/a", headers=AUTH)).status == 200
    assert (await client.get(f"{BASE}/annotations/mk", headers=AUTH)).status == 200
    assert (await client.delete(f"{url}/b", headers=AUTH)).status == 200
    assert (await client.get(f"{BASE}/annotations/mk", headers=AUTH)).status == 404
    # a highlight holds its place without comments
    assert (await client.delete(f"{BASE}/annotations/hl/comments/h", headers=AUTH)
            ).status == 200
    assert (await client.get(f"{BASE}/annotations/hl", headers=AUTH)).status == 200
    assert (await client.delete(f"{BASE}/annotations/hl/comments/h", headers=AUTH)
            ).status == 404


async def test_each_comment_has_a_history(client):
    await post(client, "hl", [said("v1", id="c", user_id="carol")])
    url = f"{BASE}/annotations/hl/comments/c"
    response = await client.put(url, headers=AUTH, json={
        "content": {"text": {"format": "plain", "value": "v2"}}, "user_id": "dave"})
    assert response.status == 200, await response.text()
    written = (await response.json())["data"]
    assert written["createdBy"] == "carol" and written["updatedBy"] == "dave"
    assert (await client.delete(url, headers=AUTH)).status == 200
    # the history outlives the comment, as an annotation's does; read it through the
    # thread's root, which is still there
    history = await (await client.get(f"{url}/history", headers=AUTH)).json()
    assert [(c["kind"], c["user_id"]) for c in history["data"]] == [
        ("created", "carol"), ("updated", "dave"), ("deleted", None)]
    first, second = (c["record"]["content"] for c in history["data"][:2])
    assert first["text"]["value"] == "v1" and second["text"]["value"] == "v2"
    assert second["createdAt"] == first["createdAt"]  # an update keeps when it was made
    assert (await client.get(f"{BASE}/annotations/mk/comments/c/history", headers=AUTH)
            ).status == 404  # another thread's comment is unknown here


async def test_exports_at_a_revision_show_the_comments_then(client):
    first = (await (await post(client, "hl", [said("early", id="e")])).json())["revision"]
    await client.put(f"{BASE}/annotations/hl/comments/e", headers=AUTH,
                     json={"content": {"text": {"format": "plain", "value": "late"}}})
    then = await exported(client, query=f"?revision={first}")
    assert then["comments"][0]["text"]["value"] == "early"
    assert (await exported(client))["comments"][0]["text"]["value"] == "late"
    restore = await client.post(f"{BASE}/restore", headers=AUTH, json={"revision": first})
    assert restore.status == 200, await restore.text()
    assert (await thread(client, "hl"))[0]["content"]["text"]["value"] == "early"


async def test_layers_have_their_own_threads_and_copies_carry_them(client):
    await seed(client, [{"id": "hl", "content": highlight()}], layer="review")
    review = "/layers/review"
    assert (await post(client, "hl", [said("in review", id="x")], layer=review)).status == 200
    assert await thread(client, "hl") == []
    assert [c["id"] for c in await thread(client, "hl", layer=review)] == ["x"]
    response = await client.post(f"{BASE}/layers", headers=AUTH,
                                 json={"name": "copy", "source_layer_name": "review"})
    assert response.status == 200, await response.text()
    assert [c["id"] for c in await thread(client, "hl", layer="/layers/copy")] == ["x"]
    response = await client.post("/api/copy_document", headers=AUTH,
                                 json={"document_id": DOC, "new_document_id": "twin"})
    assert response.status == 200, await response.text()
    copied = await client.get(f"/api/documents/twin{review}/annotations/hl/comments",
                              headers=AUTH)
    assert [c["id"] for c in (await copied.json())["data"]["comments"]] == ["x"]


async def test_two_posts_to_one_thread_at_once_both_land(client):
    results = await asyncio.gather(*(post(client, "hl", [said(f"n{i}", id=f"n{i}")])
                                     for i in range(20)))
    assert [r.status for r in results] == [200] * 20
    assert {c["id"] for c in await thread(client, "hl")} == {f"n{i}" for i in range(20)}


# ---- comments permissions ------------------------------------------------------------------

VIEW_ALL = ["annotations:view:all", "comments:view:all"]


async def test_a_self_viewer_sees_only_its_own_comments_everywhere(client):
    await post(client, "hl", [said("alice's", id="a", user_id="alice"),
                              said("bob's", id="b", user_id="bob")])
    alice = bearer(user_id="alice",
                   collaboration_permissions=["annotations:view:all", "comments:view:self"])
    assert [c["id"] for c in await thread(client, "hl", alice)] == ["a"]
    assert [c["id"] for c in (await exported(client, alice))["comments"]] == ["a"]
    hidden = await client.get(f"{BASE}/annotations/hl/comments/b/history", headers=alice)
    assert hidden.status == 404
    pdf = await client.get(f"{BASE}/pdf?comments=true", headers=alice)
    assert pdf.status == 200
    text = await pdf.read()
    assert b"alice's" in text and b"bob's" not in text
    nobody = bearer(user_id="alice", collaboration_permissions=["annotations:view:all"])
    assert await thread(client, "hl", nobody) == []
    assert "comments" not in await exported(client, nobody)


async def test_edit_delete_and_reply_follow_the_grants(client):
    await post(client, "hl", [said("alice's", id="a", user_id="alice"),
                              said("bob's", id="b", user_id="bob")])
    alice = bearer(user_id="alice", collaboration_permissions=[
        *VIEW_ALL, "comments:edit:self", "comments:delete:self"])
    url = f"{BASE}/annotations/hl/comments"
    change = {"content": {"text": {"format": "plain", "value": "changed"}}}
    assert (await client.put(f"{url}/a", headers=alice, json=change)).status == 200
    assert (await client.put(f"{url}/b", headers=alice, json=change)).status == 403
    assert (await client.delete(f"{url}/b", headers=alice)).status == 403
    assert (await post(client, "hl", [said("no reply grant")], alice)).status == 403
    flags = {c["id"]: (c["isEditable"], c["isDeletable"])
             for c in await thread(client, "hl", alice)}
    assert flags == {"a": (True, True), "b": (False, False)}
    replier = bearer(user_id="carol", collaboration_permissions=[
        *VIEW_ALL, "comments:reply:all"])
    response = await post(client, "hl", [said("carol's", id="c")], replier)
    assert response.status == 200, await response.text()
    assert (await thread(client, "hl"))[-1]["createdBy"] == "carol"
    claimed = await post(client, "hl", [said("as bob", user_id="bob")], replier)
    assert claimed.status == 422 and "user_id" in (await claimed.json())["comments"][0]
    annotation = await (await client.get(f"{BASE}/annotations/hl", headers=replier)).json()
    assert annotation["canReply"] is True
    assert (await client.delete(f"{url}/a", headers=alice)).status == 200


async def test_a_reply_to_an_unseen_root_is_a_404(client):
    others = bearer(user_id="eve", collaboration_permissions=[
        "annotations:view:self", "comments:view:all", "comments:reply:all"])
    assert (await post(client, "hl", [said("x")], others)).status == 404
    assert (await client.get(f"{BASE}/annotations/hl/comments", headers=others)).status == 404


async def test_form_field_permissions_filter_exports(client):
    form = aiohttp.FormData()
    form.add_field("instant.json", orjson.dumps({
        "format": "https://pspdfkit.com/instant-json/v1",
        "formFieldValues": [{"v": 1, "type": "pspdfkit/form-field-value", "name": "f",
                             "value": "x"}]}),
        filename="instant.json", content_type="application/json")
    response = await client.post(f"{BASE}/apply_instant_json", headers=AUTH, data=form)
    assert response.status == 200, await response.text()
    without = bearer(user_id="alice", collaboration_permissions=VIEW_ALL)
    assert "formFieldValues" not in await exported(client, without)
    allowed = bearer(user_id="alice",
                     collaboration_permissions=[*VIEW_ALL, "form-fields:view:all"])
    assert (await exported(client, allowed))["formFieldValues"][0]["name"] == "f"
    assert (await exported(client, bearer()))["formFieldValues"]  # no collaboration: all


async def test_the_change_feed_and_sync_carry_comments_a_caller_may_view(client):
    alice = bearer(user_id="alice",
                   collaboration_permissions=["annotations:view:all", "comments:view:self"])
    ws = await client.ws_connect(f"{BASE}/sync?revision=0", headers=alice)
    frames: list[dict] = []

    async def pump() -> None:
        async for message in ws:
            frames.append(orjson.loads(message.data))
    task = asyncio.create_task(pump())
    try:
        await post(client, "hl", [said("bob's", id="b", user_id="bob"),
                                  said("alice's", id="a", user_id="alice")])
        deadline = asyncio.get_running_loop().time() + 10
        while not any(f.get("id") == "a" for f in frames):
            assert asyncio.get_running_loop().time() < deadline, frames
            await asyncio.sleep(0.01)
        changes = [f for f in frames if f["type"] == "change"]
        assert [(c["id"], c.get("of")) for c in changes] == [
            ("hl", None), ("nt", None), ("mk", None), ("a", "comment")]  # never bob's
    finally:
        await ws.close()
        task.cancel()
    feed = await client.get(f"{BASE}/changes?since=0", headers=alice)
    lines = [orjson.loads(line) for line in (await feed.read()).splitlines()]
    assert [(c["id"], c.get("of")) for c in lines][-1:] == [("a", "comment")]
    everything = await client.get(f"{BASE}/changes?since=0", headers=AUTH)
    ids = [orjson.loads(line)["id"] for line in (await everything.read()).splitlines()]
    assert ids[-2:] == ["b", "a"]


async def test_a_comment_group_needs_set_group(client):
    await post(client, "hl", [said("alice's", id="a", user_id="alice")])
    plain = bearer(user_id="alice", collaboration_permissions=[
        *VIEW_ALL, "comments:reply:all", "comments:edit:self"])
    refused = await post(client, "hl", [said("in team", group="team")], plain)
    assert refused.status == 422
    assert "group 'team'" in (await refused.json())["comments"][0]["group"][0]
    url = f"{BASE}/annotations/hl/comments/a"
    moved = {**said("moved"), "group": "team"}
    assert (await client.put(url, headers=plain, json=moved)).status == 403
    grouper = bearer(user_id="alice", collaboration_permissions=[
        *VIEW_ALL, "comments:reply:all", "comments:edit:self",
        "comments:set-group:group=team"])
    assert (await post(client, "hl", [said("in team", group="team")], grouper)).status == 200
    response = await client.put(url, headers=grouper, json=moved)
    assert response.status == 200, await response.text()
    assert (await response.json())["data"]["group"] == "team"


# ---- hostile input ---------------------------------------------------------------------------

async def test_hostile_comment_bodies_are_clear_4xx_and_store_nothing(client):
    url = f"{BASE}/annotations/hl/comments"
    for body, status in [({"comments": "not a list"}, 422), ({"comments": [{}] * 1001}, 413),
                         ({"comments": [said("x", id="a/b")]}, 422),
                         ({"comments": [said("x", user_id=7)]}, 422),
                         ({"comments": [{"content": {"text": {"format": "plain",
                                                             "value": 7}}}]}, 422),
                         ({"comments": [{"content": {"rootId": "nt", **said("x")[
                             "content"]}}]}, 422),
                         ([1, 2], 422)]:
        response = await client.post(url, headers=AUTH, json=body)
        assert response.status == status, (body if len(str(body)) < 200 else "…", status)
    nested = b'{"comments": [' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"]}"
    response = await client.post(url, data=nested,
                                 headers={**AUTH, "Content-Type": "application/json"})
    assert response.status in (400, 413, 422)
    assert await thread(client, "hl") == []
    other = bearer(document_id="another", user_id="eve")
    assert (await post(client, "hl", [said("x")], other)).status == 403
