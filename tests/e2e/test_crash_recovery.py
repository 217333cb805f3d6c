"""The real ``annolog serve`` process: write, SIGKILL mid-load, restart, find every ack."""

from __future__ import annotations

import asyncio

import aiohttp
import orjson
import pytest

from tests.conftest import make_pdf, note
from tools.process import ServerProcess, free_port

pytestmark = pytest.mark.e2e
TOKEN = "e2e-token"
AUTH = {"Authorization": f"Token token={TOKEN}"}


async def writer_task(session: aiohttp.ClientSession, base: str, worker: int,
                      acknowledged: list[str]) -> None:
    for i in range(10_000):
        annotation_id = f"w{worker}-{i}"
        try:
            async with session.post(f"{base}/api/documents/doc/annotations", headers=AUTH,
                                    json={"annotations": [{"id": annotation_id,
                                                           "content": note()}]}) as response:
                if response.status == 200 and (await response.json())["result"] == "success":
                    acknowledged.append(annotation_id)
        except (aiohttp.ClientError, asyncio.TimeoutError):
            return


async def test_every_acknowledged_write_survives_sigkill(tmp_path):
    port = free_port()
    server = ServerProcess(tmp_path / "data", port, TOKEN)
    base = server.base
    acknowledged: list[str] = []
    try:
        await server.ready()
        async with aiohttp.ClientSession() as session:
            form = aiohttp.FormData()
            form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
            form.add_field("document_id", "doc")
            async with session.post(f"{base}/api/documents", data=form, headers=AUTH) as r:
                assert r.status == 200
            tasks = [asyncio.create_task(writer_task(session, base, w, acknowledged))
                     for w in range(8)]
            while len(acknowledged) < 300:
                await asyncio.sleep(0.02)
            server.kill()
            await asyncio.gather(*tasks)
    finally:
        server.stop()
    assert len(acknowledged) >= 300

    server = ServerProcess(tmp_path / "data", port, TOKEN)
    try:
        await server.ready()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/api/documents/doc/annotations", headers={
                    **AUTH, "Accept": "application/x-ndjson"}) as response:
                lines = (await response.read()).splitlines()
        stored = {orjson.loads(line)["id"] for line in lines}
        assert set(acknowledged) <= stored
    finally:
        server.stop()
