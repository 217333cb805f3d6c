"""Save mode with the real Web SDK (issue 27): a page loads annolog's PDF and Instant JSON
into the viewer, the user edits, the page saves ``exportInstantJSON()`` with
``PUT …/document.json`` and its base revision, and a reload shows what was saved; unchanged
saves record nothing, two tabs merge, and a page of an origin annolog does not allow cannot
load at all. Pixels are checked on screenshots, not only the viewer's records."""

from __future__ import annotations

import io
import time
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
import requests
from PIL import Image
from playwright.sync_api import Page

from tests.conftest import make_pdf, note
from tests.console.conftest import AUTH, PRIVATE, TOKEN, started
from tests.websdk.conftest import open_page
from tools.process import ServerProcess

RECTANGLE = {"v": 2, "type": "pspdfkit/shape/rectangle", "pageIndex": 0,
             "bbox": [60, 220, 200, 100], "opacity": 1, "strokeWidth": 6,
             "strokeColor": "#0000FF"}
NOTE = note(bbox=[300, 400, 32, 32], text="to be deleted")
FIND = "async id => (await annolog.instance.getAnnotations(0)).find(a => a.id === id)"


def blue(pixel: tuple[int, ...]) -> bool:
    return pixel[2] > 200 and pixel[0] < 60 and pixel[1] < 60


def yellow(pixel: tuple[int, ...]) -> bool:  # the note's icon
    return pixel[0] > 220 and pixel[1] > 190 and pixel[2] < 160


def count(page: Page, kind: Callable[[tuple[int, ...]], bool]) -> int:
    data = Image.open(io.BytesIO(page.screenshot())).convert("RGB").tobytes()
    return sum(1 for pixel in zip(data[0::3], data[1::3], data[2::3], strict=True)
               if kind(pixel))


def shown(page: Page, kind: Callable[[tuple[int, ...]], bool], at_least: int = 200) -> int:
    """The pixels of a colour once the viewer has drawn them (it draws after loading)."""
    deadline = time.monotonic() + 15
    while (found := count(page, kind)) < at_least and time.monotonic() < deadline:
        page.wait_for_timeout(200)
    return found


@pytest.fixture
def document(annolog: ServerProcess) -> str:
    response = requests.post(f"{annolog.base}/api/documents", data=make_pdf(),
                             headers={**AUTH, "Content-Type": "application/pdf"}, timeout=30)
    document_id = response.json()["data"]["document_id"]
    written = requests.post(f"{annolog.base}/api/documents/{document_id}/annotations",
                            headers=AUTH, timeout=30, json={"annotations": [
                                {"id": "rect", "content": RECTANGLE},
                                {"id": "note", "content": NOTE}]}).json()
    assert written["result"] == "success", written
    return document_id


@pytest.fixture
def tab(browser: Any, site: str, annolog: ServerProcess, document: str
        ) -> Iterator[Callable[[], Page]]:
    """Opens tabs on the document, each with the viewer loaded."""
    pages: list[Page] = []

    def opened() -> Page:
        page = open_page(browser, site, annolog)
        pages.append(page)
        page.evaluate("options => openDocument(options)",
                      {"server": annolog.base, "documentId": document, "token": TOKEN})
        return page
    yield opened
    for page in pages:
        page.close()


def save(page: Page) -> dict[str, Any]:
    return page.evaluate("saveDocument()")


def revision(annolog: ServerProcess, document: str) -> int:
    response = requests.get(f"{annolog.base}/api/documents/{document}/document.json",
                            headers=AUTH, timeout=30)
    return int(response.headers["Annolog-Revision"])


def test_a_deletion_saved_in_the_viewer_stays_deleted_after_a_reload(tab, annolog, document):
    page = tab()
    assert shown(page, blue) >= 200 and shown(page, yellow, 50) >= 50
    before = revision(annolog, document)
    for _ in range(10):  # saving what was loaded: nothing to record, however often
        result = save(page)
        assert result["counts"]["unchanged"] == 2 and result["revision"] is None, result
        assert not result["reload"]
    assert revision(annolog, document) == before
    page.evaluate("async () => annolog.instance.delete('note')")
    result = save(page)
    assert result["counts"]["deleted"] == 1 and result["revision"] > before, result
    page.reload()
    page.evaluate("options => openDocument(options)",
                  {"server": annolog.base, "documentId": document, "token": TOKEN})
    assert shown(page, blue) >= 200
    assert count(page, yellow) == 0  # the note's icon is gone from the page
    ids = page.evaluate("async () => (await annolog.instance.getAnnotations(0))"
                        ".map(a => a.id).toArray()")
    assert ids == ["rect"]
    history = requests.get(f"{annolog.base}/api/documents/{document}/annotations/note/history",
                           headers=AUTH, timeout=30).json()["data"]
    assert [change["kind"] for change in history] == ["created", "deleted"]


MOVE = """async ([id, left]) => {
  const found = await (""" + FIND + """)(id);
  await annolog.instance.update(found.set("boundingBox",
    found.boundingBox.set("left", left)));
}"""
RECOLOUR = """async ([id, green]) => {
  const found = await (""" + FIND + """)(id);
  await annolog.instance.update(found.set("strokeColor",
    new NutrientViewer.Color({ r: 0, g: green, b: 0 })));
}"""


def test_two_tabs_saving_stale_exports_lose_nothing_and_report_conflicts(tab, annolog,
                                                                        document):
    one, two = tab(), tab()
    one.evaluate("async () => annolog.instance.delete('note')")
    assert save(one)["counts"]["deleted"] == 1
    two.evaluate(MOVE, ["rect", 400])
    result = save(two)  # from before the deletion: the note is not brought back
    assert result["conflicts"] == [], result
    assert result["counts"]["updated"] == 1 and result["counts"]["merged"] == 1
    assert result["reload"]  # the viewer still shows the note: load again
    records = requests.get(f"{annolog.base}/api/documents/{document}/document.json",
                           headers=AUTH, timeout=30).json()["annotations"]
    assert [(r["id"], r["bbox"][0]) for r in records] == [("rect", 400)]
    # one, unaware of two's move, recolours the rectangle: both changed it, so one's save
    # keeps two's rectangle and says so
    one.evaluate(RECOLOUR, ["rect", 160])
    result = save(one)
    [conflict] = result["conflicts"]
    assert conflict["id"] == "rect" and conflict["current"]["bbox"][0] == 400
    assert result["reload"]
    # both reload, then both change it: the second save is refused for it
    for page in (one, two):
        page.evaluate("options => openDocument(options)", {
            "server": annolog.base, "documentId": document, "token": TOKEN})
    one.evaluate(RECOLOUR, ["rect", 160])
    assert save(one)["counts"]["updated"] == 1
    two.evaluate(RECOLOUR, ["rect", 90])
    result = save(two)
    [conflict] = result["conflicts"]
    assert conflict["id"] == "rect" and conflict["current"]["strokeColor"] == "#00A000"


def test_a_page_of_an_origin_annolog_does_not_allow_cannot_load(browser, site, tmp_path,
                                                                document):
    closed = started(tmp_path / "data")  # no ANNOLOG_CORS_ORIGINS
    try:
        response = requests.post(f"{closed.base}/api/documents", data=make_pdf(),
                                 headers={**AUTH, "Content-Type": "application/pdf"},
                                 timeout=30)
        document_id = response.json()["data"]["document_id"]
        page = open_page(browser, site, closed)
        error = page.evaluate("""async options => {
          try { await openDocument(options); return null; } catch (e) { return String(e); }
        }""", {"server": closed.base, "documentId": document_id, "token": TOKEN})
        assert error is not None and "Failed to fetch" in error  # the adapter's module too
        page.close()
    finally:
        closed.stop()


def test_a_jwt_users_viewer_may_edit_only_what_its_grants_allow(browser, site, annolog,
                                                               document):
    requests.post(f"{annolog.base}/api/documents/{document}/annotations", headers=AUTH,
                  timeout=30, json={"user_id": "alice", "id": "alices",
                                    "content": note(text="alice's")}).raise_for_status()
    alice = jwt.encode({"document_id": document, "user_id": "alice",
                        "permissions": ["read-document", "write"],
                        "collaboration_permissions": ["annotations:view:all",
                                                      "annotations:edit:self"],
                        "exp": int(time.time()) + 600}, PRIVATE, algorithm="ES256")
    page = open_page(browser, site, annolog)
    page.evaluate("options => openDocument(options)", {
        "server": annolog.base, "documentId": document, "authorization": f"Bearer {alice}"})
    editable = page.evaluate("""ids => ids.map(id =>
        annolog.loaded.isEditableAnnotation({ id }))""", ["alices", "rect", "brand-new"])
    assert editable == [True, False, True]  # hers, the server token's, one she makes
    assert shown(page, blue) >= 200  # the viewer loaded with it
    page.close()
