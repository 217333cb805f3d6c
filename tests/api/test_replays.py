"""Exports and imports of Instant JSON, layers and snapshots, history, change feed, restores."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import json
from typing import Any

import aiohttp
import orjson
import pikepdf
import pytest

from projections.instant_json import FORMAT
from tests.conftest import AUTH, SAMPLES, make_pdf, note
from tools.samples import make_png


async def new_document(client: Any, pages: int = 2) -> str:
    response = await client.post("/api/documents", data=make_pdf(pages),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    return (await response.json())["data"]["document_id"]


async def export(client: Any, document: str, layer: str = "", **query: Any) -> dict:
    base = f"/api/documents/{document}" + (f"/layers/{layer}" if layer else "")
    response = await client.get(f"{base}/document.json", headers=AUTH,
                                params={k: str(v) for k, v in query.items()})
    assert response.status == 200, await response.text()
    return await response.json()


async def apply(client: Any, document: str, instant: Any, layer: str = "") -> Any:
    base = f"/api/documents/{document}" + (f"/layers/{layer}" if layer else "")
    form = aiohttp.FormData()
    form.add_field("instant.json", orjson.dumps(instant), filename="instant.json",
                   content_type="application/json")
    return await client.post(f"{base}/apply_instant_json", headers=AUTH, data=form)


async def write(client: Any, method: str, document: str, items: list, layer: str = "") -> int:
    base = f"/api/documents/{document}" + (f"/layers/{layer}" if layer else "")
    response = await client.request(method, f"{base}/annotations", headers=AUTH,
                                    json={"annotations": items})
    body = await response.json()
    assert body["result"] == "success", body
    return body["revision"]


def sample(name: str) -> dict:
    path = SAMPLES / name
    return json.loads(path.read_text())


async def test_an_empty_document_exports_only_its_format(client, document):
    assert await export(client, document) == {"format": FORMAT}


async def test_the_export_is_canonical(client, document):
    content = note(color="#ffd83f", createdAt="2024-05-01T12:00:00.123+02:00",
                   pdfObjectId=12, customData={"k": [1, None]})
    await write(client, "POST", document, [{"id": "n1", "content": content}])
    [exported] = (await export(client, document))["annotations"]
    assert list(exported) == sorted(exported)
    assert exported["id"] == "n1"
    assert exported["color"] == "#FFD83F"
    assert exported["createdAt"] == "2024-05-01T10:00:00Z"
    assert exported["pdfObjectId"] == 12  # it stands for that annotation of the PDF
    assert exported["customData"] == {"k": [1, None]}


async def test_the_export_carries_the_attachments_its_annotations_name(client, document):
    png = make_png(seed=5)
    sha = hashlib.sha256(png).hexdigest()
    form = aiohttp.FormData()
    content = {"v": 1, "type": "pspdfkit/image", "pageIndex": 0, "bbox": [1, 2, 3, 4],
               "opacity": 1, "contentType": "image/png", "imageAttachmentId": sha}
    form.add_field("annotation", orjson.dumps({"annotations": [{"content": content}]}),
                   content_type="application/json", filename="a.json")
    form.add_field(sha, png, filename="a.png", content_type="image/png")
    await client.post(f"/api/documents/{document}/annotations", headers=AUTH, data=form)
    exported = await export(client, document)
    assert exported["attachments"] == {sha: {"binary": base64.b64encode(png).decode(),
                                             "contentType": "image/png"}}


async def test_exports_at_a_revision_or_a_time_show_the_layer_as_it_was(client, document):
    first = await write(client, "POST", document, [{"id": "a", "content": note(text="one")}])
    await asyncio.sleep(0.01)
    response = await client.get(f"/api/documents/{document}/annotations/a", headers=AUTH)
    assert response.status == 200
    import datetime
    between = datetime.datetime.now(datetime.UTC).isoformat()
    await asyncio.sleep(0.01)
    second = await write(client, "PUT", document, [{"id": "a", "content": note(text="two")}])
    response = await client.delete(f"/api/documents/{document}/annotations/a", headers=AUTH)
    third = int(response.headers["Annolog-Revision"])
    texts = {}
    for revision in (first - 1, first, second, third):
        annotations = (await export(client, document, revision=revision)).get("annotations", [])
        texts[revision] = [a["text"]["value"] for a in annotations]
    assert texts == {first - 1: [], first: ["one"], second: ["two"], third: []}
    at_between = await export(client, document, at=between)
    assert [a["text"]["value"] for a in at_between["annotations"]] == ["one"]
    for query, status in (({"revision": "x"}, 400), ({"revision": 10 ** 6}, 409),
                          ({"at": "yesterday"}, 400), ({"revision": 1, "at": between}, 400)):
        response = await client.get(f"/api/documents/{document}/document.json", headers=AUTH,
                                    params={k: str(v) for k, v in query.items()})
        assert response.status == status, query  # 409: a revision never written


async def test_an_import_creates_new_ids_and_updates_known_ones(client, document):
    await write(client, "POST", document, [{"id": "known", "content": note(text="old")}])
    instant = {"format": FORMAT, "annotations": [
        {**note(text="new"), "id": "known"}, {**note(text="fresh"), "id": "fresh"}]}
    response = await apply(client, document, instant)
    assert response.status == 200, await response.text()
    body = await response.json()
    assert body["data"]["annotations"] == 2 and body["revision"]
    exported = await export(client, document)
    assert {a["id"]: a["text"]["value"] for a in exported["annotations"]} == {
        "known": "new", "fresh": "fresh"}


async def test_an_invalid_import_changes_nothing_and_names_every_bad_record(client, document):
    instant = {"format": FORMAT, "annotations": [
        {**note(), "id": "good"}, {**note(), "id": "bad", "opacity": "5"},
        {**note(page=7), "id": "far"},
        {**note(), "id": "img", "type": "pspdfkit/image", "contentType": "image/png",
         "imageAttachmentId": "missing"}]}
    response = await apply(client, document, instant)
    assert response.status == 422
    error = (await response.json())["error"]
    assert "nothing was changed" in error["reason"]
    assert [r["path"] for r in error["records"]] == ["$.annotations[1]", "$.annotations[2]"]
    assert await export(client, document) == {"format": FORMAT}
    del instant["annotations"][1:3]
    response = await apply(client, document, instant)  # now only the missing attachment
    error = (await response.json())["error"]
    assert [r["path"] for r in error["records"]] == ["$.annotations[1]"]
    assert "neither sent" in error["records"][0]["details"]
    assert await export(client, document) == {"format": FORMAT}


@pytest.mark.parametrize("instant, reason", [
    ({"annotations": []}, "'format' must be exactly"),
    ({"format": FORMAT, "pdfId": {"permanent": "AAAA", "changing": "AAAA"}}, "another PDF"),
    ({"format": FORMAT, "skippedPdfObjectIds": [3]}, "not the object number of an annotation"),
    ({"format": FORMAT, "attachments": {"x": {"binary": "%%%"}}}, "not valid base64"),
    ([1, 2], "must be a JSON object"),
])
async def test_malformed_documents_are_refused(client, document, instant, reason):
    response = await apply(client, document, instant)
    assert response.status == 422
    assert reason in (await response.json())["error"]["reason"]


@pytest.mark.parametrize("name", ["kitchen-sink.input.json", "kitchen-sink.node-sdk-export.json",
                                  "jonaddams-nutrient-sdk-samples--alex.json",
                                  "PSPDFKitDotNetExample--instant.json",
                                  "pspdfkit-flutter--instant-document.json",
                                  "pspdfkit-spike--instant-empty.json"])
async def test_the_public_samples_import_once_a_foreign_pdf_id_is_dropped(client, name):
    instant = sample(name)
    document = await new_document(client, pages=2)
    if instant.get("pdfId"):
        response = await apply(client, document, instant)
        assert response.status == 422
        instant.pop("pdfId")
    response = await apply(client, document, instant)
    assert response.status == 200, await response.text()
    exported = await export(client, document)
    data = (await response.json())["data"]
    for name in ("annotations", "comments", "bookmarks", "formFields", "formFieldValues"):
        assert len(exported.get(name, [])) == len(instant.get(name, [])) == data[name]
    assert data["errors"] == []
    # every record of real-world shapes is written into the PDF, or counted as not yet
    response = await client.get(f"/api/documents/{document}/pdf", headers=AUTH,
                                params={"comments": "true"})
    assert response.status == 200
    with pikepdf.open(io.BytesIO(await response.read())) as pdf:
        written = {str(a["/PSPDF:Id"]) for page in pdf.pages for a in page.obj.get("/Annots", [])
                   if "/PSPDF:Id" in a and "/IRT" not in a}
    ids = {a["id"] for a in exported.get("annotations", [])}
    assert written <= ids
    skipped = int(response.headers.get("Annolog-Skipped", "0"))
    markers = {a["id"] for a in exported.get("annotations", [])
               if a["type"] == "pspdfkit/comment-marker"}
    assert len(ids - written - markers) <= skipped


async def test_export_then_import_is_a_fixed_point(client):
    instant = sample("kitchen-sink.node-sdk-export.json")
    instant.pop("pdfId", None)
    first = await new_document(client)
    assert (await apply(client, first, instant)).status == 200
    exported = await export(client, first)
    second = await new_document(client)
    applied = await apply(client, second, exported)
    assert applied.status == 200, await applied.text()
    assert await export(client, second) == exported
    assert exported["attachments"] == instant["attachments"]
    # the golden export, less what only a PDF engine adds (object numbers, its defaults)
    for name in ("comments", "bookmarks", "formFields", "formFieldValues"):
        assert [r["id"] if "id" in r else r["name"] for r in exported[name]] == [
            r["id"] if "id" in r else r["name"] for r in instant[name]]
    assert [c["text"] for c in exported["comments"]] == [c["text"] for c in instant["comments"]]
    assert all("pdfObjectId" not in c and list(c) == sorted(c) for c in exported["comments"])


SECTIONED = {"format": FORMAT, "annotations": [
    {**note(), "id": "marker", "type": "pspdfkit/comment-marker", "text": {
        "format": "plain", "value": "m"}}],
    "comments": [{"v": 2, "type": "pspdfkit/comment", "id": "c1", "rootId": "marker",
                  "pageIndex": 0, "createdAt": "2024-05-01T12:00:00.5+02:00",
                  "updatedAt": "2024-05-01T10:00:00Z", "pdfObjectId": 4,
                  "text": {"format": "plain", "value": "first"}}],
    "bookmarks": [{"v": 1, "type": "pspdfkit/bookmark", "name": "p2", "sortKey": 0,
                   "action": {"type": "goTo", "pageIndex": 1}}],
    "formFields": [{"v": 1, "type": "pspdfkit/form-field/text", "id": "f", "name": "who",
                    "label": "Who", "annotationIds": []}],
    "formFieldValues": [{"v": 1, "type": "pspdfkit/form-field-value", "name": "who",
                         "value": "Jane"}]}


def comment(comment_id: str, root: str, text: str) -> dict:
    return {"v": 2, "type": "pspdfkit/comment", "id": comment_id, "rootId": root,
            "createdAt": "2024-05-01T10:00:00Z", "updatedAt": "2024-05-01T10:00:00Z",
            "text": {"format": "plain", "value": text}}


async def test_comments_bookmarks_and_form_fields_are_kept_in_canonical_form(client, document):
    response = await apply(client, document, SECTIONED)
    assert response.status == 200, await response.text()
    exported = await export(client, document)
    [stored] = exported["comments"]
    assert stored == {"createdAt": "2024-05-01T10:00:00Z", "id": "c1", "pageIndex": 0,
                      "rootId": "marker", "text": {"format": "plain", "value": "first"},
                      "type": "pspdfkit/comment", "updatedAt": "2024-05-01T10:00:00Z", "v": 2}
    [bookmark] = exported["bookmarks"]
    assert len(bookmark["id"]) == 26  # a ULID, as the record came without an id
    assert exported["formFields"][0]["name"] == "who"
    assert exported["formFieldValues"] == [{"name": "who", "type": "pspdfkit/form-field-value",
                                            "v": 1, "value": "Jane"}]


async def test_a_second_import_updates_known_records_and_adds_new_ones(client, document):
    revision = int((await apply(client, document, SECTIONED)).headers["Annolog-Revision"])
    again = {"format": FORMAT,
             "comments": [comment("c1", "marker", "edited"), comment("c2", "marker", "reply")],
             "formFieldValues": [{"v": 1, "type": "pspdfkit/form-field-value", "name": "who",
                                  "value": None}]}
    response = await apply(client, document, again)  # the root is already in the layer
    assert response.status == 200, await response.text()
    exported = await export(client, document)
    assert [(c["id"], c["text"]["value"]) for c in exported["comments"]] == [
        ("c1", "edited"), ("c2", "reply")]
    assert exported["formFieldValues"][0]["value"] is None
    assert len(exported["bookmarks"]) == 1
    then = await export(client, document, revision=revision)
    assert [c["text"]["value"] for c in then["comments"]] == ["first"]


@pytest.mark.parametrize("section, record, reason", [
    ("comments", comment("c", "nowhere", "x"), "names no annotation"),
    ("comments", {**comment("c", "marker", "x"), "text": "plain"}, "'text' must be"),
    ("comments", {**comment("c", "marker", "x"), "v": 1}, "'v' must be 2"),
    ("comments", {**comment("c", "marker", "x"), "createdAt": "noon"}, "ISO 8601"),
    ("bookmarks", {"v": 1, "type": "pspdfkit/bookmark"}, "'action' must be"),
    ("bookmarks", {"v": 1, "type": "pspdfkit/bookmark",
                   "action": {"type": "goTo", "pageIndex": 9}}, "a page of this document"),
    ("formFields", {"v": 1, "type": "pspdfkit/form-field/slider", "name": "n",
                    "annotationIds": []}, "pspdfkit/form-field/ followed by"),
    ("formFields", {"v": 1, "type": "pspdfkit/form-field/text", "name": "n"},
     "'annotationIds' must be"),
    ("formFieldValues", {"v": 1, "type": "pspdfkit/form-field-value", "name": "n",
                         "value": 3}, "'value' must be"),
    ("formFieldValues", {"v": 1, "type": "pspdfkit/form-field-value", "value": "x"},
     "'name'"),
])
async def test_a_bad_section_record_changes_nothing(client, document, section, record, reason):
    instant = {"format": FORMAT, "annotations": SECTIONED["annotations"], section: [record]}
    response = await apply(client, document, instant)
    assert response.status == 422
    [problem] = (await response.json())["error"]["records"]
    assert problem["path"] == f"$.{section}[0]" and reason in problem["details"]
    assert await export(client, document) == {"format": FORMAT}


async def test_layers_copy_snapshot_delete_and_revert_carry_the_sections(client, document):
    await apply(client, document, SECTIONED, layer="src")
    revision = int((await apply(client, document, {"format": FORMAT, "comments": [
        comment("c1", "marker", "later")]}, layer="src")).headers["Annolog-Revision"])
    response = await create_layer(client, document, name="snap", source_layer_name="src",
                                  revision=revision - 1)
    assert response.status == 200
    snap = await export(client, document, "snap")
    assert [c["text"]["value"] for c in snap["comments"]] == ["first"]
    assert snap["formFieldValues"] == (await export(client, document, "src"))["formFieldValues"]
    response = await client.post(f"/api/documents/{document}/layers/src/restore",
                                 headers=AUTH, json={"revision": revision - 1})
    assert response.status == 200, await response.text()
    assert [c["text"]["value"] for c in (await export(client, document, "src"))["comments"]
            ] == ["first"]
    response = await client.delete(f"/api/documents/{document}/layers/snap", headers=AUTH)
    assert response.status == 200
    response = await create_layer(client, document, name="snap")
    assert await export(client, document, "snap") == {"format": FORMAT}


async def test_an_upload_can_carry_instant_json(client):
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("document_id", "with-annotations")
    form.add_field("attachment", orjson.dumps({"format": FORMAT, "annotations": [
        {**note(), "id": "n"}]}), filename="attachment.json", content_type="application/json")
    response = await client.post("/api/documents", headers=AUTH, data=form)
    assert response.status == 200, await response.text()
    assert [a["id"] for a in (await export(client, "with-annotations"))["annotations"]] == ["n"]
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("document_id", "refused")
    form.add_field("attachment", orjson.dumps({"format": FORMAT, "annotations": [
        {**note(page=9), "id": "n"}]}), filename="attachment.json")
    response = await client.post("/api/documents", headers=AUTH, data=form)
    assert response.status == 422
    assert (await client.get("/api/documents/refused/properties", headers=AUTH)).status == 404


async def create_layer(client: Any, document: str, **fields: Any) -> Any:
    return await client.post(f"/api/documents/{document}/layers", headers=AUTH, json=fields)


async def test_a_layer_from_a_source_layer_copies_its_records(client, document):
    await write(client, "POST", document, [{"id": "a", "user_id": "alice", "group": "g",
                                            "content": note()}], layer="src")
    response = await create_layer(client, document, name="copy", source_layer_name="src")
    assert (await response.json())["data"] == {"name": "copy", "errors": []}
    record = await (await client.get(f"/api/documents/{document}/layers/copy/annotations/a",
                                     headers=AUTH)).json()
    assert (record["createdBy"], record["group"]) == ("alice", "g")
    assert (await create_layer(client, document, name="copy")).status == 409
    empty = await create_layer(client, document, name="empty", source_layer_name="nope")
    assert empty.status == 200
    assert await export(client, document, "empty") == {"format": FORMAT}


async def test_a_snapshot_at_a_revision_never_moves(client, document):
    revision = await write(client, "POST", document,
                           [{"id": "a", "content": note(text="then")}], layer="src")
    await write(client, "PUT", document, [{"id": "a", "content": note(text="now")}],
                layer="src")
    response = await create_layer(client, document, name="snap", source_layer_name="src",
                                  revision=revision)
    assert response.status == 200
    await write(client, "POST", document, [{"id": "b", "content": note()}], layer="src")
    snapshot = await export(client, document, "snap")
    assert [a["text"]["value"] for a in snapshot["annotations"]] == ["then"]


async def test_a_layer_can_start_from_an_instant_json_part(client, document):
    form = aiohttp.FormData()
    form.add_field("name", "imported")
    form.add_field("instant.json", orjson.dumps({"format": FORMAT, "annotations": [
        {**note(), "id": "i"}]}), filename="instant.json", content_type="application/json")
    response = await client.post(f"/api/documents/{document}/layers", headers=AUTH, data=form)
    assert response.status == 200, await response.text()
    assert [a["id"] for a in (await export(client, document, "imported"))["annotations"]] == [
        "i"]


@pytest.mark.parametrize("fields", [{}, {"name": "a*b"}, {"name": "x" * 257}, {"name": 3}])
async def test_bad_layer_names_are_400(client, document, fields):
    assert (await create_layer(client, document, **fields)).status == 400


async def test_deleting_a_layer_removes_it_and_it_can_come_back(client, document):
    await write(client, "POST", document, [{"id": "a", "content": note()}], layer="gone")
    response = await client.delete(f"/api/documents/{document}/layers/gone", headers=AUTH)
    assert response.status == 200
    assert (await (await client.get(f"/api/documents/{document}/layers",
                                    headers=AUTH)).json())["data"] == []
    assert await export(client, document, "gone") == {"format": FORMAT}
    assert (await client.delete(f"/api/documents/{document}/layers/gone",
                                headers=AUTH)).status == 404
    await write(client, "POST", document, [{"id": "a", "content": note()}], layer="gone")
    assert (await (await client.get(f"/api/documents/{document}/layers",
                                    headers=AUTH)).json())["data"] == ["gone"]


async def test_history_lists_every_version_including_deletion(client, document):
    base = f"/api/documents/{document}/annotations"
    await write(client, "POST", document, [{"id": "h", "user_id": "a", "content": note()}])
    await write(client, "PUT", document, [{"id": "h", "user_id": "b", "content": note(text="2")}])
    await client.delete(f"{base}/h", headers=AUTH)
    history = (await (await client.get(f"{base}/h/history", headers=AUTH)).json())["data"]
    assert [(c["kind"], c["version"], c["user_id"]) for c in history] == [
        ("created", 1, "a"), ("updated", 2, "b"), ("deleted", 3, None)]
    assert history[1]["record"]["content"]["text"]["value"] == "2"
    assert all(h["at"].endswith("Z") for h in history)
    assert (await client.get(f"{base}/nope/history", headers=AUTH)).status == 404


async def test_the_change_feed_streams_changes_after_a_revision(client, document):
    first = await write(client, "POST", document, [{"id": "x", "content": note()}])
    await write(client, "POST", document, [{"id": "y", "content": note()}])
    await write(client, "POST", document, [{"id": "z", "content": note()}], layer="other")
    response = await client.get(f"/api/documents/{document}/changes?since={first}",
                                headers=AUTH)
    assert response.headers["Content-Type"].startswith("application/x-ndjson")
    changes = [orjson.loads(line) for line in (await response.read()).splitlines()]
    assert [(c["id"], c["kind"]) for c in changes] == [("y", "created")]
    response = await client.get(f"/api/documents/{document}/changes?since=-1", headers=AUTH)
    assert response.status == 400


async def test_restore_brings_a_deleted_annotation_back(client, document):
    base = f"/api/documents/{document}/annotations"
    await write(client, "POST", document, [{"id": "r", "user_id": "a", "content": note()}])
    assert (await client.post(f"{base}/r/restore", headers=AUTH)).status == 409
    await client.delete(f"{base}/r", headers=AUTH)
    response = await client.post(f"{base}/r/restore", headers=AUTH)
    assert response.status == 200
    record = await (await client.get(f"{base}/r", headers=AUTH)).json()
    assert record["createdBy"] == "a"
    assert (await client.post(f"{base}/nope/restore", headers=AUTH)).status == 404


async def test_a_layer_restored_to_a_revision_exports_as_it_did_then(client, document):
    await write(client, "POST", document, [{"id": "a", "user_id": "u", "content": note()},
                                           {"id": "b", "content": note()}], layer="l")
    revision = await write(client, "PUT", document,
                           [{"id": "a", "user_id": "v", "content": note(text="x")}], layer="l")
    then = await export(client, document, "l", revision=revision)
    await write(client, "PUT", document, [{"id": "a", "content": note(text="later")}],
                layer="l")
    await client.delete(f"/api/documents/{document}/layers/l/annotations/b", headers=AUTH)
    await write(client, "POST", document, [{"id": "c", "content": note()}], layer="l")
    response = await client.post(f"/api/documents/{document}/layers/l/restore", headers=AUTH,
                                 json={"revision": revision})
    assert (await response.json())["data"]["changed"] == 3
    assert await export(client, document, "l") == then
    history = (await (await client.get(
        f"/api/documents/{document}/layers/l/annotations/b/history", headers=AUTH)).json())
    assert [c["kind"] for c in history["data"]] == ["created", "deleted", "recreated"]


async def test_a_revision_inside_a_write_shows_the_state_before_it(client, document):
    """Regression (issue 12): revisions count events, so the revisions inside an atomic
    import of 19 records exported 1 to 18 of them, a state no client ever saw."""
    before = await write(client, "POST", document, [{"id": "first", "content": note()}])
    response = await apply(client, document, {"format": FORMAT, "annotations": [
        {**note(text=str(i)), "id": f"i{i}"} for i in range(19)]})
    after = (await response.json())["revision"]
    assert after - before >= 19
    for revision in range(before, after + 1):
        response = await client.get(f"/api/documents/{document}/document.json", headers=AUTH,
                                    params={"revision": str(revision)})
        shown = int(response.headers["Annolog-Revision"])
        count = len((await response.json()).get("annotations", []))
        assert (shown, count) == ((after, 20) if revision == after else (before, 1))
    middle = str((before + after) // 2)
    response = await client.post(f"/api/documents/{document}/layers", headers=AUTH,
                                 json={"name": "snap", "source_layer_name": "",
                                       "revision": middle})
    assert response.status == 200
    assert [a["id"] for a in (await export(client, document, "snap"))["annotations"]] == [
        "first"]
    response = await client.post(f"/api/documents/{document}/restore", headers=AUTH,
                                 json={"revision": middle})
    assert response.status == 200
    assert [a["id"] for a in (await export(client, document))["annotations"]] == ["first"]


@pytest.mark.parametrize("query", ["since=99999999999999999999999", "since=-1", "since=²",
                                   "since=1.5"])
async def test_a_bad_change_feed_bound_is_a_400_before_the_stream_starts(
        client, document, query):
    """Regression (issue 12): since=99999999999999999999999 started a 200 NDJSON response,
    then overflowed and wrote a whole HTTP 500 inside the chunked body."""
    response = await client.get(f"/api/documents/{document}/changes?{query}", headers=AUTH)
    assert response.status == 400
    assert "since" in (await response.json())["error"]["reason"]


async def test_a_revision_written_by_another_process_is_known_to_every_process(
        aiohttp_client, tmp_path):
    """Regression (issue 12): an idle process bounded revisions by its own writer, so a
    revision another process wrote was "beyond the log" there."""
    from api.app import create_app
    from api.settings import Settings
    from tests.conftest import TOKEN, postgres_schema

    with postgres_schema() as url:
        a, b = [await aiohttp_client(create_app(Settings(
            data_dir=tmp_path / name, api_token=TOKEN, database_url=url))) for name in "ab"]
        document = await new_document(a)
        revision = await write(a, "POST", document, [{"id": "x", "content": note()}])
        for params in ({"revision": str(revision)}, {}):
            response = await b.get(f"/api/documents/{document}/document.json", headers=AUTH,
                                   params=params)
            assert response.status == 200, await response.text()
            assert response.headers["Annolog-Revision"] == str(revision)
            assert [r["id"] for r in (await response.json())["annotations"]] == ["x"]
        response = await b.post(f"/api/documents/{document}/layers", headers=AUTH,
                                json={"name": "s", "source_layer_name": "",
                                      "revision": revision})
        assert response.status == 200, await response.text()
        response = await b.post(f"/api/documents/{document}/restore", headers=AUTH,
                                json={"revision": revision})
        assert response.status == 200, await response.text()


async def test_a_stream_that_fails_half_way_is_cut_never_given_an_error_page(
        client, document, monkeypatch):
    from api import history
    from api.services import SERVICES

    await write(client, "POST", document, [{"id": f"a{i}", "content": note()}
                                           for i in range(5)])
    read_model = client.server.app[SERVICES].read_model
    pages, calls = read_model.changes_page, []

    def fail_on_the_second_page(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("disk gone")
        return pages(*args, **kwargs)

    monkeypatch.setattr(history, "CHANGES_PAGE", 2)
    monkeypatch.setattr(read_model, "changes_page", fail_on_the_second_page)
    response = await client.get(f"/api/documents/{document}/changes", headers=AUTH)
    assert response.status == 200
    with pytest.raises(aiohttp.ClientPayloadError):
        async with asyncio.timeout(10):  # the old answer hung: a 500 page inside the body
            await response.read()
    monkeypatch.undo()
    again = await client.get(f"/api/documents/{document}/changes", headers=AUTH)
    assert len((await again.read()).splitlines()) == 5


async def test_a_min_revision_beyond_the_log_is_a_409_at_once(client, document):
    """Never written, it would never come: no wait, and a status a valid header may get
    (issue 26, section 8: it was an undeclared 400)."""
    response = await client.get(f"/api/documents/{document}/annotations", headers={
        **AUTH, "Annolog-Min-Revision": "999999"})
    assert response.status == 409
    assert "beyond the log" in (await response.json())["error"]["reason"]
    response = await client.get(f"/api/documents/{document}/annotations", headers={
        **AUTH, "Annolog-Min-Revision": "-1"})
    assert response.status == 400
    response = await client.get(f"/api/documents/{document}/annotations", headers={
        **AUTH, "Annolog-Min-Revision": ""})
    assert response.status == 400  # present but empty: malformed, not absent
