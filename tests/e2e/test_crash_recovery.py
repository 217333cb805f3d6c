"""The real ``annolog serve`` process: write, SIGKILL mid-load, restart, find every ack."""

from __future__ import annotations

import asyncio
import hashlib

import aiohttp
import orjson
import pytest

from tests.conftest import make_pdf, note
from tools.process import ServerProcess, free_port
from tools.samples import make_png

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
        except (TimeoutError, aiohttp.ClientError):
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


async def test_a_kill_during_an_upload_leaves_no_partial_blob(tmp_path):
    data = tmp_path / "data"
    port = free_port()
    server = ServerProcess(data, port, TOKEN)
    png = make_png(4 * 1024 * 1024, seed=7)
    sha = hashlib.sha256(png).hexdigest()
    try:
        await server.ready()
        async with aiohttp.ClientSession() as session:
            async with session.post(f"{server.base}/api/documents", data=make_pdf(), headers={
                    **AUTH, "Content-Type": "application/pdf"}) as response:
                document = (await response.json())["data"]["document_id"]
        head, tail = multipart_body(sha, png)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write((f"POST /api/documents/{document}/annotations HTTP/1.1\r\n"
                      f"Host: x\r\nAuthorization: Token token={TOKEN}\r\n"
                      f"Content-Type: multipart/form-data; boundary=b\r\n"
                      f"Content-Length: {len(head) + len(png) + len(tail)}\r\n\r\n").encode()
                     + head + png[:len(png) // 2])
        await writer.drain()
        tmp = data / "blobs" / "tmp"
        for _ in range(100):  # the server is streaming the part to a temporary file
            if any(p.stat().st_size > 0 for p in tmp.iterdir()):
                break
            await asyncio.sleep(0.05)
        assert any(tmp.iterdir())
        server.kill()
        writer.close()
    finally:
        server.stop()
    assert not (data / "blobs" / sha[:2] / sha).exists()

    server = ServerProcess(data, port, TOKEN)
    try:
        await server.ready()
        assert list((data / "blobs" / "tmp").iterdir()) == []
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.base}/api/documents/{document}/attachments/{sha}",
                                   headers=AUTH) as response:
                assert response.status == 404
    finally:
        server.stop()


def multipart_body(sha: str, png: bytes) -> tuple[bytes, bytes]:
    content = {"bbox": [1, 1, 1, 1], "opacity": 1, "pageIndex": 0, "type": "pspdfkit/image",
               "contentType": "image/png", "imageAttachmentId": sha, "v": 1}
    head = (b'--b\r\nContent-Disposition: form-data; name="annotation"\r\n\r\n'
            + orjson.dumps({"annotations": [{"content": content}]})
            + f'\r\n--b\r\nContent-Disposition: form-data; name="{sha}"; filename="a.png"\r\n'
              f'Content-Type: image/png\r\n\r\n'.encode())
    return head, b"\r\n--b--\r\n"
