"""The real Nutrient Web SDK (npm ``@nutrient-sdk/viewer``, pinned in package.json) in
Chromium, Standalone, no licence key (a trial watermark), as a user's page runs it: served
from its own origin by a local static server, annolog on another (so CORS is exercised),
every request to anywhere else blocked (the SDK's metrics). The first run installs it from
the lockfile (``npm ci --prefix tests/websdk``) where npm is; without it the tests skip,
except under ANNOLOG_REQUIRE_BROWSER=1 (CI)."""

from __future__ import annotations

import http.server
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.console.conftest import CHROMIUM, need, started
from tools.process import ServerProcess, free_port

HERE = Path(__file__).parent
DIST = HERE / "node_modules" / "@nutrient-sdk" / "viewer" / "dist"


class SiteHandler(http.server.SimpleHTTPRequestHandler):
    """The page at /, the SDK's files under /sdk/ (its baseUrl)."""

    extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                      ".wasm": "application/wasm", ".js": "text/javascript"}

    def translate_path(self, path: str) -> str:
        path = path.split("?")[0]
        if path.startswith("/sdk/"):
            return str(DIST / path.removeprefix("/sdk/"))
        return str(HERE / "page.html")

    def log_message(self, *args: Any) -> None:
        pass


def install() -> bool:
    """The SDK's package, installed from the lockfile the first time (where npm is)."""
    if not (DIST / "nutrient-viewer.js").exists():
        npm = shutil.which("npm")
        if npm is None:
            return False
        subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--silent"], cwd=HERE,
                       capture_output=True, timeout=900, check=False)
    return (DIST / "nutrient-viewer.js").exists()


@pytest.fixture(scope="session")
def site() -> Iterator[str]:
    """The page's origin (``localhost``, where annolog is ``127.0.0.1``: another origin)."""
    need(install(), "the Web SDK (npm ci --prefix tests/websdk)")
    port = free_port()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), SiteHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://localhost:{port}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def annolog(site: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = started(tmp_path_factory.mktemp("websdk") / "data", ANNOLOG_CORS_ORIGINS=site)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()


def open_page(browser: Browser, site: str, annolog: ServerProcess) -> Page:
    """A tab on the page; requests anywhere but the site and annolog are blocked (and
    recorded in ``page.blocked``)."""
    page = browser.new_page(viewport={"width": 900, "height": 700})
    blocked: list[str] = []

    def route(request_route: Any) -> None:
        url = request_route.request.url
        if url.startswith((site, annolog.base)):
            request_route.continue_()
        else:
            blocked.append(url)
            request_route.abort()
    page.route("**/*", route)
    page.blocked = blocked  # type: ignore[attr-defined]
    page.goto(site + "/")
    return page


