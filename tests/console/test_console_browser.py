"""The console in a real browser (Debian's Chromium driven by Playwright) against a real
``annolog serve``: two people on one document see each other's drawing live, a reload keeps
it, the history slider shows the past, a read-only JWT cannot edit, and what is drawn shows
in the pixels. ANNOLOG_UPDATE_SCREENSHOT=1 also writes the docs' screenshot."""

from __future__ import annotations

import http.client
import io
import os
import time

import requests

from tests.console.conftest import AUTH
from tests.console.tabs import Console, near, new_ids, person, records, upload, wait_for_records
from tools.process import ROOT, ServerProcess

SCREENSHOT = ROOT / "docs" / "images" / "console.png"


def test_two_people_draw_and_see_each_other_live(browser, server):
    document = upload(server.base, "Live")
    alice = Console(browser, server.base, document, person(document, "alice"))
    bob_jwt = person(document, "bob")
    bob = Console(browser, server.base, document, bob_jwt)
    try:
        alice.until("document.querySelectorAll('#presence li').length === 2")
        # Alice draws an ink stroke: Bob sees it within a second, where she drew it.
        alice.tool("ink")
        alice.page.evaluate("""() => { window.seenPending = false;
            new MutationObserver((changes) => { for (const c of changes) for (const n of
              c.addedNodes) if (n.classList?.contains('pending')) window.seenPending = true; })
            .observe(document.querySelector('#pages'), {subtree: true, childList: true}); }""")
        alice.drag([(100, 400), (160, 460), (220, 400), (300, 440)])
        ink_id = wait_for_records(server.base, document, 1).popitem()[0]
        assert alice.page.evaluate("window.seenPending"), "no pending state was shown"
        bob.page.wait_for_selector(f"g.annotation[data-id='{ink_id}']", timeout=1000)
        assert near(alice.shown(ink_id), bob.shown(ink_id))
        assert "alice created ink" in bob.page.inner_text("#activity")
        assert alice.count("g.annotation.pending") == 0  # confirmed
        # Then a rectangle: in Bob's tab it covers the box Alice dragged.
        before = records(server.base, document)
        alice.tool("rectangle")
        alice.drag([(120, 150), (320, 260)])
        after = wait_for_records(server.base, document, 2)
        (rectangle_id,) = new_ids(before, after)
        bob.page.wait_for_selector(f"g.annotation[data-id='{rectangle_id}']", timeout=1000)
        assert near(bob.shown(rectangle_id), {"x": 120, "y": 150, "width": 200, "height": 110})
        scale = alice.overlay_box()["width"] / 612
        x, y, width, height = after[rectangle_id]["content"]["bbox"]
        assert near({"x": x * scale, "y": y * scale, "width": width * scale,
                     "height": height * scale}, bob.shown(rectangle_id))
        if os.environ.get("ANNOLOG_UPDATE_SCREENSHOT") == "1":  # the docs' picture
            bob.tool("select")
            shown = bob.shown(rectangle_id)
            box = bob.overlay_box()
            bob.page.mouse.click(box["x"] + shown["x"] + 3, box["y"] + shown["y"] + 40)
            bob.page.wait_for_selector("#selected .versions li")
            SCREENSHOT.parent.mkdir(exist_ok=True)
            bob.page.screenshot(path=str(SCREENSHOT))
        # Bob reloads (signing in again: tokens are not kept by default): both are there.
        assert bob.page.evaluate("sessionStorage.length + localStorage.length") == 0
        bob.page.reload()
        bob.sign_in(bob_jwt)
        bob.page.wait_for_selector(f"g.annotation[data-id='{rectangle_id}']")
        assert bob.count("g.annotation") == 2
        # The slider one step back shows the layer before the rectangle: the ink alone.
        bob.page.evaluate("""() => { const s = document.querySelector('#timeline');
            s.value = String(Number(s.max) - 1); s.dispatchEvent(new Event('input')); }""")
        bob.page.wait_for_selector(f"g.annotation[data-id='{rectangle_id}']", state="detached")
        assert bob.count(f"g.annotation[data-id='{ink_id}']") == 1
        assert "read-only" in bob.page.inner_text("#timeline-label")
        bob.page.click("#back-to-live")
        bob.page.wait_for_selector(f"g.annotation[data-id='{rectangle_id}']")
        # Alice deletes the rectangle: it leaves Bob's tab.
        alice.tool("delete")
        box = alice.overlay_box()
        alice.page.mouse.click(box["x"] + 121, box["y"] + 200)
        bob.page.wait_for_selector(f"g.annotation[data-id='{rectangle_id}']", state="detached",
                                   timeout=2000)
        assert list(records(server.base, document)) == [ink_id]
        assert "deleted" in bob.page.inner_text("#activity")
        assert not alice.errors and not bob.errors, alice.errors + bob.errors
    finally:
        alice.close()
        bob.close()


def test_every_tool_writes_its_type_and_the_history_panel_tells_who(browser, server):
    document = upload(server.base, "Tools")
    tab = Console(browser, server.base, document)
    try:
        expected = []
        tab.tool("note")
        tab.page.mouse.click(tab.overlay_box()["x"] + 40, tab.overlay_box()["y"] + 600)
        expected.append("pspdfkit/note")
        tab.tool("ellipse")
        tab.drag([(350, 500), (450, 560)])
        expected.append("pspdfkit/shape/ellipse")
        tab.tool("text")
        tab.page.mouse.click(tab.overlay_box()["x"] + 300, tab.overlay_box()["y"] + 650)
        expected.append("pspdfkit/text")
        # Highlight: select a line of the PDF's text, as a reader would.
        tab.tool("highlight")
        line = tab.page.locator(".textLayer span", has_text="Line 3:").first
        line_box = line.bounding_box()
        assert line_box is not None
        tab.page.mouse.move(line_box["x"] + 2, line_box["y"] + line_box["height"] / 2)
        tab.page.mouse.down()
        tab.page.mouse.move(line_box["x"] + line_box["width"] - 2,
                            line_box["y"] + line_box["height"] / 2, steps=5)
        tab.page.mouse.up()
        expected.append("pspdfkit/markup/highlight")
        found = wait_for_records(server.base, document, 4)
        assert sorted(r["content"]["type"] for r in found.values()) == sorted(expected)
        highlight = next(r for r in found.values() if r["content"]["type"].endswith("highlight"))
        ((_, top, width, height),) = highlight["content"]["rects"]
        assert 100 < width < 400 and 10 < height < 25  # one line of 14 pt text
        assert abs(top - (792 - 720 + 24 * 3 - 14)) < 8  # where "Line 3" is set
        # Select the ellipse, edit nothing, read its history: created, by whom.
        ellipse = next(i for i, r in found.items() if r["content"]["type"].endswith("ellipse"))
        tab.tool("select")
        shown = tab.shown(ellipse)
        box = tab.overlay_box()
        tab.page.mouse.click(box["x"] + shown["x"] + 2, box["y"] + shown["y"] + shown["height"] / 2)
        tab.page.wait_for_selector("#selected .versions li")
        assert "v1 created" in tab.page.inner_text("#selected .versions")
        # Move it by dragging: the record moves by the same distance in points.
        start = (box["x"] + shown["x"] + 2, box["y"] + shown["y"] + shown["height"] / 2)
        tab.page.mouse.move(*start)
        tab.page.mouse.down()
        tab.page.mouse.move(start[0] + 60, start[1] + 30, steps=5)
        tab.page.mouse.up()
        deadline = time.monotonic() + 5
        while records(server.base, document)[ellipse]["content"]["bbox"] == \
                found[ellipse]["content"]["bbox"] and time.monotonic() < deadline:
            time.sleep(0.05)
        scale = box["width"] / 612
        old = found[ellipse]["content"]["bbox"]
        new = records(server.base, document)[ellipse]["content"]["bbox"]
        assert abs(new[0] - old[0] - 60 / scale) < 1.5 and abs(new[1] - old[1] - 30 / scale) < 1.5
        tab.page.wait_for_selector("#selected .versions li:nth-child(2)")
        assert "v2 updated (bbox) by server token" in tab.page.inner_text("#selected .versions")
        assert not tab.errors, tab.errors
    finally:
        tab.close()


def test_a_read_only_jwt_cannot_edit_even_when_it_forces_the_tools(browser, server):
    document = upload(server.base, "Read only")
    requests.post(f"{server.base}/api/documents/{document}/annotations", headers=AUTH,
                  timeout=30, json={"annotations": [{"id": "kept", "content": {
                      "v": 2, "type": "pspdfkit/shape/rectangle", "pageIndex": 0,
                      "bbox": [100, 100, 100, 100], "opacity": 1, "strokeWidth": 2,
                      "strokeColor": "#E00000"}}]}).raise_for_status()
    tab = Console(browser, server.base, document,
                  person(document, "reader", ("read-document", "download")))
    try:
        tab.page.wait_for_selector("g.annotation[data-id='kept']")
        assert tab.page.is_visible("#read-only")
        for tool in ("note", "ink", "rectangle", "delete"):
            assert tab.page.is_disabled(f"#tools button[data-tool='{tool}']")
        assert "reader" in tab.page.inner_text("#presence")
        # Forced: enable the button through the DOM and draw. The server refuses it.
        tab.page.evaluate("document.querySelector(\"[data-tool='rectangle']\").disabled = false")
        tab.tool("rectangle")
        tab.drag([(300, 300), (400, 400)])
        tab.until("document.querySelector('#activity').innerText.includes('rejected')")
        assert "write" in tab.page.inner_text("#activity")
        tab.until("document.querySelectorAll('g.annotation').length === 1")
        assert list(records(server.base, document)) == ["kept"]
    finally:
        tab.close()


def test_what_is_drawn_shows_in_the_pixels(browser, server):
    from PIL import Image

    document = upload(server.base, "Pixels")
    rectangle = [150, 150, 200, 120]
    requests.post(f"{server.base}/api/documents/{document}/annotations", headers=AUTH,
                  timeout=30, json={"annotations": [
                      {"id": "box", "user_id": "alice", "content": {
                          "v": 2, "type": "pspdfkit/shape/rectangle", "pageIndex": 0,
                          "bbox": rectangle, "opacity": 1, "strokeWidth": 4,
                          "strokeColor": "#E00000", "fillColor": "#2D6BE4"}},
                      {"id": "n", "user_id": "bob", "content": {
                          "v": 2, "type": "pspdfkit/note", "pageIndex": 0,
                          "bbox": [420, 150, 24, 24], "opacity": 1, "icon": "comment",
                          "text": {"format": "plain", "value": "Look here"},
                          "color": "#FFD83F"}}]}).raise_for_status()
    tab = Console(browser, server.base, document)
    try:
        tab.page.wait_for_selector("g.annotation[data-id='box']")
        box = tab.overlay_box()
        shot = Image.open(io.BytesIO(tab.page.screenshot())).convert("RGB")
        scale = box["width"] / 612
        inside = shot.getpixel((int(box["x"] + (rectangle[0] + 100) * scale),
                                int(box["y"] + (rectangle[1] + 60) * scale)))
        blank = shot.getpixel((int(box["x"] + 560 * scale), int(box["y"] + 400 * scale)))
        assert blank == (255, 255, 255)
        assert inside[2] > 180 and inside[0] < 100, inside  # the blue fill, not the page
    finally:
        tab.close()


def raw_status(server: ServerProcess, path: str) -> int:
    """The status of a path sent as is (requests would resolve its dot segments first)."""
    host, port = server.base.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def test_the_console_loads_without_a_token_under_a_strict_policy(server):
    page = requests.get(f"{server.base}/console/", timeout=30)
    assert page.status_code == 200 and "text/html" in page.headers["Content-Type"]
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self' 'wasm-unsafe-eval'" in policy
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in page.text  # no inline script the policy would refuse
    for path in ("console.js", "annolog-client.js", "vendor/pdfjs/pdf.min.mjs"):
        response = requests.get(f"{server.base}/console/{path}", timeout=30)
        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("text/javascript")
    for path in ("../setup.cfg", "%2e%2e/setup.cfg", "..%2f__init__.py", ".hidden",
                 "vendor/pdfjs/LICENSE", "nope.js", "../__init__.py"):
        assert raw_status(server, f"/console/{path}") == 404, path
    assert requests.get(f"{server.base}/api/documents", timeout=30).status_code == 401
    redirect = requests.get(f"{server.base}/console", timeout=30, allow_redirects=False)
    assert redirect.status_code == 308 and redirect.headers["Location"] == "/console/"


def test_the_slider_restores_a_past_state_and_the_pdf_downloads_as_shown(browser, server):
    import pikepdf

    document = upload(server.base, "Restore")
    base = f"{server.base}/api/documents/{document}/annotations"
    shape = {"v": 2, "type": "pspdfkit/shape/ellipse", "pageIndex": 0, "opacity": 1,
             "bbox": [100, 100, 80, 60], "strokeWidth": 2, "strokeColor": "#00A000"}
    requests.post(base, headers=AUTH, timeout=30, json={"annotations": [
        {"id": "first", "content": shape}]}).raise_for_status()
    requests.post(base, headers=AUTH, timeout=30, json={"annotations": [
        {"id": "second", "content": {**shape, "bbox": [300, 100, 80, 60]}}]}
                  ).raise_for_status()
    tab = Console(browser, server.base, document)
    try:
        tab.page.wait_for_selector("g.annotation[data-id='second']")
        # Select the live 'first': it may be deleted, and names who made it.
        tab.tool("select")
        shown, box = tab.shown("first"), tab.overlay_box()
        tab.page.mouse.click(box["x"] + shown["x"] + 2,
                             box["y"] + shown["y"] + shown["height"] / 2)
        tab.page.wait_for_selector("#selected button:text('Delete')")
        assert "created by\nserver token" in tab.page.inner_text("#selected dl")
        tab.page.evaluate("""() => { const s = document.querySelector('#timeline');
            s.value = String(Number(s.max) - 1); s.dispatchEvent(new Event('input')); }""")
        tab.page.wait_for_selector("g.annotation[data-id='second']", state="detached")
        # A past view never writes: no Delete button, and the Delete key does nothing.
        tab.page.wait_for_selector("#selected button:text('Delete')", state="detached")
        tab.page.keyboard.press("Delete")
        # The PDF of the state shown: one ellipse written in, named after its revision.
        with tab.page.expect_download() as download:
            tab.page.click("#download")
        assert download.value.suggested_filename.startswith(f"{document}-revision-")
        with pikepdf.open(download.value.path()) as pdf:
            written = [a for a in pdf.pages[0].obj.get("/Annots", []) if a.Subtype == "/Circle"]
            assert [str(a["/PSPDF:Id"]) for a in written] == ["first"]
        assert set(records(server.base, document)) == {"first", "second"}  # nothing deleted
        # Restore asks first: declined, nothing is written; accepted, the past comes back.
        tab.page.once("dialog", lambda dialog: dialog.dismiss())
        tab.page.click("#restore")
        assert set(records(server.base, document)) == {"first", "second"}
        tab.page.once("dialog", lambda dialog: dialog.accept())
        tab.page.click("#restore")
        tab.page.wait_for_selector("#restore", state="hidden")
        tab.until("document.querySelector('#activity').innerText.includes('restored')")
        assert list(records(server.base, document)) == ["first"]
        history = requests.get(f"{base}/second/history", headers=AUTH, timeout=30).json()
        assert [c["kind"] for c in history["data"]] == ["created", "deleted"]  # appended
        tab.page.wait_for_selector("g.annotation[data-id='second']", state="detached")
        assert tab.count("g.annotation[data-id='first']") == 1
        assert not tab.errors, tab.errors
    finally:
        tab.close()


def test_a_long_document_paints_only_the_pages_near_the_view(browser, server):
    document = upload(server.base, "Long", pages=60)
    requests.post(f"{server.base}/api/documents/{document}/annotations", headers=AUTH,
                  timeout=30, json={"annotations": [{"id": "last", "content": {
                      "v": 2, "type": "pspdfkit/note", "pageIndex": 59, "bbox": [50, 50, 24, 24],
                      "opacity": 1, "text": {"format": "plain", "value": "end"}}}]}
                  ).raise_for_status()
    tab = Console(browser, server.base, document)
    try:
        assert tab.count(".page") == 60
        tab.page.wait_for_selector("g.annotation[data-id='last']", state="attached")
        assert tab.count(".page canvas") < 10  # not sixty canvases of a megabyte each
        tab.page.locator(".page[data-page-index='59']").scroll_into_view_if_needed()
        tab.page.wait_for_selector(".page[data-page-index='59'][data-painted]")
        tab.until("document.querySelectorAll('.page canvas').length < 10")
        assert tab.count(".page[data-page-index='0'] canvas") == 0  # dropped, far above
        assert not tab.errors, tab.errors
    finally:
        tab.close()
