"""Whole-document saves (issue 27): ``PUT …/document.json`` takes what a viewer's
``exportInstantJSON()`` gives and records only the difference, merging with what others
wrote since the revision the export was based on (``Annolog-Base-Revision``)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.api.test_downloads import acrobat_like_pdf, upload
from tests.conftest import AUTH, note

FORMAT = "https://pspdfkit.com/instant-json/v1"
HIGHLIGHT = {"v": 2, "type": "pspdfkit/markup/highlight", "pageIndex": 0,
             "bbox": [1, 1, 9, 9], "opacity": 1, "rects": [[1, 1, 9, 9]], "color": "#FFFF00"}


def said(comment_id: str, text: str) -> dict[str, Any]:
    return {"id": comment_id, "v": 2, "type": "pspdfkit/comment", "rootId": "h",
            "text": {"format": "plain", "value": text},
            "createdAt": "2026-12-06T10:00:00Z"}


def value(name: str, text: str) -> dict[str, Any]:
    return {"v": 1, "type": "pspdfkit/form-field-value", "name": name, "value": text}


@pytest.fixture
async def doc(client: Any, document: str) -> tuple[Any, str]:
    """Three annotations, a thread of two comments and a form field value."""
    base = f"/api/documents/{document}"
    response = await client.post(f"{base}/apply_instant_json", headers=AUTH, json={
        "format": FORMAT,
        "annotations": [{"id": "a", **note(text="a")}, {"id": "b", **note(text="b")},
                        {"id": "h", **HIGHLIGHT}],
        "comments": [said("c1", "first"), said("c2", "second")],
        "formFieldValues": [value("name", "Ada")]})
    assert response.status == 200, await response.text()
    return client, base


async def load(client: Any, base: str) -> tuple[dict[str, Any], int]:
    """What a viewer loads: the export and the revision it shows."""
    response = await client.get(f"{base}/document.json", headers=AUTH)
    return await response.json(), int(response.headers["Annolog-Revision"])


async def save(client: Any, base: str, document: dict[str, Any], based: int | None = None,
               status: int = 200) -> dict[str, Any]:
    headers = AUTH if based is None else {**AUTH, "Annolog-Base-Revision": str(based)}
    response = await client.put(f"{base}/document.json", headers=headers, json=document)
    assert response.status == status, await response.text()
    return await response.json()


def without(document: dict[str, Any], section: str, record_id: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    changed[section] = [r for r in changed[section] if r.get("id") != record_id]
    return changed


def changed_note(document: dict[str, Any], record_id: str, text: str) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    for record in changed["annotations"]:
        if record["id"] == record_id:
            record["text"]["value"] = text
    return changed


async def test_saving_what_was_loaded_records_nothing_however_often(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    for _ in range(10):
        body = await save(client, base, loaded, revision)
        assert body["revision"] is None
        assert body["data"] == {"created": 0, "updated": 0, "deleted": 0, "unchanged": 6,
                                "merged": 0, "conflicts": [], "refused": []}
    assert (await load(client, base))[1] == revision  # not one event


async def test_a_save_records_creates_updates_and_deletes_of_every_kind(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    edited = changed_note(without(loaded, "annotations", "b"), "a", "a, edited")
    edited["annotations"].append({"id": "new", **note(text="new")})
    edited["comments"] = [said("c1", "first, edited"), said("c3", "third")]
    edited["formFieldValues"] = [value("name", "Grace")]
    body = await save(client, base, edited, revision)
    assert body["data"] == {"created": 2, "updated": 3, "deleted": 2, "unchanged": 1,
                            "merged": 0, "conflicts": [], "refused": []}
    saved, now = await load(client, base)
    assert now > revision
    assert {a["id"]: a for a in saved["annotations"]} == \
        {a["id"]: a for a in edited["annotations"]}
    assert {c["id"]: c["text"]["value"] for c in saved["comments"]} == {
        "c1": "first, edited", "c3": "third"}
    assert saved["formFieldValues"] == [value("name", "Grace")]
    history = await (await client.get(f"{base}/annotations/b/history", headers=AUTH)).json()
    assert [change["kind"] for change in history["data"]] == ["created", "deleted"]


async def test_two_tabs_saving_stale_exports_merge_what_does_not_conflict(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    # tab one: edits a, deletes b
    await save(client, base, changed_note(without(loaded, "annotations", "b"), "a", "one"),
               revision)
    # tab two, from the same export: edits h's thread only; b and a are as it loaded them
    two = copy.deepcopy(loaded)
    two["comments"] = [said("c1", "first"), said("c2", "second, by two")]
    body = await save(client, base, two, revision)
    assert body["data"]["merged"] == 2 and body["data"]["updated"] == 1
    assert body["data"]["conflicts"] == []
    saved, _ = await load(client, base)
    notes = {a["id"]: a for a in saved["annotations"]}
    assert "b" not in notes and notes["a"]["text"]["value"] == "one"  # tab one's work stays
    assert {c["id"]: c["text"]["value"] for c in saved["comments"]}["c2"] == "second, by two"


async def test_both_tabs_changing_one_record_is_a_409_that_keeps_the_first(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    await save(client, base, changed_note(loaded, "a", "one"), revision)
    two = changed_note(without(loaded, "annotations", "b"), "a", "two")
    body = await save(client, base, two, revision, status=409)
    assert "changed by someone else" in body["error"]["reason"]
    [conflict] = body["data"]["conflicts"]
    assert conflict["kind"] == "annotation" and conflict["id"] == "a"
    assert conflict["current"]["text"]["value"] == "one"
    assert body["data"]["deleted"] == 1  # the rest of the save was recorded
    saved, _ = await load(client, base)
    assert {a["id"]: a["text"].get("value") for a in saved["annotations"]
            if a["type"] == "pspdfkit/note"} == {"a": "one"}


async def test_deleting_what_another_tab_changed_is_a_conflict(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    await save(client, base, changed_note(loaded, "b", "changed by one"), revision)
    body = await save(client, base, without(loaded, "annotations", "b"), revision,
                      status=409)
    assert [c["id"] for c in body["data"]["conflicts"]] == ["b"]
    assert "b" in {a["id"] for a in (await load(client, base))[0]["annotations"]}


async def test_a_record_another_tab_created_is_not_deleted_by_a_stale_save(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    response = await client.post(f"{base}/annotations", headers=AUTH,
                                 json={"id": "theirs", "content": note(text="theirs")})
    assert response.status == 200
    body = await save(client, base, changed_note(loaded, "a", "mine"), revision)
    assert body["data"]["merged"] == 1 and body["data"]["updated"] == 1
    assert "theirs" in {a["id"] for a in (await load(client, base))[0]["annotations"]}


async def test_without_a_base_revision_the_last_save_wins(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    await save(client, base, changed_note(loaded, "a", "one"), revision)
    await save(client, base, changed_note(loaded, "a", "two"))  # no base: no merge
    saved, _ = await load(client, base)
    assert {a["id"]: a for a in saved["annotations"]}["a"]["text"]["value"] == "two"


@pytest.mark.parametrize("header, status", [("", 400), ("x", 400), ("999999", 409)])
async def test_a_base_revision_must_be_one_the_log_has(doc, header, status):
    client, base = doc
    loaded, _ = await load(client, base)
    response = await client.put(f"{base}/document.json", json=loaded,
                                headers={**AUTH, "Annolog-Base-Revision": header})
    assert response.status == status


async def test_a_bad_record_saves_nothing(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    broken = without(loaded, "annotations", "b")
    broken["annotations"].append({"id": "bad", **note(), "bbox": [1, 2]})
    response = await client.put(f"{base}/document.json", json=broken,
                                headers={**AUTH, "Annolog-Base-Revision": str(revision)})
    assert response.status == 422
    assert (await load(client, base))[1] == revision


async def test_the_pdfs_own_annotations_stay_unless_skipped(client):
    document = await upload(client, acrobat_like_pdf())
    base = f"/api/documents/{document}"
    loaded, revision = await load(client, base)
    numbers = {a["id"]: a["pdfObjectId"] for a in loaded["annotations"]}
    # a viewer of the PDF exports only what differs from it: here, nothing but a new note
    only_new = {"format": FORMAT, "annotations": [{"id": "mine", **note()}]}
    body = await save(client, base, only_new, revision)
    assert body["data"]["created"] == 1 and body["data"]["deleted"] == 0
    # ... and a deleted PDF annotation as skipped
    gone = next(iter(numbers))
    body = await save(client, base, {**only_new, "skippedPdfObjectIds": [numbers[gone]]})
    assert body["data"]["deleted"] == 1
    kept = {a["id"] for a in (await load(client, base))[0]["annotations"]}
    assert kept == (set(numbers) - {gone}) | {"mine"}


async def test_a_save_to_a_named_layer_starts_it_from_the_base_layer(doc):
    client, base = doc  # the base layer is the upload's (a PDF without annotations here)
    loaded, _ = await load(client, base)
    body = await save(client, f"{base}/layers/review", without(loaded, "annotations", "b"))
    assert body["data"]["created"] == 5  # a, h, two comments and the values section
    review, _ = await load(client, f"{base}/layers/review")
    assert {a["id"] for a in review["annotations"]} == {"a", "h"}
    assert "b" in {a["id"] for a in (await load(client, base))[0]["annotations"]}


async def test_a_record_changed_while_the_save_is_written_becomes_a_conflict(doc,
                                                                            monkeypatch):
    client, base = doc
    loaded, revision = await load(client, base)
    from projections.queries import ReadModel
    real = ReadModel.live_versions

    def read_before_another_write(self: Any, *args: Any) -> dict[str, int]:
        return {record_id: version - 1 if record_id == "a" else version
                for record_id, version in real(self, *args).items()}
    monkeypatch.setattr(ReadModel, "live_versions", read_before_another_write)
    body = await save(client, base, changed_note(loaded, "a", "late"), revision, status=409)
    [conflict] = body["data"]["conflicts"]
    assert conflict["id"] == "a" and "changed since" in conflict["reason"]
    assert body["data"]["updated"] == 0
    saved, _ = await load(client, base)
    assert {a["id"]: a for a in saved["annotations"]}["a"]["text"]["value"] == "a"


async def test_a_saved_comment_needs_its_root_in_the_save(doc):
    client, base = doc
    loaded, revision = await load(client, base)
    rootless = without(loaded, "annotations", "h")  # h's comments stay in the save
    response = await client.put(f"{base}/document.json", json=rootless,
                                headers={**AUTH, "Annolog-Base-Revision": str(revision)})
    assert response.status == 422
    assert "'rootId' 'h' names no annotation" in (await response.json())["error"]["reason"]
