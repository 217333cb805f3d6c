"""The seed's annotation API through a real app on temp-dir SQLite files."""

from __future__ import annotations

import asyncio
import io
from typing import Any

import orjson
import pytest

from tests.conftest import AUTH, note

BASES = ["/api/documents/{doc}", "/api/documents/{doc}/layers/my-layer"]


async def create(client: Any, base: str, items: list[dict], **headers: str) -> Any:
    response = await client.post(f"{base}/annotations", json={"annotations": items},
                                 headers={**AUTH, **headers})
    assert response.status == 200, await response.text()
    return await response.json()


async def ndjson(client: Any, url: str) -> list[dict]:
    response = await client.get(url, headers={**AUTH, "Accept": "application/x-ndjson"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in (await response.read()).splitlines() if line]


@pytest.mark.parametrize("base", BASES)
async def test_create_returns_the_seed_envelope_and_the_revision(client, document, base):
    base = base.format(doc=document)
    body = await create(client, base, [
        {"id": "01BS98XZSCFV5QARF948FZWNG5", "group": "notes", "user_id": "alice",
         "content": note()},
    ])
    assert body["result"] == "success"
    assert body["status"] == 200
    assert body["failing_paths"] == []
    assert body["details"] == "All the provided annotations were successfully created."
    assert body["request_id"]
    assert body["revision"] >= 2
    assert body["data"] == [{"id": "01BS98XZSCFV5QARF948FZWNG5", "content": note(),
                             "createdBy": "alice", "updatedBy": "alice", "group": "notes"}]


async def test_a_write_is_visible_to_the_next_read(client, document):
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": "a", "content": note()}])
    response = await client.get(f"{base}/annotations/a", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["id"] == "a"


async def test_ids_default_to_ulids_and_user_and_group_to_null(client, document):
    body = await create(client, f"/api/documents/{document}", [{"content": note()}])
    record = body["data"][0]
    assert len(record["id"]) == 26
    assert record["createdBy"] is None and record["group"] is None


async def test_bad_items_become_failing_paths_and_good_ones_are_saved(client, document):
    base = f"/api/documents/{document}"
    body = await create(client, base, [
        {"id": "good", "content": note()},
        {"id": "bad", "content": {**note(), "opacity": "3"}},
        {"id": "good", "content": note()},
        "not an object",
        {"id": "far", "content": note(page=2)},
    ])
    assert body["result"] == "partial_failure"
    assert [f["path"] for f in body["failing_paths"]] == [
        "$.annotations[1]", "$.annotations[2]", "$.annotations[3]", "$.annotations[4]"]
    reasons = [f["details"] for f in body["failing_paths"]]
    assert "'opacity' must be a finite number" in reasons[0]
    assert "more than once" in reasons[1]
    assert "outside the document, which has 2 pages" in reasons[3]
    assert [r["id"] for r in body["data"]] == ["good"]
    assert (await client.get(f"{base}/annotations/bad", headers=AUTH)).status == 404


async def test_creating_an_existing_id_is_a_failing_path(client, document):
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": "x", "content": note()}])
    body = await create(client, base, [{"id": "x", "content": note(text="again")}])
    assert body["result"] == "failure"
    assert body["data"] == []
    assert "already exists" in body["failing_paths"][0]["details"]


async def test_the_same_id_may_live_in_two_layers(client, document):
    await create(client, f"/api/documents/{document}", [{"id": "x", "content": note()}])
    body = await create(client, f"/api/documents/{document}/layers/other",
                        [{"id": "x", "content": note(text="other")}])
    assert body["result"] == "success"


async def test_batch_update_changes_content_group_and_updated_by(client, document):
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": "x", "user_id": "alice", "group": "g",
                                 "content": note()}])
    response = await client.put(f"{base}/annotations", headers=AUTH, json={"annotations": [
        {"id": "x", "user_id": "bob", "content": note(text="changed")},
        {"id": "missing", "content": note()},
        {"content": note()},
    ]})
    body = await response.json()
    assert body["result"] == "partial_failure"
    assert body["details"] == "Some of the provided annotations could not be updated."
    assert body["data"][0] == {"id": "x", "content": note(text="changed"), "createdBy": "alice",
                               "updatedBy": "bob", "group": "g"}
    assert "no annotation with id 'missing'" in body["failing_paths"][0]["details"]
    assert "'id' is required" in body["failing_paths"][1]["details"]


async def test_update_can_set_the_group_to_null(client, document):
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": "x", "group": "g", "content": note()}])
    await client.put(f"{base}/annotations", headers=AUTH,
                     json={"annotations": [{"id": "x", "group": None, "content": note()}]})
    record = await (await client.get(f"{base}/annotations/x", headers=AUTH)).json()
    assert record["group"] is None


@pytest.mark.parametrize("base", BASES)
async def test_single_update_and_delete(client, document, base):
    base = base.format(doc=document)
    await create(client, base, [{"id": "x", "content": note()}])
    response = await client.put(f"{base}/annotations/x", headers=AUTH,
                                json={"content": note(text="new"), "user_id": "carol"})
    assert response.status == 200
    assert int(response.headers["Annolog-Revision"]) > 0
    assert (await response.json())["data"]["updatedBy"] == "carol"
    response = await client.delete(f"{base}/annotations/x", headers=AUTH)
    assert response.status == 200
    assert await response.read() == b""
    assert (await client.get(f"{base}/annotations/x", headers=AUTH)).status == 404
    assert (await client.delete(f"{base}/annotations/x", headers=AUTH)).status == 404
    response = await client.put(f"{base}/annotations/x", headers=AUTH, json={"content": note()})
    assert response.status == 404


async def test_single_update_refuses_a_mismatched_id_and_bad_content(client, document):
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": "x", "content": note()}])
    response = await client.put(f"{base}/annotations/x", headers=AUTH,
                                json={"id": "y", "content": note()})
    assert response.status == 422
    assert "does not match" in (await response.json())["error"]["reason"]
    response = await client.put(f"{base}/annotations/x", headers=AUTH,
                                json={"content": {**note(), "v": 3}})
    assert (await response.json()) == {"error": {"reason": "'v' must be 1 or 2"}}


async def test_single_create_answers_with_the_annotation_id(client, document):
    base = f"/api/documents/{document}"
    response = await client.post(f"{base}/annotations", headers=AUTH,
                                 json={"id": "one", "content": note()})
    assert (await response.json())["data"] == {"annotation_id": "one"}
    response = await client.post(f"{base}/annotations", headers=AUTH,
                                 json={"id": "one", "content": note()})
    assert response.status == 409
    response = await client.post(f"{base}/annotations", headers=AUTH,
                                 json={"content": {"type": "pspdfkit/nope"}})
    assert response.status == 422


async def test_delete_by_ids_and_all_leaves_other_layers_untouched(client, document):
    base = f"/api/documents/{document}"
    layer = f"{base}/layers/keep"
    await create(client, base, [{"id": str(i), "content": note()} for i in range(5)])
    await create(client, layer, [{"id": "0", "content": note()}])
    response = await client.delete(f"{base}/annotations", headers=AUTH,
                                   data=b'{"annotationIds": ["0", "1", "unknown"]}')
    assert response.status == 200 and await response.read() == b""
    assert [r["id"] for r in await ndjson(client, f"{base}/annotations")] == ["2", "3", "4"]
    response = await client.delete(f"{base}/annotations", headers=AUTH,
                                   data=b'{"annotation_ids": "all"}')
    assert response.status == 200
    assert await ndjson(client, f"{base}/annotations") == []
    assert [r["id"] for r in await ndjson(client, f"{layer}/annotations")] == ["0"]


@pytest.mark.parametrize("body, reason", [
    (b"", "empty"),
    (b"{", "not valid JSON"),
    (b"[]", "must be a JSON object"),
    (b'{"annotationIds": []}', "non-empty list"),
    (b'{"annotationIds": [1]}', "not a non-empty string id"),
])
async def test_malformed_deletes_are_422(client, document, body, reason):
    response = await client.delete(f"/api/documents/{document}/annotations", headers=AUTH,
                                   data=body)
    assert response.status == 422
    assert reason in (await response.json())["error"]["reason"]


@pytest.mark.parametrize("body, reason", [
    (b"{not json at all", "not valid JSON"),
    (b'{"annotations": {}}', "'annotations' must be a list"),
    (b'{"annotations": []}', "is empty"),
    (b'{"something": 1}', 'must be {"annotations": [...]}'),
    (b'{"annotations": [{"content": {"v": 2}}], "x": NaN}', "NaN"),
])
async def test_malformed_creates_are_422(client, document, body, reason):
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=body)
    assert response.status == 422
    assert reason in (await response.json())["error"]["reason"]


async def test_too_many_items_is_413(client, document):
    items = [{"content": note()}] * 20_001
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=io.BytesIO(orjson.dumps({"annotations": items})))
    assert response.status == 413


async def test_json_list_is_capped_at_1000_and_ndjson_streams_all(client, document):
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": f"{i:05}", "content": note(page=i % 2)}
                                for i in range(1001)])
    body = await (await client.get(f"{base}/annotations", headers=AUTH)).json()
    assert len(body["data"]["annotations"]) == 1000
    assert body["data"]["truncated"] is True
    records = await ndjson(client, f"{base}/annotations")
    assert [r["id"] for r in records] == [f"{i:05}" for i in range(1001)]
    page_one = await ndjson(client, f"{base}/pages/1/annotations")
    assert len(page_one) == 500 and all(r["content"]["pageIndex"] == 1 for r in page_one)


async def test_a_bulk_of_several_megabytes_is_stored_whole(client, document):
    # One transaction of about 6 MB of events: psycopg's pipeline once stalled on such a
    # batch and the request never came back.
    base = f"/api/documents/{document}"
    items = [{"id": f"big{i:04}", "content": note(text=f"{i:04}" + "x" * 2_000)}
             for i in range(2_500)]
    async with asyncio.timeout(120):
        response = await client.post(f"{base}/annotations", headers=AUTH,
                                     data=io.BytesIO(orjson.dumps({"annotations": items})))
        assert response.status == 200, await response.text()
        created = await response.json()
    assert created["result"] == "success" and len(created["data"]) == 2_500
    records = await ndjson(client, f"{base}/annotations")
    assert [r["content"]["text"]["value"][:4] for r in records] == [f"{i:04}" for i in
                                                                    range(2_500)]


async def test_json_list_of_a_small_layer_is_not_truncated(client, document):
    await create(client, f"/api/documents/{document}/layers/l", [{"content": note()}])
    body = await (await client.get(f"/api/documents/{document}/layers/l/annotations",
                                   headers=AUTH)).json()
    assert body["data"]["truncated"] is False and len(body["data"]["annotations"]) == 1


@pytest.mark.parametrize("page", ["2", "-1", "x"])
async def test_pages_outside_the_document_are_404(client, document, page):
    response = await client.get(f"/api/documents/{document}/pages/{page}/annotations",
                                headers=AUTH)
    assert response.status == 404


async def test_unknown_document_is_404_on_every_annotation_route(client):
    base = "/api/documents/nope"
    for method, path in [("GET", "/annotations"), ("POST", "/annotations"),
                         ("PUT", "/annotations"), ("DELETE", "/annotations"),
                         ("GET", "/annotations/a"), ("GET", "/pages/0/annotations")]:
        response = await client.request(method, base + path, headers=AUTH,
                                        json={"annotations": [{"content": note()}]})
        assert response.status == 404, (method, path)


async def test_client_data_shaped_like_a_tagged_value_comes_back_unchanged(client, document):
    # regression: the library's JSON transcoder would decode this customData into a UUID
    tagged = {"_type_": "uuid_hex", "_data_": "00000000000000000000000000000000"}
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": "t", "content": note(customData={"k": tagged})}])
    record = await (await client.get(f"{base}/annotations/t", headers=AUTH)).json()
    assert record["content"]["customData"] == {"k": tagged}


async def test_layer_names_with_star_or_over_256_characters_are_refused(client, document):
    for name in ["a*b", "x" * 257]:
        response = await client.post(f"/api/documents/{document}/layers/{name}/annotations",
                                     headers=AUTH, json={"annotations": [{"content": note()}]})
        assert response.status == 400


async def test_writing_into_a_named_layer_creates_it(client, document):
    assert (await (await client.get(f"/api/documents/{document}/layers",
                                    headers=AUTH)).json()) == {"data": []}
    await create(client, f"/api/documents/{document}/layers/b", [{"content": note()}])
    await create(client, f"/api/documents/{document}/layers/a", [{"content": note()}])
    await create(client, f"/api/documents/{document}", [{"content": note()}])
    body = await (await client.get(f"/api/documents/{document}/layers", headers=AUTH)).json()
    assert body == {"data": ["a", "b"]}


async def test_recreating_a_deleted_id_starts_a_new_record(client, document):
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": "x", "user_id": "alice", "content": note()}])
    await client.delete(f"{base}/annotations/x", headers=AUTH)
    body = await create(client, base, [{"id": "x", "user_id": "bob", "content": note()}])
    assert body["data"][0]["createdBy"] == "bob"


async def test_numbers_too_large_to_store_are_a_failing_path(client, document):
    # the relaxed-JSON fallback keeps big integers that strict JSON would round
    body = (b'{annotations: [{id: "big", content: {v: 2, type: "pspdfkit/note", pageIndex: 0, '
            b'bbox: [1, 2, 3, 4], opacity: 1, customData: {n: 123456789012345678901234567890}}},'
            b' {id: "ok", content: {v: 2, type: "pspdfkit/note", pageIndex: 0, '
            b'bbox: [1, 2, 3, 4], opacity: 1}}]}')
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=body)
    result = await response.json()
    assert result["result"] == "partial_failure"
    assert "64 bits" in result["failing_paths"][0]["details"]


async def test_reads_at_the_page_boundaries_miss_nothing(client, document):
    """Reads stop at the first short page; a full page must still look for the next."""
    base = f"/api/documents/{document}"
    await create(client, base, [{"id": f"{i:05}", "content": note()} for i in range(1000)])
    body = await (await client.get(f"{base}/annotations", headers=AUTH)).json()
    assert len(body["data"]["annotations"]) == 1000 and body["data"]["truncated"] is False
    await create(client, base, [{"id": f"{i:05}", "content": note()} for i in range(1000, 2000)])
    assert len(await ndjson(client, f"{base}/annotations")) == 2000
    body = await (await client.get(f"{base}/pages/0/annotations", headers=AUTH)).json()
    assert len(body["data"]["annotations"]) == 1000 and body["data"]["truncated"] is True
