"""The real ``annolog serve`` against slow and greedy clients (issue 12): a client trickling
its headers is cut off, connections beyond the cap are refused at once, the others are
served throughout, and the development token never listens beyond this machine."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from tools.process import ROOT, ServerProcess, free_port

pytestmark = pytest.mark.e2e
TOKEN = "e2e-token"


def listening_addresses(port: int) -> list[str]:
    """The IPv4 addresses a TCP socket listens on at ``port`` (from /proc/net/tcp)."""
    addresses = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, hex_port = local.split(":")
        if int(hex_port, 16) == port and state == "0A":  # LISTEN
            addresses.append(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return addresses


async def open_socket(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port)


async def closed_within(reader: asyncio.StreamReader, seconds: float) -> bytes:
    """What the server sent before it closed the connection (fails if it stays open)."""
    return await asyncio.wait_for(reader.read(), seconds)


async def test_slow_and_greedy_clients_are_cut_off_and_others_still_served(tmp_path):
    server = ServerProcess(tmp_path / "data", free_port(), TOKEN,
                           ANNOLOG_HEADER_TIMEOUT="1", ANNOLOG_MAX_CONNECTIONS="4")
    try:
        await server.ready()
        port = int(server.base.rsplit(":", 1)[1])
        # A client that trickles its headers a byte at a time is closed after ~1 s.
        reader, writer = await open_socket(port)
        started = time.perf_counter()

        async def trickle() -> None:
            for byte in b"GET /healthcheck HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                writer.write(bytes([byte]))
                await asyncio.sleep(0.2)
        trickling = asyncio.create_task(trickle())
        assert await closed_within(reader, 5) == b""
        assert time.perf_counter() - started < 3
        trickling.cancel()
        writer.close()

        # Four idle connections fill the cap: the fifth is refused at once with a 503 ...
        held = [await open_socket(port) for _ in range(4)]
        await asyncio.sleep(0.2)
        refused, refused_writer = await open_socket(port)
        answer = await closed_within(refused, 2)
        refused_writer.close()
        assert answer.startswith(b"HTTP/1.1 503") and b"ANNOLOG_MAX_CONNECTIONS" in answer
        # ... and once the idle ones time out, everyone is served again.
        for reader, idle in held:
            assert await closed_within(reader, 5) == b""
            idle.close()
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.base}/healthcheck") as response:
                assert response.status == 200
    finally:
        server.stop()


async def test_the_development_token_listens_on_loopback_only_and_a_busy_port_is_one_line(
        tmp_path):
    port = free_port()
    server = ServerProcess(tmp_path / "data", port, "", host=None, HOST="")  # neither set
    try:
        await server.ready()
        log = server.log_path.read_text()
        assert "listens on 127.0.0.1 only" in log
        assert listening_addresses(port) == ["127.0.0.1"]
        busy = subprocess.run(
            [sys.executable, "-m", "tools.cli", "serve", "--port", str(port), "--host",
             "127.0.0.1", "--data-dir", str(tmp_path / "other")], cwd=ROOT,
            capture_output=True, text=True, timeout=60,
            env={"PATH": "/usr/bin:/bin", "API_AUTH_TOKEN": "x"})
        assert busy.returncode == 1
        assert "already in use" in busy.stderr and "Traceback" not in busy.stderr
    finally:
        server.stop()
