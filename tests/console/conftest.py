"""The console's tests need Node.js (the client library's own tests) and Chromium with
Playwright (the browser tests). Each skips where its tool is missing, except under
ANNOLOG_REQUIRE_BROWSER=1 (CI), where a missing tool is a failure."""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tests.conftest import make_text_pdf as text_pdf  # noqa: F401 (the console tests' PDF)
from tools.jwt_tools import generate_keys
from tools.process import ServerProcess, free_port

TOKEN = "console-secret"
AUTH = {"Authorization": f'Token token="{TOKEN}"'}
PRIVATE, PUBLIC = generate_keys("ES256")  # client JWTs the test servers accept
JWT_ENV = {"JWT_PUBLIC_KEY": PUBLIC.decode(), "JWT_ALGORITHM": "ES256"}
REQUIRED = os.environ.get("ANNOLOG_REQUIRE_BROWSER") == "1"
CHROMIUM = os.environ.get("ANNOLOG_CHROMIUM", "/usr/bin/chromium")


def need(available: bool, what: str) -> None:
    if not available:
        if REQUIRED:
            pytest.fail(f"{what} is missing and ANNOLOG_REQUIRE_BROWSER=1")
        pytest.skip(f"{what} is missing")


def node_or_skip() -> str:
    node = shutil.which("node")
    need(node is not None, "node (Node.js)")
    assert node is not None
    return node


def started(data: Path, **env: str) -> ServerProcess:
    """A real ``annolog serve`` on the embedded default, once it answers. Waits without an
    event loop: Playwright's sync API runs one in this thread."""
    import requests

    server = ServerProcess(data, free_port(), TOKEN, **{**JWT_ENV, **env})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"annolog serve exited; see {server.log_path}")
        try:
            if requests.get(f"{server.base}/healthcheck", timeout=5).status_code == 200:
                return server
        except requests.ConnectionError:
            pass
        time.sleep(0.1)
    server.stop()
    raise TimeoutError(f"annolog serve did not become ready; see {server.log_path}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """A real server, one per module, that also takes client JWTs signed by PRIVATE."""
    server = started(tmp_path_factory.mktemp("console") / "data")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    need(Path(CHROMIUM).exists(), f"Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        yield browser
        browser.close()
