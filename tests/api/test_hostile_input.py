"""Bodies an attacker or a broken client sends (issue 12): each is a clear 4xx, quickly,
and no request stalls the others."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import orjson
import pytest

from tests.conftest import AUTH, make_pdf, note


async def answered_while(client, hostile) -> tuple[object, float]:
    """Run ``hostile`` and, beside it, a cheap request: the seconds the cheap one took."""
    async def cheap() -> float:
        await asyncio.sleep(0.05)
        started = time.perf_counter()
        response = await client.get("/healthcheck")
        assert response.status == 200
        return time.perf_counter() - started
    result, seconds = await asyncio.gather(hostile, cheap())
    return result, seconds


async def test_the_seeds_relaxed_json_still_works(client, document):
    body = (b'{annotations: [{content: {v: 2, type: "pspdfkit/note", pageIndex: 0, '
            b"bbox: [1, 2, 3, 4], opacity: 1,},},],}")
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=body)
    assert (await response.json())["result"] == "success"


async def test_a_large_relaxed_body_is_refused_at_once_and_stalls_no_one(client, document):
    """Regression: a 250 KB body with unquoted keys was parsed by pure-Python json5 on the
    event loop and blocked every request for 13 s."""
    item = b'{content: {v: 2, type: "pspdfkit/note", pageIndex: 0, bbox: [1,2,3,4], opacity: 1}}'
    body = b"{annotations: [" + b",".join([item] * 3000) + b"]}"
    assert len(body) > 250_000
    started = time.perf_counter()
    response, cheap = await answered_while(client, client.post(
        f"/api/documents/{document}/annotations", headers=AUTH, data=body))
    assert response.status == 422
    assert "not valid JSON" in (await response.json())["error"]["reason"]
    assert time.perf_counter() - started < 5 and cheap < 5  # 13 s before; ms now


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,  # strict JSON past orjson's 1,024 levels
    b"{a: " * 100 + b"1" + b"}" * 100,  # relaxed, past pyjson5's 32 levels
])
async def test_json_nested_too_deeply_is_a_422(client, document, body):
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=body)
    assert response.status == 422
    assert (await response.json())["error"]["reason"]


async def test_content_nested_deeply_is_a_failing_path(client, document):
    """600 levels: within orjson's parsing limit, beyond what can be stored or checked."""
    deep = b'{"a": ' * 600 + b"1" + b"}" * 600
    action = b'{"type": "uri", "uri": "https://example.com", "subactions": [' * 400 + \
        b'{"type": "uri", "uri": "https://example.com"}' + b"]}" * 400
    link = orjson.dumps({**note(), "type": "pspdfkit/link"})[:-1] + b', "action": ' + action
    items = [orjson.dumps({"content": note()})[:-2] + b', "customData": ' + deep + b"}}",
             b'{"content": ' + link + b"}}", orjson.dumps({"content": note()})]
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=b'{"annotations": [' + b",".join(items) + b"]}")
    body = await response.json()
    assert response.status == 200, body
    assert [f["path"] for f in body["failing_paths"]] == ["$.annotations[0]",
                                                          "$.annotations[1]"]


async def test_a_large_strict_body_is_parsed_off_the_event_loop(client, document):
    items = [{"id": f"n{i}", "content": note(text="x" * 500)} for i in range(8000)]
    body = orjson.dumps({"annotations": items})
    assert len(body) > 4 * 1024 * 1024  # the child process parses it
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=io.BytesIO(body))
    result = await response.json()
    assert result["result"] == "success" and len(result["data"]) == 8000
    broken = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                               data=io.BytesIO(body[:-1]))
    assert broken.status == 422
    assert "not valid JSON" in (await broken.json())["error"]["reason"]


def raw_multipart(*parts: bytes) -> tuple[bytes, dict[str, str]]:
    boundary = b"b0undary"
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts)
    return body + b"--" + boundary + b"--\r\n", {
        **AUTH, "Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}


@pytest.mark.parametrize("header", [
    b'Content-Disposition: form-data; name="a\x01"',
    b'Content-Disposition: form-data; name="file"\r\nX-Bad\x00Name: 1',
    b"no colon at all",
    b"Content-Disposition: form-data; name=\"" + b"x" * 9000 + b"\"",
])
@pytest.mark.parametrize("route", ["/api/documents", "/api/documents/{doc}/annotations"])
async def test_malformed_multipart_part_headers_are_a_400(client, document, header, route):
    """Regression: InvalidHeader from aiohttp's multipart reader was a 500 (5,000 of the
    fuzzer's 5,007 server errors)."""
    body, headers = raw_multipart(header + b"\r\n\r\n" + b'{"content": {}}')
    response = await client.post(route.format(doc=document), headers=headers, data=body)
    assert response.status == 400, await response.text()
    assert "multipart" in (await response.json())["error"]["reason"]


@pytest.mark.parametrize("header", [
    b"Content-Disposition: form-data; name*=utf-8''%ff%fe",  # aiohttp ignores the name
    b'Content-Disposition: form-data; name="annotation"\r\nContent-Transfer-Encoding: x-y',
    b'Content-Disposition: form-data; name="annotation"\r\nContent-Type: text/plain; '
    b"charset=no-such-charset",
])
@pytest.mark.parametrize("route", ["/api/documents", "/api/documents/{doc}/annotations"])
async def test_odd_but_readable_part_headers_are_a_4xx_with_a_reason(client, document, header,
                                                                     route):
    body, headers = raw_multipart(header + b"\r\n\r\n" + b'{"content": {}}')
    response = await client.post(route.format(doc=document), headers=headers, data=body)
    assert response.status in (400, 422), await response.text()
    assert (await response.json())["error"]["reason"]


async def test_a_body_that_stops_arriving_is_a_408(client, document):
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(f"POST /api/documents/{document}/annotations HTTP/1.1\r\n"
                 f"Host: x\r\nAuthorization: {AUTH['Authorization']}\r\n"
                 "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                 '{"annotations": ['.encode())
    await writer.drain()
    started = time.perf_counter()
    status = await asyncio.wait_for(reader.readline(), 10)
    assert status.startswith(b"HTTP/1.1 408"), status
    assert 0.9 < time.perf_counter() - started < 5  # the test app's timeout is 1 s
    writer.close()


async def test_a_password_protected_upload_error_names_no_server_path(client):
    response = await client.post("/api/documents", data=b"%PDF-1.7\nnot really a pdf",
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    reason = (await response.json())["error"]["reason"]
    assert response.status == 422
    assert "/blobs/" not in reason and "upload-" not in reason and "tmp" not in reason


async def test_a_pdf_upload_still_works(client):
    response = await client.post("/api/documents", data=make_pdf(),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    assert response.status == 200


async def test_a_killed_offload_process_is_replaced(client, document):
    """The child that parses large bodies may die (killed, out of memory): the next large
    body starts another, and the server goes on."""
    import os
    import signal

    from api.services import SERVICES

    items = [{"content": note(text="x" * 500)} for i in range(8000)]
    body = orjson.dumps({"annotations": items})
    url = f"/api/documents/{document}/annotations"
    first = await client.post(url, headers=AUTH, data=io.BytesIO(body))
    assert (await first.json())["result"] == "success"
    pool = client.server.app[SERVICES].offload._pool
    for pid in list(pool._processes):
        os.kill(pid, signal.SIGKILL)
    await asyncio.sleep(0.5)
    again = await client.post(url, headers=AUTH, data=io.BytesIO(body))
    assert (await again.json())["result"] == "success"
    assert client.server.app[SERVICES].offload._pool is not pool  # a new child


async def test_a_large_batch_is_written_a_part_at_a_time(client, document, monkeypatch):
    """A batch that need not be all or nothing is appended in parts, so other writes take
    turns with it and the writer holds one part at a time (issue 12, stalls and memory);
    the answer is the same as for one append, with the revision that completes it."""
    import api.services
    from api.services import SERVICES

    services = client.server.app[SERVICES]
    url = f"/api/documents/{document}/annotations"
    taken = await client.post(url, headers=AUTH, json={"id": "taken", "content": note()})
    assert taken.status == 200
    monkeypatch.setattr(api.services, "WRITE_PART", 3)
    appends = services.writer.batches
    items = [{"id": "taken" if i == 7 else f"n{i}", "content": note()} for i in range(10)]
    response = await client.post(url, headers=AUTH, json={"annotations": items})
    body = await response.json()
    assert services.writer.batches - appends == 4
    assert body["result"] == "partial_failure"
    assert [f["path"] for f in body["failing_paths"]] == ["$.annotations[7]"]
    assert [r["id"] for r in body["data"]] == [f"n{i}" for i in range(10) if i != 7]
    assert body["revision"] == services.log.max_revision()

    appends = services.writer.batches
    form = aiohttp.FormData()
    instant = {"format": "https://pspdfkit.com/instant-json/v1",
               "annotations": [{**note(), "id": f"i{i}"} for i in range(10)]}
    form.add_field("instant.json", orjson.dumps(instant), filename="instant.json",
                   content_type="application/json")
    applied = await client.post(f"/api/documents/{document}/apply_instant_json",
                                headers=AUTH, data=form)
    assert applied.status == 200, await applied.text()
    assert services.writer.batches - appends == 1  # all or nothing: one append
