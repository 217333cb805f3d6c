"""The real ``annolog serve`` process: write, SIGKILL mid-load, restart, find every ack."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import make_pdf, note

pytestmark = pytest.mark.e2e
TOKEN = "e2e-token"
AUTH = {"Authorization": f"Token token={TOKEN}"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(data_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "API_AUTH_TOKEN": TOKEN, "ANNOLOG_DATA_DIR": str(data_dir),
           "PORT": str(port)}
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir.parent / "serve.log", "ab") as log:
        return subprocess.Popen([sys.executable, "-m", "tools.cli", "serve", "--quiet",
                                 "--host", "127.0.0.1"], env=env,
                                cwd=Path(__file__).resolve().parents[2],
                                stdout=log, stderr=subprocess.STDOUT)


async def wait_ready(base: str, process: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.poll() is None, "annolog serve exited; see serve.log"
            try:
                async with session.get(f"{base}/healthcheck") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError("annolog serve did not become ready")


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
    base = f"http://127.0.0.1:{port}"
    server = start_server(tmp_path / "data", port)
    acknowledged: list[str] = []
    try:
        await wait_ready(base, server)
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
            server.send_signal(signal.SIGKILL)
            server.wait()
            await asyncio.gather(*tasks)
    finally:
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) >= 300

    server = start_server(tmp_path / "data", port)
    try:
        await wait_ready(base, server)
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{base}/api/documents/doc/annotations", headers={
                    **AUTH, "Accept": "application/x-ndjson"}) as response:
                lines = (await response.read()).splitlines()
        stored = {line.split(b'"id":"')[1].split(b'"')[0].decode() for line in lines}
        assert set(acknowledged) <= stored
    finally:
        server.terminate()
        server.wait(10)
