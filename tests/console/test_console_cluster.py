"""The console against a PostgreSQL cluster: two ``annolog serve`` processes on one log, one
window on each, one of them reached through a reverse proxy (paths kept, WebSockets passed
through). What one person draws reaches the other across processes and the proxy."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest
import requests
from aiohttp import web

from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, postgres_schema
from tests.console.conftest import AUTH, started, text_pdf
from tests.console.tabs import Console, person, wait_for_records
from tools.process import ServerProcess, free_port

pytestmark = pytest.mark.e2e
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "host",
              "content-length", "sec-websocket-key", "sec-websocket-version",
              "sec-websocket-extensions", "sec-websocket-accept"}


class Proxy:
    """A reverse proxy in a thread of its own: every path to one upstream, WebSocket
    upgrades included, with the client's subprotocols (its credentials) passed on."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.ready.wait(10), "the proxy did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self.runner = web.AppRunner(app)
        self.loop.run_until_complete(self.runner.setup())
        self.loop.run_until_complete(web.TCPSite(self.runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()

    async def _forward(self, request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        url = self.upstream + request.rel_url.raw_path_qs
        async with aiohttp.ClientSession(auto_decompress=False) as session:
            if request.headers.get("Upgrade", "").lower() == "websocket":
                return await self._websocket(request, session, url, headers)
            async with session.request(request.method, url, headers=headers,
                                       data=await request.read(),
                                       allow_redirects=False) as upstream:
                body = await upstream.read()
                return web.Response(status=upstream.status, body=body, headers={
                    k: v for k, v in upstream.headers.items() if k.lower() not in HOP_BY_HOP})

    async def _websocket(self, request: web.Request, session: aiohttp.ClientSession, url: str,
                         headers: dict[str, str]) -> web.StreamResponse:
        offered = [p.strip() for p in request.headers.get("Sec-WebSocket-Protocol", "").split(",")
                   if p.strip()]
        headers.pop("Sec-WebSocket-Protocol", None)
        async with session.ws_connect(url.replace("http", "ws", 1), headers=headers,
                                      protocols=offered) as upstream:
            downstream = web.WebSocketResponse(protocols=[upstream.protocol]
                                               if upstream.protocol else ())
            await downstream.prepare(request)

            async def pump(source, sink) -> None:  # type: ignore[no-untyped-def]
                async for message in source:
                    if message.type == aiohttp.WSMsgType.TEXT:
                        await sink.send_str(message.data)
                await sink.close(code=source.close_code or 1000)

            await asyncio.gather(pump(upstream, downstream), pump(downstream, upstream),
                                 return_exceptions=True)
            return downstream

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[ServerProcess, ServerProcess, Proxy]]:
    if POSTGRES_URL is None:
        if REQUIRE_POSTGRES:
            pytest.fail("ANNOLOG_REQUIRE_POSTGRES=1 but ANNOLOG_TEST_DATABASE_URL is not set")
        pytest.skip("PostgreSQL tests need ANNOLOG_TEST_DATABASE_URL")
    with postgres_schema() as url:
        shared = {"ANNOLOG_DATABASE_URL": url, "ANNOLOG_BLOB_DIR": str(tmp_path / "blobs")}
        first = started(tmp_path / "one" / "data", **shared)
        second = started(tmp_path / "two" / "data", **shared)
        proxy = Proxy(second.base)
        try:
            yield first, second, proxy
        finally:
            proxy.stop()
            first.stop()
            second.stop()


def test_two_windows_on_two_processes_one_behind_a_proxy(browser, cluster):
    first, _, proxy = cluster
    response = requests.post(f"{first.base}/api/documents", headers=AUTH, timeout=30,
                             files={"file": ("t.pdf", text_pdf(1), "application/pdf")})
    document = response.json()["data"]["document_id"]
    alice = Console(browser, first.base, document, person(document, "alice"))
    bob = Console(browser, proxy.base, document, person(document, "bob"))
    try:
        bob.until("document.querySelector('#presence').innerText.includes('alice')", 10)
        alice.tool("rectangle")
        alice.drag([(100, 100), (220, 180)])
        (rectangle_id,) = wait_for_records(first.base, document, 1)
        bob.page.wait_for_selector(f"g.annotation[data-id='{rectangle_id}']", timeout=3000)
        bob.tool("ink")
        bob.drag([(100, 300), (200, 340), (260, 300)])
        found = wait_for_records(first.base, document, 2)
        (ink_id,) = [i for i in found if i != rectangle_id]
        alice.page.wait_for_selector(f"g.annotation[data-id='{ink_id}']", timeout=3000)
        assert found[ink_id]["createdBy"] == "bob"
        assert not alice.errors and not bob.errors, alice.errors + bob.errors
    finally:
        alice.close()
        bob.close()
