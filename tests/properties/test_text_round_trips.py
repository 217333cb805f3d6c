"""Any text the API accepts comes back byte for byte (issue 26, section 1): sent through every
write path, in strict JSON and in the seed's relaxed syntax, it reads back identical through
every read path: the record, lists, NDJSON, document.json, the change feed, history, the sync
socket's catch-up, the annotated PDF's /Contents and XFDF (which carries every character XML
1.0 can hold; the others it writes as U+FFFD, as docs/api.md says).

Regression: relaxed bodies were read as Latin-1, so "Grüße" was stored as "GrÃ¼Ãe"."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from typing import Any, TypeVar

import aiohttp
import orjson
import pikepdf
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from projections.instant_json import FORMAT
from projections.xfdf import xml_text
from tests.conftest import AUTH, make_pdf, note
from tests.live import Live

T = TypeVar("T")
# Non-English text as people write it, and the corners: astral planes, combining marks,
# right-to-left scripts, joiners, controls, NUL and line ends.
SAMPLES = ["Grüße", "日本語のテキスト", "😀👍🏽 👨‍👩‍👧", "e\u0301 a\u0308 \u0915\u094d\u0937",
           "مرحبا بالعالم", "שָׁלוֹם", "𝕬𝖓𝖓𝖔 𐍈", "\u00a0\u2028", "a\x00b\x01", "\r\n\r", "\\\"'",
           "\ufeffbom", "\U0010ffff"]
TEXTS = st.sampled_from(SAMPLES) | st.text(st.characters(exclude_categories=["Cs"]),
                                           max_size=12)
XFDF_NS = "{http://ns.adobe.com/xfdf/}"


def relaxed(value: Any) -> bytes:
    """``value`` in the seed's relaxed syntax: a comment, unquoted keys, a trailing comma.
    Non-ASCII text stays raw UTF-8 (orjson escapes nothing), which is what was misread."""
    text = orjson.dumps(value).decode()
    text = re.sub(r'"([A-Za-z_][A-Za-z0-9_]*)":', r"\1:", text)  # keys only: see below
    # Inside a string every '"' is escaped, so a match always starts at a key's own quote.
    assert text.endswith("}")
    return ("// as the seed writes it\n" + text[:-1] + ",}").encode()


def body(value: Any, relaxed_syntax: bool) -> dict[str, Any]:
    data = relaxed(value) if relaxed_syntax else orjson.dumps(value)
    return {"data": data, "headers": {**AUTH, "Content-Type": "application/json"}}


def custom(text: str) -> dict[str, Any]:
    return {"text": text, "as key": {text: True}}


def content(text: str, page: int = 0) -> dict[str, Any]:
    return note(page, text, customData=custom(text))


def marker(text: str) -> dict[str, Any]:
    return {"v": 2, "type": "pspdfkit/comment-marker", "pageIndex": 0,
            "bbox": [50, 50, 20, 20], "opacity": 1, "customData": custom(text)}


def comment(text: str) -> dict[str, Any]:
    return {"v": 2, "type": "pspdfkit/comment", "pageIndex": 0, "rootId": "root",
            "text": {"format": "plain", "value": text}, "customData": custom(text)}


async def expect_ok(response: aiohttp.ClientResponse) -> Any:
    answer = await response.text()
    assert response.status == 200, answer
    return orjson.loads(answer)


async def write_every_way(client: TestClient, document: str, text: str, relaxed_syntax: bool
                          ) -> dict[str, str]:
    """Each write path stores one record (or comment) holding ``text``; their ids, each
    with the layer it is in."""
    base = f"/api/documents/{document}"
    await expect_ok(await client.post(f"{base}/annotations", **body(
        {"id": "one", "content": content(text)}, relaxed_syntax)))
    await expect_ok(await client.post(f"{base}/annotations", **body(
        {"annotations": [{"id": "batch", "content": content(text)}]}, relaxed_syntax)))
    await expect_ok(await client.post(f"{base}/annotations", json={
        "id": "put", "content": content("before")}, headers=AUTH))
    await expect_ok(await client.put(f"{base}/annotations/put", **body(
        {"content": content(text)}, relaxed_syntax)))
    form = aiohttp.FormData()
    part = {"annotations": [{"id": "multipart", "content": content(text)}]}
    form.add_field("annotation", relaxed(part) if relaxed_syntax else orjson.dumps(part),
                   content_type="application/json", filename="annotation.json")
    await expect_ok(await client.post(f"{base}/annotations", data=form, headers=AUTH))
    instant = {"format": FORMAT, "annotations": [{**content(text), "id": "applied"}]}
    await expect_ok(await client.post(f"{base}/apply_instant_json",
                                      **body(instant, relaxed_syntax)))
    form = aiohttp.FormData()
    instant = {"format": FORMAT, "annotations": [{**content(text), "id": "applied-part"}]}
    form.add_field("instant.json", relaxed(instant) if relaxed_syntax else orjson.dumps(instant),
                   filename="instant.json", content_type="application/json")
    await expect_ok(await client.post(f"{base}/apply_instant_json", data=form, headers=AUTH))
    await expect_ok(await client.post(f"{base}/comments", **body(
        {"annotation": {"id": "root", "content": marker(text)},
         "comments": [{"id": "first", "content": comment(text)}]}, relaxed_syntax)))
    await expect_ok(await client.post(f"{base}/annotations/root/comments", **body(
        {"comments": [{"id": "reply", "content": comment(text)}]}, relaxed_syntax)))
    async with client.ws_connect(f"{base}/sync", headers=AUTH) as ws:
        await ws.send_str(orjson.dumps({"type": "changes", "changes": [
            {"op": "create", "changeId": 1, "id": "synced", "content": content(text)}]}
        ).decode())
        while (reply := orjson.loads((await ws.receive(timeout=10)).data))["type"] not in (
                "confirmed", "rejected"):
            pass
        assert reply["type"] == "confirmed", reply
    return {"one": "", "batch": "", "put": "", "multipart": "", "applied": "",
            "applied-part": "", "synced": "", "root": ""}


async def upload_with_instant_json(client: TestClient, text: str, relaxed_syntax: bool) -> str:
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(1), filename="a.pdf", content_type="application/pdf")
    instant = {"format": FORMAT, "annotations": [{**content(text), "id": "uploaded"}]}
    form.add_field("attachment", relaxed(instant) if relaxed_syntax else orjson.dumps(instant),
                   filename="instant.json", content_type="application/json")
    answer = await expect_ok(await client.post("/api/documents", data=form, headers=AUTH))
    return answer["data"]["document_id"]


def texts_of(record: dict[str, Any]) -> list[str]:
    """The copies of the text a record was written with, wherever it keeps them."""
    found = [record["customData"]["text"], *record["customData"]["as key"]]
    if "text" in record:
        found.append(record["text"]["value"])
    return found


async def read_every_way(client: TestClient, document: str, ids: list[str]
                         ) -> dict[str, dict[str, dict[str, Any]]]:
    """path -> id -> the record's content (or comment) as that path gives it back."""
    base = f"/api/documents/{document}"
    read: dict[str, dict[str, dict[str, Any]]] = {}
    read["get"] = {i: (await expect_ok(await client.get(f"{base}/annotations/{i}",
                                                        headers=AUTH)))["content"]
                   for i in ids}
    listed = await expect_ok(await client.get(f"{base}/annotations", headers=AUTH))
    read["list"] = {r["id"]: r["content"] for r in listed["data"]["annotations"]}
    streamed = await client.get(f"{base}/annotations",
                                headers={**AUTH, "Accept": "application/x-ndjson"})
    read["ndjson"] = {r["id"]: r["content"] for r in
                      map(orjson.loads, (await streamed.read()).splitlines())}
    exported = await expect_ok(await client.get(f"{base}/document.json", headers=AUTH))
    read["document.json"] = {r["id"]: r for r in exported["annotations"]}
    read["document.json comments"] = {c["id"]: c for c in exported["comments"]}
    changes = await client.get(f"{base}/changes?since=0", headers=AUTH)
    read["changes"] = {c["id"]: c["record"]["content"] for c in
                       map(orjson.loads, (await changes.read()).splitlines())
                       if c["kind"] != "deleted" and c.get("of") != "comment"}
    read["history"] = {i: (await expect_ok(await client.get(
        f"{base}/annotations/{i}/history", headers=AUTH)))["data"][-1]["record"]["content"]
        for i in ids}
    comments = await expect_ok(await client.get(f"{base}/annotations/root/comments",
                                                headers=AUTH))
    read["comments"] = {c["id"]: c["content"] for c in comments["data"]["comments"]}
    read["sync"] = {}
    async with client.ws_connect(f"{base}/sync?revision=0", headers=AUTH) as ws:
        while (message := orjson.loads((await ws.receive(timeout=10)).data))["type"] != \
                "caught_up":
            if message["type"] == "change" and message["kind"] != "deleted" and \
                    message.get("of") != "comment":
                read["sync"][message["id"]] = message["record"]["content"]
    return read


async def pdf_contents(client: TestClient, document: str) -> dict[str, str]:
    """/NM -> /Contents of the annotations (and replies) of the annotated PDF."""
    response = await client.get(f"/api/documents/{document}/pdf?comments=true", headers=AUTH)
    assert response.status == 200
    found = {}
    with pikepdf.open(io.BytesIO(await response.read())) as pdf:
        for page in pdf.pages:
            for annotation in page.get("/Annots", []):
                if "/PSPDF:Id" in annotation:  # no /Contents: no text
                    found[str(annotation["/PSPDF:Id"])] = str(annotation.get("/Contents", ""))
    return found


async def xfdf_contents(client: TestClient, document: str) -> dict[str, str]:
    response = await client.get(f"/api/documents/{document}/document.xfdf", headers=AUTH)
    assert response.status == 200
    root = ET.fromstring(await response.read())  # a strict parser: the document is well formed
    return {element.get("name", ""): element.findtext(f"{XFDF_NS}contents", "")
            for element in root.find(f"{XFDF_NS}annots") or ()}


def check(text: str, live: Live, relaxed_syntax: bool) -> None:
    client = live.client
    document = live.run(upload_with_instant_json(client, text, relaxed_syntax))
    ids = list(live.run(write_every_way(client, document, text, relaxed_syntax))) + ["uploaded"]
    notes = [i for i in ids if i != "root"]
    read = live.run(read_every_way(client, document, ids))
    for path, records in read.items():
        expected = ["first", "reply"] if "comments" in path else ids
        assert sorted(records) == sorted(expected), path
        for record_id, record in records.items():
            assert all(t == text for t in texts_of(record)), (path, record_id, record)
    # In a PDF the marker (root) holds its first comment's text, as the engine writes a
    # thread, and the later comments are replies; in XFDF every comment is a reply.
    in_pdf = live.run(pdf_contents(client, document))
    assert in_pdf == dict.fromkeys(notes + ["root", "reply"], text)
    in_xfdf = live.run(xfdf_contents(client, document))
    assert in_xfdf == {**dict.fromkeys(notes + ["first", "reply"], xml_text(text)), "root": ""}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=TEXTS, relaxed_syntax=st.booleans())
def test_any_text_reads_back_exactly_from_every_path(live: Live, text: str,
                                                     relaxed_syntax: bool) -> None:
    check(text, live, relaxed_syntax)


@pytest.mark.parametrize("text", SAMPLES)
def test_each_sample_survives_relaxed_and_strict_bodies(live: Live, text: str) -> None:
    check(text, live, True)
    check(text, live, False)


BAD_UTF8 = [b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe6\x97"]


@pytest.mark.parametrize("bad", BAD_UTF8)
def test_bodies_that_are_not_utf8_are_refused_and_store_nothing(live: Live, bad: bytes
                                                                ) -> None:
    live.run(_refused_everywhere(live.client, bad))


def _form(part: str, data: bytes, **fields: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for key, value in fields.items():
        form.add_field(key, value)
    form.add_field(part, data, filename=f"{part}.json", content_type="application/json")
    return form


async def _refused_everywhere(client: TestClient, bad: bytes) -> None:
    document = (await expect_ok(await client.post(
        "/api/documents", data=make_pdf(1),
        headers={**AUTH, "Content-Type": "application/pdf"})))["data"]["document_id"]
    base = f"/api/documents/{document}"
    before = await _document_count(client)
    strict = orjson.dumps({"id": "x", "content": note()}).replace(b'"hello"',
                                                                  b'"he' + bad + b'llo"')
    loose = b"{annotations: [" + strict + b",],}"
    instant = b'{format: "' + FORMAT.encode() + b'", annotations: [' + strict + b"]}"
    json = {**AUTH, "Content-Type": "application/json"}
    xfdf = b'<?xml version="1.0"?><xfdf><annots><text page="0" rect="1,1,9,9" name="x">' \
           b"<contents>" + bad + b"</contents></text></annots></xfdf>"
    upload_xfdf = _form("attachment", xfdf)
    upload_xfdf.add_field("file", make_pdf(1), filename="a.pdf", content_type="application/pdf")
    upload_title = _form("attachment", instant, title="T\u00e9")
    upload_title.add_field("file", make_pdf(1), filename="a.pdf", content_type="application/pdf")
    upload_title.add_field("document_id", io.BytesIO(b"d" + bad), content_type="text/plain")
    attempts: list[tuple[str, str, Any, dict[str, str]]] = [
        ("strict", f"{base}/annotations", strict, json),
        ("relaxed", f"{base}/annotations", loose, json),
        ("import", f"{base}/apply_instant_json", instant, json),
        ("multipart", f"{base}/annotations", _form("annotation", loose), AUTH),
        ("import part", f"{base}/apply_instant_json", _form("instant.json", instant), AUTH),
        ("layer", f"{base}/layers", _form("instant.json", instant, name="L"), AUTH),
        ("upload XFDF", "/api/documents", upload_xfdf, AUTH),
        ("upload field", "/api/documents", upload_title, AUTH),
    ]
    for what, path, data, headers in attempts:
        response = await client.post(path, data=data, headers=headers)
        answer = await response.json()
        assert response.status == 400, (what, answer)
        assert "not valid UTF-8" in answer["error"]["reason"], (what, answer)
    async with client.ws_connect(f"{base}/sync", headers=AUTH) as ws:
        await ws.send_bytes(b'{"type": "changes", "changes": []}')  # binary: an error reply
        while (message := orjson.loads((await ws.receive(timeout=10)).data))["type"] != "error":
            pass
        assert "text frames" in message["reason"]
        # A text frame that is not UTF-8: the socket is closed with 1007, as RFC 6455 says.
        await ws._writer.send_frame(b'{"type": "changes", "changes": [' + strict + b"]}",
                                    aiohttp.WSMsgType.TEXT)
        while (closing := await ws.receive(timeout=10)).type not in (
                aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING):
            pass
        assert ws.close_code == 1007, closing
    listed = await expect_ok(await client.get(f"{base}/annotations", headers=AUTH))
    assert listed["data"]["annotations"] == []
    assert (await expect_ok(await client.get(f"{base}/layers", headers=AUTH)))["data"] == []
    assert await _document_count(client) == before


async def _document_count(client: TestClient) -> int:
    documents = await expect_ok(await client.get("/api/documents?page_size=1", headers=AUTH))
    return documents["document_count"]
