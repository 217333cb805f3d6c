"""Three ``annolog serve`` processes on one PostgreSQL log."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from typing import Any

import aiohttp
import orjson
import pytest

from tests.conftest import make_pdf, note, postgres_schema
from tools.process import ServerProcess, free_port

pytestmark = pytest.mark.e2e
TOKEN = "cluster-token"
AUTH = {"Authorization": f"Token token={TOKEN}"}


@pytest.fixture
def database_url():
    with postgres_schema() as url:
        yield url


async def listing(session: aiohttp.ClientSession, server: ServerProcess, revision: int
                  ) -> list[dict]:
    async with session.get(f"{server.base}/api/documents/doc/annotations", headers={
            **AUTH, "Accept": "application/x-ndjson",
            "Annolog-Min-Revision": str(revision)}) as response:
        assert response.status == 200, await response.text()
        return [orjson.loads(line) for line in (await response.read()).splitlines()]


def nodes(tmp_path: Any, database_url: str, count: int) -> list[ServerProcess]:
    """``annolog serve`` processes on one PostgreSQL log, sharing one blob directory."""
    blobs = tmp_path / "shared-blobs"
    return [ServerProcess(tmp_path / f"node{i}" / "data", free_port(), TOKEN,
                          ANNOLOG_DATABASE_URL=database_url, ANNOLOG_BLOB_DIR=str(blobs))
            for i in range(count)]


async def upload_doc(session: aiohttp.ClientSession, server: ServerProcess) -> None:
    """The document "doc", uploaded through ``server``."""
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("document_id", "doc")
    async with session.post(f"{server.base}/api/documents", data=form,
                            headers=AUTH) as response:
        assert response.status == 200


async def test_three_processes_share_one_log(tmp_path, database_url):
    servers = nodes(tmp_path, database_url, 3)
    try:
        await asyncio.gather(*(s.ready() for s in servers))
        async with aiohttp.ClientSession() as session:
            await upload_doc(session, servers[0])

            async def write(node: int, i: int) -> int:
                server = servers[node]
                async with session.post(f"{server.base}/api/documents/doc/annotations",
                                        headers={**AUTH, "Annolog-Min-Revision": "1"},
                                        json={"annotations": [{"id": f"n{node}-{i}",
                                                               "content": note()}]}) as r:
                    body = await r.json()
                    assert body["result"] == "success", body
                    return body["revision"]

            revisions = await asyncio.gather(*(write(i % 3, i) for i in range(90)))
            # the same record updated through all three processes at once
            async def update(node: int) -> int:
                async with session.put(f"{servers[node].base}/api/documents/doc/annotations",
                                       headers=AUTH, json={"annotations": [
                                           {"id": "n0-0", "content": note(text=str(node))}]}
                                       ) as r:
                    return (await r.json())["revision"] or 0
            revisions += await asyncio.gather(*(update(n) for n in range(3)))
            latest = max(revisions)
            # read your write through another process
            seen = await asyncio.gather(*(listing(session, s, latest) for s in servers))
        assert len(seen[0]) == 90
        assert seen[0] == seen[1] == seen[2]
    finally:
        for server in servers:
            server.stop()
    for i in range(3):
        env = {**os.environ, "ANNOLOG_DATABASE_URL": database_url}
        result = subprocess.run([sys.executable, "-m", "tools.cli", "verify", "--data-dir",
                                 str(tmp_path / f"node{i}" / "data")], env=env,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "no drift" in result.stdout


async def test_a_change_through_one_process_reaches_sync_clients_of_another(tmp_path,
                                                                            database_url):
    servers = [ServerProcess(tmp_path / f"node{i}" / "data", free_port(), TOKEN,
                             ANNOLOG_DATABASE_URL=database_url,
                             ANNOLOG_BLOB_DIR=str(tmp_path / "blobs")) for i in range(2)]
    try:
        await asyncio.gather(*(s.ready() for s in servers))
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{servers[0].base}/api/documents", data=make_pdf(),
                                    headers={**AUTH, "Content-Type": "application/pdf"}) as r:
                upload = await r.json()
            document = upload["data"]["document_id"]
            async with session.ws_connect(  # read your write (the upload) through process B
                    f"{servers[1].base}/api/documents/{document}/sync",
                    headers={**AUTH, "Annolog-Min-Revision": str(upload["revision"])}) as ws:
                while orjson.loads((await ws.receive()).data)["type"] != "caught_up":
                    pass
                async with session.post(f"{servers[0].base}/api/documents/{document}/"
                                        "annotations", headers=AUTH, json={"annotations": [
                                            {"id": "far", "content": note()}]}) as r:
                    revision = (await r.json())["revision"]
                message = {"type": None}
                while message["type"] != "change":
                    message = orjson.loads((await asyncio.wait_for(ws.receive(), 10)).data)
                assert (message["id"], message["revision"]) == ("far", revision)
    finally:
        for server in servers:
            server.stop()


async def test_two_processes_posting_to_one_thread_at_once_both_land(tmp_path, database_url):
    """Comments of one thread, posted through two processes at the same moment, ten times:
    the thread's stream takes one, the other process decides again and lands too."""
    servers = nodes(tmp_path, database_url, 2)
    try:
        await asyncio.gather(*(s.ready() for s in servers))
        async with aiohttp.ClientSession() as session:
            await upload_doc(session, servers[0])
            marker = {"v": 2, "type": "pspdfkit/comment-marker", "pageIndex": 0,
                      "bbox": [1, 1, 10, 10], "opacity": 1}
            async with session.post(f"{servers[0].base}/api/documents/doc/comments",
                                    headers=AUTH, json={
                                        "annotation": {"id": "root", "content": marker},
                                        "comments": [{"content": {"text": {
                                            "format": "plain", "value": "first"}}}]}) as r:
                assert r.status == 200, await r.text()
                revision = (await r.json())["revision"]

            async def reply(node: int, i: int) -> int:
                async with session.post(
                        f"{servers[node].base}/api/documents/doc/annotations/root/comments",
                        headers={**AUTH, "Annolog-Min-Revision": str(revision)},
                        json={"comments": [{"id": f"c{node}-{i}", "content": {"text": {
                            "format": "plain", "value": f"{node} {i}"}}}]}) as r:
                    assert r.status == 200, await r.text()
                    return (await r.json())["revision"]

            latest = 0
            for i in range(10):
                latest = max(latest, *await asyncio.gather(reply(0, i), reply(1, i)))
            for server in servers:
                async with session.get(
                        f"{server.base}/api/documents/doc/annotations/root/comments",
                        headers={**AUTH, "Annolog-Min-Revision": str(latest)}) as r:
                    comments = (await r.json())["data"]["comments"]
                assert len(comments) == 21
                assert {c["id"] for c in comments} >= {f"c{n}-{i}" for n in (0, 1)
                                                        for i in range(10)}
    finally:
        for server in servers:
            server.stop()
