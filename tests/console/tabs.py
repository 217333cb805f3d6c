"""What the browser tests share: a console tab driven like a person would, and the calls
that check what the server stored."""

from __future__ import annotations

import time
from typing import Any

import jwt
import requests
from playwright.sync_api import Browser, Page

from tests.console.conftest import AUTH, PRIVATE, TOKEN, text_pdf

VIEWPORT = {"width": 1280, "height": 900}


def upload(base: str, title: str, pages: int = 2) -> str:
    response = requests.post(f"{base}/api/documents", headers=AUTH, timeout=30,
                             files={"file": ("t.pdf", text_pdf(pages), "application/pdf")},
                             data={"title": title})
    assert response.status_code == 200, response.text
    return response.json()["data"]["document_id"]


def records(base: str, document: str) -> dict[str, dict[str, Any]]:
    response = requests.get(f"{base}/api/documents/{document}/annotations",
                            headers=AUTH, timeout=30)
    assert response.status_code == 200, response.text
    return {r["id"]: r for r in response.json()["data"]["annotations"]}


class Console:
    """One person's console tab, with the page's errors collected."""

    def __init__(self, browser: Browser, base: str, document: str,
                 credential: str = TOKEN) -> None:
        self.context = browser.new_context(viewport=VIEWPORT, accept_downloads=True)
        self.page: Page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda m: m.type == "error" and self.errors.append(m.text))
        self.page.goto(f"{base}/console/#document={document}")
        self.sign_in(credential)

    def sign_in(self, credential: str) -> None:
        self.page.fill("#credential", credential)
        self.page.click("#login button[type=submit]")
        self.page.wait_for_selector("#connection.open", timeout=15000)
        self.page.wait_for_selector(".page[data-page-index='0'][data-painted]")

    def tool(self, name: str) -> None:
        self.page.click(f"#tools button[data-tool='{name}']")

    def overlay_box(self, page_index: int = 0) -> dict[str, float]:
        box = self.page.locator(f".page[data-page-index='{page_index}'] svg.overlay")
        found = box.bounding_box()
        assert found is not None
        return found

    def drag(self, points: list[tuple[float, float]]) -> None:
        """A mouse gesture through points given relative to page 0's top-left corner."""
        box = self.overlay_box()
        mouse = self.page.mouse
        mouse.move(box["x"] + points[0][0], box["y"] + points[0][1])
        mouse.down()
        for x, y in points[1:]:
            mouse.move(box["x"] + x, box["y"] + y, steps=4)
        mouse.up()

    def shown(self, annotation_id: str) -> dict[str, float]:
        """Where an annotation is drawn, relative to page 0's top-left corner."""
        element = self.page.locator(f"g.annotation[data-id='{annotation_id}']")
        found = element.bounding_box()
        assert found is not None
        box = self.overlay_box()
        return {"x": found["x"] - box["x"], "y": found["y"] - box["y"],
                "width": found["width"], "height": found["height"]}

    def until(self, expression: str, timeout: float = 5) -> None:
        """Poll a JavaScript expression until it is true (wait_for_function evaluates a
        string the console's Content-Security-Policy refuses, rightly)."""
        deadline = time.monotonic() + timeout
        while not self.page.evaluate(expression):
            assert time.monotonic() < deadline, f"timed out waiting for {expression}"
            self.page.wait_for_timeout(20)

    def count(self, selector: str) -> int:
        return self.page.locator(selector).count()

    def close(self) -> None:
        self.context.close()


def person(document: str, user_id: str, permissions: tuple[str, ...] = (
        "read-document", "write", "download")) -> str:
    """A client JWT for one person on one document."""
    claims = {"document_id": document, "permissions": list(permissions), "user_id": user_id,
              "exp": int(time.time()) + 600}
    return jwt.encode(claims, PRIVATE, algorithm="ES256")


def new_ids(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [i for i in after if i not in before]


def wait_for_records(base: str, document: str, count: int) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = records(base, document)
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"expected {count} records, have {records(base, document)}")


def near(a: dict[str, float], b: dict[str, float], tolerance: float = 4) -> bool:
    return all(abs(a[k] - b[k]) <= tolerance for k in ("x", "y", "width", "height"))
