"""PDF downloads with the annotations written in (issue 15, first part): every written type is
a PDF annotation of its subtype with an appearance that shows where the record says, checked
by rendering the PDF with PDFium and comparing pixels with the PDF rendered without them."""

from __future__ import annotations

import hashlib
import io
from typing import Any
from xml.etree import ElementTree

import aiohttp
import orjson
import pikepdf
import pypdfium2
import pytest
from PIL import Image

from tests.conftest import AUTH, make_pdf, make_text_pdf, note

SUBTYPES = {
    "n": "/Text", "r": "/Square", "e": "/Circle", "l": "/Line", "pl": "/PolyLine",
    "pg": "/Polygon", "i": "/Ink", "h": "/Highlight", "u": "/Underline", "s": "/StrikeOut",
    "q": "/Squiggly", "t": "/FreeText", "k": "/Link",
}


def shape(kind: str, bbox: list[float], **extra: Any) -> dict[str, Any]:
    return {"v": 2, "type": kind, "pageIndex": 0, "bbox": bbox, "opacity": 1,
            "strokeWidth": 3, "strokeColor": "#CC0000", **extra}


def markup(kind: str, bbox: list[float]) -> dict[str, Any]:
    return {"v": 2, "type": f"pspdfkit/markup/{kind}", "pageIndex": 0, "bbox": bbox,
            "opacity": 1, "color": "#0000FF", "rects": [bbox]}


RECORDS = [
    {"id": "n", "content": note(bbox=[20, 20, 24, 24], text="a note")},
    {"id": "r", "content": shape("pspdfkit/shape/rectangle", [80, 30, 100, 60],
                                 fillColor="#00CC00")},
    {"id": "e", "content": shape("pspdfkit/shape/ellipse", [220, 30, 100, 60])},
    {"id": "l", "content": shape("pspdfkit/shape/line", [360, 30, 120, 60],
                                 startPoint=[365, 35], endPoint=[475, 85],
                                 lineCaps={"end": "closedArrow"})},
    {"id": "pl", "content": shape("pspdfkit/shape/polyline", [30, 130, 120, 80],
                                  points=[[35, 135], [90, 205], [145, 135]])},
    {"id": "pg", "content": shape("pspdfkit/shape/polygon", [200, 130, 120, 80],
                                  points=[[205, 135], [315, 140], [260, 205]])},
    {"id": "i", "content": {"v": 2, "type": "pspdfkit/ink", "pageIndex": 0,
                            "bbox": [360, 130, 120, 80], "opacity": 1, "lineWidth": 4,
                            "strokeColor": "#AA00AA", "isDrawnNaturally": False,
                            "lines": {"points": [[[365, 135], [420, 205], [475, 135]]],
                                      "intensities": [[1, 1, 1]]}}},
    {"id": "h", "content": markup("highlight", [30, 250, 200, 16])},
    {"id": "u", "content": markup("underline", [30, 290, 200, 16])},
    {"id": "s", "content": markup("strikeout", [30, 330, 200, 16])},
    {"id": "q", "content": markup("squiggly", [30, 370, 200, 16])},
    {"id": "t", "content": {"v": 2, "type": "pspdfkit/text", "pageIndex": 0,
                            "bbox": [280, 250, 250, 40], "opacity": 1, "fontSize": 14,
                            "fontColor": "#000000", "horizontalAlign": "left",
                            "verticalAlign": "top",
                            "text": {"format": "plain", "value": "Free text, written in"}}},
    {"id": "k", "content": {"v": 2, "type": "pspdfkit/link", "pageIndex": 0,
                            "bbox": [280, 330, 100, 20], "opacity": 1,
                            "action": {"type": "uri", "uri": "https://example.com/"}}},
]
INVISIBLE = {"k"}  # a link has no appearance: viewers show the page under it


def render(pdf: bytes, page: int = 0, password: str | None = None) -> Any:
    """The page as PDFium draws it, annotations included, at 72 dpi (a pixel a point)."""
    document = pypdfium2.PdfDocument(pdf, password=password)
    return document[page].render(scale=1, draw_annots=True).to_pil().convert("RGB")


def differs(before: Any, after: Any, box: tuple[float, float, float, float]) -> int:
    """How many pixels of ``box`` (left, top, right, bottom in pixels) changed."""
    region = tuple(round(v) for v in box)
    old, new = before.crop(region).tobytes(), after.crop(region).tobytes()
    return sum(a != b for a, b in zip(old, new, strict=True))


async def write_with_attachment(client: Any, document: str, records: list[dict[str, Any]],
                                sha: str, data: bytes, content_type: str) -> None:
    form = aiohttp.FormData()
    form.add_field("annotations", orjson.dumps({"annotations": records}).decode(),
                   content_type="application/json")
    form.add_field(sha, data, filename="attachment", content_type=content_type)
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 data=form)
    assert (await response.json())["result"] == "success"


def instant_form(instant: Any) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("instant.json", orjson.dumps(instant), filename="instant.json",
                   content_type="application/json")
    return form


async def download(client: Any, document: str, **query: str) -> Any:
    return await client.get(f"/api/documents/{document}/pdf", headers=AUTH, params=query)


async def upload(client: Any, pdf: bytes) -> str:
    response = await client.post("/api/documents", data=pdf,
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    return (await response.json())["data"]["document_id"]


async def write(client: Any, document: str, records: list[dict[str, Any]]) -> int:
    response = await client.post(f"/api/documents/{document}/annotations", headers=AUTH,
                                 json={"annotations": records})
    body = await response.json()
    assert body["result"] == "success", body
    return body["revision"]


async def test_every_written_type_is_an_annotation_of_its_subtype_drawn_where_it_is(
        client, document):
    await write(client, document, RECORDS)
    response = await download(client, document)
    assert response.status == 200
    assert response.content_type == "application/pdf"
    assert response.headers["Annolog-Skipped"] == "0"
    annotated = await response.read()
    with pikepdf.open(io.BytesIO(annotated)) as pdf:
        written = {str(a["/PSPDF:Id"]): a for a in pdf.pages[0].obj.Annots}
        assert {k: str(a.Subtype) for k, a in written.items()} == SUBTYPES
        assert all("/AP" in a for k, a in written.items() if k not in INVISIBLE)
        assert str(written["k"].A.URI) == "https://example.com/"
        assert str(written["n"].Contents) == "a note"
        height = float(pdf.pages[0].mediabox[3])
        left, top, width, tall = RECORDS[1]["content"]["bbox"]
        assert [float(v) for v in written["r"].Rect] == [left, height - top - tall,
                                                         left + width, height - top]
    plain = await (await download(client, document, annotations="false")).read()
    before, after = render(plain), render(annotated)
    for record in RECORDS:
        left, top, width, tall = record["content"]["bbox"]
        changed = differs(before, after, (left, top, left + width, top + tall))
        assert (changed > 0) == (record["id"] not in INVISIBLE), record["id"]
    # nothing is drawn outside the records' boxes
    assert differs(before, after, (0, 450, 612, 792)) == 0


async def test_flattened_the_annotations_are_page_content(client, document):
    await write(client, document, RECORDS[:3])
    flat = await (await download(client, document, flatten="true")).read()
    with pikepdf.open(io.BytesIO(flat)) as pdf:
        assert len(pdf.pages[0].obj.get("/Annots", [])) == 0
    plain = await (await download(client, document, annotations="false")).read()
    before = render(plain)
    after = pypdfium2.PdfDocument(flat)[0].render(scale=1, draw_annots=False).to_pil()
    for record in RECORDS[:3]:
        left, top, width, tall = record["content"]["bbox"]
        assert differs(before, after.convert("RGB"), (left, top, left + width, top + tall))


async def test_flattening_drops_links_as_the_engine_does(client):
    """The engine's flattened PDF has no links, its own or the PDF's (issue 26): a link
    draws nothing, so flattening kept them as annotations."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    pdf.pages[0].obj.Annots = pikepdf.Array([pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Link, Rect=[10, 10, 100, 100],
        A=pikepdf.Dictionary(S=pikepdf.Name.URI, URI=pikepdf.String("https://own"))))])
    out = io.BytesIO()
    pdf.save(out)
    document = await upload(client, out.getvalue())
    link = {"v": 2, "type": "pspdfkit/link", "pageIndex": 0, "bbox": [200, 200, 50, 20],
            "opacity": 1, "action": {"type": "uri", "uri": "https://example.com"}}
    await write(client, document, [{"id": "l", "content": link}])
    with pikepdf.open(io.BytesIO(await (await download(client, document)).read())) as kept:
        assert len(kept.pages[0].obj.Annots) == 2  # the PDF's link, read as a record, and ours
    flat = await (await download(client, document, flatten="true")).read()
    with pikepdf.open(io.BytesIO(flat)) as flattened:
        assert len(flattened.pages[0].obj.get("/Annots", [])) == 0


async def test_a_cropped_and_rotated_page_shows_the_record_where_the_web_sdk_does(client):
    """Instant JSON measures from the CropBox's top-left corner of the unrotated page, and
    the page turns with its /Rotate, annotations included."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(600, 800))
    pdf.pages[0].obj.CropBox = pikepdf.Array([50, 100, 550, 700])
    pdf.pages[0].obj.Rotate = 90
    out = io.BytesIO()
    pdf.save(out)
    document = await upload(client, out.getvalue())
    record = {"id": "box", "content": shape("pspdfkit/shape/rectangle", [10, 20, 100, 50],
                                            fillColor="#00CC00")}
    await write(client, document, [record])
    annotated = await (await download(client, document)).read()
    with pikepdf.open(io.BytesIO(annotated)) as opened:
        [annotation] = opened.pages[0].obj.Annots
        assert [float(v) for v in annotation.Rect] == [60, 630, 160, 680]
    before = render(await (await download(client, document, annotations="false")).read())
    after = render(annotated)
    assert after.size == (600, 500)  # the 500 x 600 CropBox, turned a quarter clockwise
    # turned clockwise, the box's top-left corner (10, 20) goes to the top right:
    # x = 600 - 20 - 50, y = 10, and its width and height swap
    turned = (600 - 20 - 50, 10, 600 - 20, 10 + 100)
    assert differs(before, after, turned) > 0.5 * 3 * 50 * 100
    outside = (0, 200, 400, 500)
    assert differs(before, after, outside) == 0


async def test_a_download_shows_the_layer_at_a_revision(client, document):
    first = await write(client, document, RECORDS[1:2])
    response = await client.delete(f"/api/documents/{document}/annotations/r", headers=AUTH)
    assert response.status == 200
    then = await (await download(client, document, revision=str(first))).read()
    with pikepdf.open(io.BytesIO(then)) as pdf:
        assert [str(a["/PSPDF:Id"]) for a in pdf.pages[0].obj.Annots] == ["r"]
    now = await (await download(client, document)).read()
    with pikepdf.open(io.BytesIO(now)) as pdf:
        assert "/Annots" not in pdf.pages[0].obj


async def test_a_protected_pdf_keeps_its_password(client):
    document = await upload(client, make_pdf(user_password="s3cret"))
    headers = {**AUTH, "pspdfkit-pdf-password": "s3cret"}
    response = await client.post(f"/api/documents/{document}/annotations", headers=headers,
                                 json={"annotations": RECORDS[1:2]})
    assert (await response.json())["result"] == "success"
    annotated = await (await client.get(f"/api/documents/{document}/pdf",
                                        headers=headers)).read()
    with pytest.raises(pikepdf.PasswordError):
        pikepdf.open(io.BytesIO(annotated))
    with pikepdf.open(io.BytesIO(annotated), password="s3cret") as pdf:
        assert [str(a["/PSPDF:Id"]) for a in pdf.pages[0].obj.Annots] == ["r"]


def png(color: tuple[int, int, int, int], size: tuple[int, int] = (20, 10)) -> bytes:
    out = io.BytesIO()
    Image.new("RGBA", size, color).save(out, "PNG")
    return out.getvalue()


async def test_stamps_images_and_redactions_show_what_they_are(client, document):
    image = png((255, 0, 0, 255))
    sha = hashlib.sha256(image).hexdigest()
    records = [
        {"id": "st", "content": {"v": 2, "type": "pspdfkit/stamp", "pageIndex": 0,
                                 "bbox": [20, 20, 160, 50], "opacity": 1,
                                 "stampType": "Approved"}},
        {"id": "cu", "content": {"v": 2, "type": "pspdfkit/stamp", "pageIndex": 0,
                                 "bbox": [220, 20, 160, 50], "opacity": 1,
                                 "stampType": "Custom", "title": "Checked",
                                 "color": "#0000FF"}},
        {"id": "im", "content": {"v": 2, "type": "pspdfkit/image", "pageIndex": 0,
                                 "bbox": [20, 120, 80, 60], "opacity": 1,
                                 "contentType": "image/png", "imageAttachmentId": sha}},
        {"id": "rd", "content": {"v": 2, "type": "pspdfkit/markup/redaction", "pageIndex": 0,
                                 "bbox": [220, 120, 100, 20], "opacity": 1,
                                 "rects": [[220, 120, 100, 20]], "outlineColor": "#FF0000"}},
    ]
    await write_with_attachment(client, document, records, sha, image, "image/png")
    response = await download(client, document)
    assert response.headers["Annolog-Skipped"] == "0"
    annotated = await response.read()
    with pikepdf.open(io.BytesIO(annotated)) as pdf:
        written = {str(a["/PSPDF:Id"]): a for a in pdf.pages[0].obj.Annots}
        assert (str(written["st"].Subtype), str(written["st"].Name)) == ("/Stamp", "/Approved")
        assert str(written["im"].Subtype) == "/Stamp"
        assert str(written["rd"].Subtype) == "/Redact"
    before = render(await (await download(client, document, annotations="false")).read())
    after = render(annotated)
    for record in records:
        left, top, width, tall = record["content"]["bbox"]
        assert differs(before, after, (left, top, left + width, top + tall)), record["id"]
    # the image fills its box with its own pixels
    assert after.getpixel((60, 150)) == (255, 0, 0)


async def test_records_that_cannot_be_written_are_counted_not_lost(client, document):
    """An image showing a page of a PDF that cannot be opened (a password) is stored, but
    cannot be drawn into PDFs."""
    page = make_pdf(1, user_password="secret")
    sha = hashlib.sha256(page).hexdigest()
    image = {"id": "im", "content": {
        "v": 2, "type": "pspdfkit/image", "pageIndex": 0, "bbox": [10, 10, 100, 40],
        "opacity": 1, "contentType": "application/pdf", "imageAttachmentId": sha}}
    await write(client, document, [RECORDS[1]])
    await write_with_attachment(client, document, [image], sha, page, "application/pdf")
    response = await download(client, document)
    assert response.headers["Annolog-Skipped"] == "1"
    with pikepdf.open(io.BytesIO(await response.read())) as pdf:
        assert [str(a["/PSPDF:Id"]) for a in pdf.pages[0].obj.Annots] == ["r"]


@pytest.mark.parametrize("query, reason", [
    ({"source": "true", "flatten": "true"}, "takes no other option"),
    ({"type": "pdfa"}, "PDF/A"),
    ({"flatten": "yes"}, "true or false"),
])
async def test_options_it_cannot_honour_are_a_400_that_says_why(client, document, query,
                                                                   reason):
    response = await download(client, document, **query)
    assert response.status == 400
    assert reason in (await response.json())["error"]["reason"]


async def test_the_source_is_the_upload_byte_for_byte(client):
    original = make_pdf()
    document = await upload(client, original)
    await write(client, document, RECORDS[1:2])
    assert await (await download(client, document, source="true")).read() == original


async def test_the_options_may_come_as_a_json_body(client, document):
    await write(client, document, RECORDS[1:3])
    url = f"/api/documents/{document}/pdf"
    flat = await client.post(url, headers=AUTH, json={"flatten": True})
    assert flat.status == 200
    with pikepdf.open(io.BytesIO(await flat.read())) as pdf:
        assert len(pdf.pages[0].obj.get("/Annots", [])) == 0
    response = await client.post(url, headers=AUTH, json={"source": True, "flatten": False})
    assert response.status == 400
    response = await client.post(url, headers=AUTH, json={"flatten": [1]})
    assert response.status == 400


async def test_pdf_with_instant_json_applies_a_document_and_stores_nothing(client, document):
    await write(client, document, RECORDS[1:2])
    before = await client.get(f"/api/documents/{document}/document.json", headers=AUTH)
    revision = before.headers["Annolog-Revision"]
    instant = {"format": "https://pspdfkit.com/instant-json/v1",
               "annotations": [{**RECORDS[2]["content"], "id": "e"},
                               {**RECORDS[1]["content"], "id": "r", "strokeColor": "#0000FF"}]}
    form = instant_form(instant)
    response = await client.post(f"/api/documents/{document}/pdf_with_instant_json",
                                 headers=AUTH, data=form)
    assert response.status == 200, await response.text()
    with pikepdf.open(io.BytesIO(await response.read())) as pdf:
        written = {str(a["/PSPDF:Id"]): a for a in pdf.pages[0].obj.Annots}
        assert set(written) == {"r", "e"}
        assert [float(c) for c in written["r"].C] == [0, 0, 1]  # the import's version
    after = await client.get(f"/api/documents/{document}/document.json", headers=AUTH)
    assert after.headers["Annolog-Revision"] == revision
    assert [a["id"] for a in (await after.json())["annotations"]] == ["r"]
    bad = instant_form({"format": "https://pspdfkit.com/instant-json/v1",
                        "annotations": [{"type": "pspdfkit/note"}]})
    response = await client.post(f"/api/documents/{document}/pdf_with_instant_json",
                                 headers=AUTH, data=bad)
    assert response.status == 422


async def test_comment_threads_are_replies_to_their_roots_when_asked_for(client, document):
    marker = {"v": 2, "type": "pspdfkit/comment-marker", "pageIndex": 0,
              "bbox": [100, 100, 24, 24], "opacity": 1}
    instant = {"format": "https://pspdfkit.com/instant-json/v1",
               "annotations": [{**marker, "id": "m"},
                               {**RECORDS[7]["content"], "id": "h"}],
               "comments": [
                   {"v": 2, "type": "pspdfkit/comment", "id": f"c{i}", "rootId": root,
                    "pageIndex": 0, "creatorName": who, "createdAt": f"2026-01-0{i}T10:00:00Z",
                    "updatedAt": f"2026-01-0{i}T10:00:00Z",
                    "text": {"format": "plain", "value": text}}
                   for i, (root, who, text) in enumerate([
                       ("m", "ann", "first"), ("m", "bob", "second"), ("h", "cy", "why?")],
                       start=1)]}
    form = instant_form(instant)
    response = await client.post(f"/api/documents/{document}/apply_instant_json",
                                 headers=AUTH, data=form)
    assert response.status == 200, await response.text()
    with pikepdf.open(io.BytesIO(await (await download(client, document)).read())) as pdf:
        assert [str(a["/PSPDF:Id"]) for a in pdf.pages[0].obj.Annots] == ["h"]  # threads left out
    asked = await (await download(client, document, comments="true")).read()
    with pikepdf.open(io.BytesIO(asked)) as pdf:
        annotations = {str(a["/PSPDF:Id"]): a for a in pdf.pages[0].obj.Annots}
        assert set(annotations) == {"m", "h", "c2"}
        assert str(annotations["m"].Subtype) == "/Text"
        assert str(annotations["m"]["/PSPDF:InstantType"]) == "pspdfkit/comment-marker"
        # As the engine writes a thread: its root holds the first comment, the rest reply.
        assert (str(annotations["m"].Contents), str(annotations["m"].T)) == ("first", "ann")
        assert str(annotations["m"]["/PSPDF:FirstCommentId"]) == "c1"
        assert annotations["c2"].IRT.objgen == annotations["m"].objgen
        assert (str(annotations["h"].Contents), str(annotations["h"].T)) == ("why?", "cy")
        assert str(annotations["h"]["/PSPDF:FirstCommentId"]) == "c3"
    again = await upload(client, asked)
    threads = {root: [(c["id"], c["content"]["text"]["value"], c["content"]["creatorName"])
                      for c in (await (await client.get(
                          f"/api/documents/{again}/annotations/{root}/comments",
                          headers=AUTH)).json())["data"]["comments"]] for root in ("m", "h")}
    assert threads == {"m": [("c1", "first", "ann"), ("c2", "second", "bob")],
                       "h": [("c3", "why?", "cy")]}


# ---- a PDF's own annotations ---------------------------------------------------------------

def close(a: Any, b: Any) -> bool:
    """Equal, numbers within half a point."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(a - b) <= 0.5
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    return a == b


COMPARED = ("type", "pageIndex", "bbox", "strokeColor", "fillColor", "color", "strokeWidth",
            "lineWidth", "text", "lines", "startPoint", "endPoint", "lineCaps", "points",
            "rects", "action", "stampType", "fontSize", "fontColor")


async def records_of(client: Any, document: str, layer: str = ""
                     ) -> dict[str, dict[str, Any]]:
    where = f"/layers/{layer}" if layer else ""
    response = await client.get(f"/api/documents/{document}{where}/annotations", headers={
        **AUTH, "Accept": "application/x-ndjson"})
    return {r["id"]: r["content"] for r in map(orjson.loads, (await response.read()).splitlines())}


async def test_records_survive_a_round_trip_through_a_downloaded_pdf(client, document):
    """Records -> the annotated PDF -> uploaded as a new document -> the same records."""
    stamp = {"id": "st", "content": {"v": 2, "type": "pspdfkit/stamp", "pageIndex": 0,
                                     "bbox": [20, 500, 160, 50], "opacity": 1,
                                     "stampType": "Approved"}}
    redaction = {"id": "rd", "content": {"v": 2, "type": "pspdfkit/markup/redaction",
                                         "pageIndex": 1, "bbox": [20, 20, 100, 20],
                                         "opacity": 1, "rects": [[20, 20, 100, 20]]}}
    await write(client, document, [*RECORDS, stamp, redaction])
    pdf = await (await download(client, document)).read()
    response = await client.post("/api/documents", data=pdf,
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    body = await response.json()
    assert body["data"]["errors"] == []
    copy = body["data"]["document_id"]
    original, read = await records_of(client, document), await records_of(client, copy)
    assert read.keys() == original.keys()  # each /NM became the record's id again
    for annotation_id, content in original.items():
        for key in COMPARED:  # what the record says (a default drawn may come back named)
            if key in content:
                assert close(read[annotation_id].get(key), content[key]), (annotation_id, key)
        assert isinstance(read[annotation_id]["pdfObjectId"], int)


def acrobat_like_pdf() -> bytes:
    """Three annotations as Acrobat writes them: a note with a /Popup child, a square with
    an appearance stream, a highlight without one; plus a form field's widget."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    page = pdf.pages[0].obj
    note_annotation = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[100, 700, 120, 720],
        Contents=pikepdf.String("from Acrobat"), T=pikepdf.String("Ann"), NM="acro-note",
        C=[1, 1, 0], F=4, M=pikepdf.String("D:20260102030405+01'00'")))
    popup = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Popup, Rect=[120, 600, 300, 700],
        Parent=note_annotation))
    note_annotation.Popup = popup
    appearance = pikepdf.Stream(pdf, b"0 0 1 RG 2 w 1 1 98 48 re S", Type=pikepdf.Name.XObject,
                                Subtype=pikepdf.Name.Form, BBox=[0, 0, 100, 50])
    square = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=[200, 500, 300, 550],
        C=[0, 0, 1], BS=pikepdf.Dictionary(W=2), F=4,
        AP=pikepdf.Dictionary(N=appearance)))
    highlight = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Highlight, Rect=[50, 400, 250, 415],
        QuadPoints=[50, 415, 250, 415, 50, 400, 250, 400], C=[1, 1, 0], F=4))
    widget = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Widget, FT=pikepdf.Name.Tx,
        T=pikepdf.String("field"), Rect=[50, 100, 200, 120]))
    page.Annots = pdf.make_indirect(pikepdf.Array([note_annotation, popup, square, highlight,
                                                   widget]))
    pdf.Root.AcroForm = pikepdf.Dictionary(Fields=[widget])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


async def test_an_uploaded_pdfs_annotations_are_records_and_never_doubled(client):
    document = await upload(client, acrobat_like_pdf())
    records = await records_of(client, document)
    assert len(records) == 3  # the popup and the widget are the PDF's own
    assert records["acro-note"]["text"]["value"] == "from Acrobat"
    assert records["acro-note"]["creatorName"] == "Ann"
    assert records["acro-note"]["updatedAt"] == "2026-01-02T02:04:05Z"
    square_id = next(i for i, c in records.items() if c["type"] == "pspdfkit/shape/rectangle")
    highlight_id = next(i for i, c in records.items()
                        if c["type"] == "pspdfkit/markup/highlight")
    assert records[square_id]["bbox"] == [200, 242, 100, 50]
    # delete one, change another, download, upload the download: exactly two, one changed
    response = await client.delete(f"/api/documents/{document}/annotations/{highlight_id}",
                                   headers=AUTH)
    assert response.status == 200
    changed = {**records[square_id], "strokeColor": "#FF0000"}
    response = await client.put(f"/api/documents/{document}/annotations/{square_id}",
                                headers=AUTH, json={"content": changed})
    assert response.status == 200, await response.text()
    pdf = await (await download(client, document)).read()
    with pikepdf.open(io.BytesIO(pdf)) as opened:
        subtypes = sorted(str(a.Subtype) for a in opened.pages[0].obj.Annots)
    assert subtypes == ["/Square", "/Text", "/Widget"]  # no popup orphaned, no highlight
    again = await records_of(client, await upload(client, pdf))
    assert len(again) == 2
    assert {c["type"] for c in again.values()} == {"pspdfkit/note",
                                                   "pspdfkit/shape/rectangle"}
    [square] = [c for c in again.values() if c["type"] == "pspdfkit/shape/rectangle"]
    assert square["strokeColor"] == "#FF0000"


async def test_what_cannot_be_read_is_listed_and_the_rest_is_kept(client):
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    attachment = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment, Rect=[10, 10, 30, 30]))
    square = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=[200, 500, 300, 550]))
    pdf.pages[0].obj.Annots = pikepdf.Array([attachment, square])
    out = io.BytesIO()
    pdf.save(out)
    response = await client.post("/api/documents", data=out.getvalue(),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    body = await response.json()
    with pikepdf.open(io.BytesIO(out.getvalue())) as saved:
        [number] = [a.objgen[0] for a in saved.pages[0].obj.Annots
                    if a.Subtype == pikepdf.Name.FileAttachment]
    [error] = body["data"]["errors"]
    assert error["pageIndex"] == 0 and error["pdfObjectId"] == number
    assert "/FileAttachment" in error["reason"]
    assert len(await records_of(client, body["data"]["document_id"])) == 1


def pdf_with_replies() -> bytes:
    """A highlight with a thread as Acrobat writes one: two replies (/IRT, /RT /R; the
    second answers the first), a /Popup, and an annotation grouped with it (/RT /Group)."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    highlight = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Highlight, Rect=[50, 400, 250, 415],
        QuadPoints=[50, 415, 250, 415, 50, 400, 250, 400], C=[1, 1, 0], F=4, NM="hl"))
    popup = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Popup, Rect=[260, 380, 400, 440],
        Parent=highlight))
    highlight.Popup = popup
    first = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[50, 400, 70, 420],
        IRT=highlight, RT=pikepdf.Name.R, Contents=pikepdf.String("Is this right?"),
        T=pikepdf.String("Ann"), NM="r1", F=4,
        CreationDate=pikepdf.String("D:20260103090000Z"),
        M=pikepdf.String("D:20260103090500Z")))
    second = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[50, 400, 70, 420],
        IRT=first, Contents=pikepdf.String("Yes."), T=pikepdf.String("Bob"), F=4))
    grouped = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Square, Rect=[50, 300, 90, 340],
        IRT=highlight, RT=pikepdf.Name.Group, F=4))
    pdf.pages[0].obj.Annots = pikepdf.Array([highlight, popup, first, second, grouped])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


async def test_replies_in_an_uploaded_pdf_become_its_threads(client):
    response = await client.post("/api/documents", data=pdf_with_replies(),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    body = await response.json()
    document = body["data"]["document_id"]
    [error] = body["data"]["errors"]
    assert "/RT /Group" in error["reason"]
    assert list(await records_of(client, document)) == ["hl"]
    thread = (await (await client.get(f"/api/documents/{document}/annotations/hl/comments",
                                      headers=AUTH)).json())["data"]["comments"]
    assert [(c["content"]["text"]["value"], c["content"].get("creatorName"))
            for c in thread] == [("Is this right?", "Ann"), ("Yes.", "Bob")]
    assert thread[0]["id"] == "r1" and thread[0]["content"]["rootId"] == "hl"
    assert thread[0]["content"]["createdAt"] == "2026-01-03T09:00:00Z"
    assert isinstance(thread[1]["content"]["pdfObjectId"], int)
    # downloads replace the originals: the thread once with comments=true, else not at all
    with pikepdf.open(io.BytesIO(await (await download(client, document)).read())) as pdf:
        assert [str(a.Subtype) for a in pdf.pages[0].obj.Annots] == ["/Highlight"]
    asked = await (await download(client, document, comments="true")).read()
    with pikepdf.open(io.BytesIO(asked)) as pdf:
        replies = [a for a in pdf.pages[0].obj.Annots if "/IRT" in a]
        [root] = [a for a in pdf.pages[0].obj.Annots if "/IRT" not in a]
        assert [str(a.Contents) for a in replies] == ["Yes."]  # the first is in its root
        assert (str(root.Contents), str(root["/PSPDF:FirstCommentId"])) == ("Is this right?",
                                                                             "r1")
    # and the download read back has the same thread
    again = await upload(client, asked)
    response = await client.get(f"/api/documents/{again}/annotations/hl/comments",
                                headers=AUTH)
    assert [c["content"]["text"]["value"] for c in (await response.json())["data"][
        "comments"]] == ["Is this right?", "Yes."]


async def test_named_layers_start_from_the_base_layer(client):
    """The PDF's own annotations as uploaded are the base layer: a layer created without a
    source (or from one that does not exist), and a layer's first write, start from it,
    whatever the default layer became since."""
    document = await upload(client, pdf_with_replies())
    base = await records_of(client, document)
    base_url = f"/api/documents/{document}"
    await client.delete(f"{base_url}/annotations/hl", headers=AUTH)  # the default moves on
    for name, body in (("plain", {"name": "plain"}),
                       ("from-nothing", {"name": "from-nothing", "source_layer_name": "no"})):
        response = await client.post(f"{base_url}/layers", headers=AUTH, json=body)
        assert response.status == 200, await response.text()
        assert await records_of(client, document, name) == base
        thread = await client.get(f"{base_url}/layers/{name}/annotations/hl/comments",
                                  headers=AUTH)
        assert len((await thread.json())["data"]["comments"]) == 2  # its thread too
    from_default = await client.post(f"{base_url}/layers", headers=AUTH,
                                     json={"name": "now", "source_layer_name": ""})
    assert from_default.status == 200
    assert await records_of(client, document, "now") == {}  # the default layer as it is
    # never written: reads mirror the base (lists, a page, one record, its thread, exports)
    draft = f"{base_url}/layers/draft"
    assert await records_of(client, document, "draft") == base
    listed = await (await client.get(f"{draft}/annotations", headers=AUTH)).json()
    assert [r["id"] for r in listed["data"]["annotations"]] == ["hl"]
    on_page = await (await client.get(f"{draft}/pages/0/annotations", headers=AUTH)).json()
    assert [r["id"] for r in on_page["data"]["annotations"]] == ["hl"]
    assert (await client.get(f"{draft}/annotations/hl", headers=AUTH)).status == 200
    thread = await (await client.get(f"{draft}/annotations/hl/comments", headers=AUTH)).json()
    assert len(thread["data"]["comments"]) == 2
    exported = await (await client.get(f"{draft}/document.json", headers=AUTH)).json()
    assert [a["id"] for a in exported["annotations"]] == ["hl"]
    assert len(exported["comments"]) == 2
    layers = await (await client.get(f"{base_url}/layers", headers=AUTH)).json()
    assert "draft" not in layers["data"]  # reading brought nothing into being
    # a first write: the base, then the change
    await write(client, f"{document}/layers/draft", [{"id": "mine", "content": note()}])
    assert set(await records_of(client, document, "draft")) == {"hl", "mine"}
    response = await client.delete(f"{base_url}/layers/gone/annotations/hl", headers=AUTH)
    assert response.status == 200, await response.text()  # the base record, then deleted
    layers = await (await client.get(f"{base_url}/layers", headers=AUTH)).json()
    assert "gone" in layers["data"] and await records_of(client, document, "gone") == {}


@pytest.mark.parametrize("keep", [False, True])
async def test_an_instant_json_attachment_replaces_the_pdfs_own_unless_kept(client, keep):
    form = aiohttp.FormData()
    form.add_field("file", acrobat_like_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("attachment", orjson.dumps({
        "format": "https://pspdfkit.com/instant-json/v1",
        "annotations": [{**note(), "id": "from-json"}]}),
        filename="attachment.json", content_type="application/json")
    if keep:
        form.add_field("keep_current_annotations", "true")
    response = await client.post("/api/documents", headers=AUTH, data=form)
    assert response.status == 200, await response.text()
    document_id = (await response.json())["data"]["document_id"]
    records = await records_of(client, document_id)
    assert len(records) == (4 if keep else 1)
    assert "from-json" in records
    # The download holds the layer's records and, replaced, none of the PDF's originals
    # (they came back beside the attachment's records before).
    with pikepdf.open(io.BytesIO(await (await download(client, document_id)).read())) as pdf:
        annotations = [a for a in pdf.pages[0].obj.get("/Annots", [])
                       if a.Subtype != pikepdf.Name.Widget]  # form fields stay the PDF's
        names = sorted(str(a["/PSPDF:Id"]) for a in annotations if "/PSPDF:Id" in a)
        assert len(annotations) == (4 if keep else 1)
        assert names == sorted(records)


# ---- XFDF ------------------------------------------------------------------------------------

async def test_an_xfdf_export_uploaded_again_gives_the_same_records(client, document):
    stamp = {"id": "st", "content": {"v": 2, "type": "pspdfkit/stamp", "pageIndex": 0,
                                     "bbox": [20, 500, 160, 50], "opacity": 1,
                                     "stampType": "Approved"}}
    await write(client, document, [*RECORDS, stamp])
    response = await client.get(f"/api/documents/{document}/document.xfdf", headers=AUTH)
    assert response.status == 200
    assert response.content_type == "application/vnd.adobe.xfdf"
    assert response.headers["Annolog-Skipped"] == "0"
    exported = await response.read()
    root = ElementTree.fromstring(exported)
    names = {e.get("name") for annots in root for e in annots}
    assert names == {r["id"] for r in [*RECORDS, stamp]}
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("attachment", exported, filename="annotations.xfdf",
                   content_type="application/vnd.adobe.xfdf")
    response = await client.post("/api/documents", headers=AUTH, data=form)
    body = await response.json()
    assert response.status == 200, body
    assert body["data"]["errors"] == []
    original = await records_of(client, document)
    read = await records_of(client, body["data"]["document_id"])
    assert read.keys() == original.keys()
    for annotation_id, content in original.items():
        for key in COMPARED:
            if key in content:
                assert close(read[annotation_id].get(key), content[key]), (annotation_id, key)


async def test_comment_threads_go_through_xfdf_both_ways(client):
    document = await upload(client, pdf_with_replies())
    response = await client.get(f"/api/documents/{document}/document.xfdf", headers=AUTH)
    exported = await response.read()
    replies = [e for annots in ElementTree.fromstring(exported) for e in annots
               if e.get("inreplyto")]
    assert [(e.get("inreplyto"), e.get("replyType"), e.get("title")) for e in replies] == [
        ("hl", "reply", "Ann"), ("hl", "reply", "Bob")]
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("attachment", exported, filename="annotations.xfdf",
                   content_type="application/vnd.adobe.xfdf")
    response = await client.post("/api/documents", headers=AUTH, data=form)
    body = await response.json()
    assert response.status == 200 and body["data"]["errors"] == [], body
    thread = await client.get(f"/api/documents/{body['data']['document_id']}/annotations/hl/"
                              "comments", headers=AUTH)
    comments = (await thread.json())["data"]["comments"]
    assert [(c["id"], c["content"]["text"]["value"], c["content"].get("createdAt"))
            for c in comments][:1] == [("r1", "Is this right?", "2026-01-03T09:00:00Z")]
    assert [c["content"]["text"]["value"] for c in comments] == ["Is this right?", "Yes."]


async def test_a_broken_xfdf_attachment_is_a_422_and_stores_nothing(client):
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("document_id", "xfdf-broken")
    form.add_field("attachment", b"<xfdf><annots><square page=", filename="a.xfdf")
    response = await client.post("/api/documents", headers=AUTH, data=form)
    assert response.status == 422
    assert "XML" in (await response.json())["error"]["reason"]
    missing = await client.get("/api/documents/xfdf-broken/properties", headers=AUTH)
    assert missing.status == 404


async def test_document_json_replaces_the_pdfs_own_for_a_viewer_of_the_source(client):
    """A Web SDK that loads the source PDF and document.json shows annolog's state: records
    read from the PDF keep their pdfObjectId, and deleted ones are skipped."""
    document = await upload(client, acrobat_like_pdf())
    records = await records_of(client, document)
    numbers = {i: c["pdfObjectId"] for i, c in records.items()}
    highlight_id = next(i for i, c in records.items()
                        if c["type"] == "pspdfkit/markup/highlight")
    before = await client.get(f"/api/documents/{document}/document.json", headers=AUTH)
    revision = before.headers["Annolog-Revision"]
    response = await client.delete(f"/api/documents/{document}/annotations/{highlight_id}",
                                   headers=AUTH)
    assert response.status == 200
    exported = await (await client.get(f"/api/documents/{document}/document.json",
                                       headers=AUTH)).json()
    assert {a["id"]: a["pdfObjectId"] for a in exported["annotations"]} == {
        i: n for i, n in numbers.items() if i != highlight_id}
    assert exported["skippedPdfObjectIds"] == [numbers[highlight_id]]
    then = await (await client.get(f"/api/documents/{document}/document.json", headers=AUTH,
                                   params={"revision": revision})).json()
    assert "skippedPdfObjectIds" not in then


async def test_an_import_may_skip_the_pdfs_own_annotations(client):
    """skippedPdfObjectIds are accepted when they name annotations of the PDF: the records
    standing for them are deleted, unless the document replaces them."""
    document = await upload(client, acrobat_like_pdf())
    records = await records_of(client, document)
    by_type = {c["type"]: (i, c["pdfObjectId"]) for i, c in records.items()}
    square_id, square_number = by_type["pspdfkit/shape/rectangle"]
    note_id, note_number = by_type["pspdfkit/note"]
    instant = {"format": "https://pspdfkit.com/instant-json/v1",
               "annotations": [{**records[note_id], "id": note_id,
                                "text": {"format": "plain", "value": "replaced"}}],
               "skippedPdfObjectIds": [square_number, note_number]}
    form = instant_form(instant)
    response = await client.post(f"/api/documents/{document}/apply_instant_json",
                                 headers=AUTH, data=form)
    assert response.status == 200, await response.text()
    after = await records_of(client, document)
    assert square_id not in after  # skipped: its record deleted
    assert after[note_id]["text"]["value"] == "replaced"  # skipped but replaced: kept
    bad = {"format": "https://pspdfkit.com/instant-json/v1", "skippedPdfObjectIds": [99999]}
    form = instant_form(bad)
    response = await client.post(f"/api/documents/{document}/apply_instant_json",
                                 headers=AUTH, data=form)
    assert response.status == 422


def hostile_pdf() -> bytes:
    """Annotations a broken or hostile producer writes: keys missing, of the wrong type, of
    the wrong length."""
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    broken = [
        {"Subtype": pikepdf.Name.Square},  # no /Rect
        {"Subtype": pikepdf.Name.Square, "Rect": [1, 2, "x", 4]},
        {"Subtype": pikepdf.Name.Line, "Rect": [0, 0, 10, 10]},  # no /L
        {"Subtype": pikepdf.Name.Ink, "Rect": [0, 0, 10, 10], "InkList": 5},
        {"Subtype": pikepdf.Name.Highlight, "Rect": [0, 0, 10, 10],
         "QuadPoints": [1, 2, 3, 4, 5, 6, 7]},
        {"Subtype": pikepdf.Name.Polygon, "Rect": [0, 0, 10, 10], "Vertices": [1, 2, 3]},
        {"Subtype": pikepdf.Name.Square, "Rect": [0, 0, 10, 10], "C": [0, 0, 0, 1],
         "BS": 7},
        {"Subtype": pikepdf.Name.FreeText, "Rect": [0, 0, 10, 10], "Q": 9, "DA": 3},
        {"Subtype": pikepdf.Name.Link, "Rect": [0, 0, 10, 10], "A": {"S": pikepdf.Name.GoTo,
                                                                    "D": [99]}},
        {"Subtype": pikepdf.Name.Text, "Rect": [0, 0, 1e30, 10], "F": "x"},
        {"Subtype": pikepdf.Name.Square, "Rect": [10, 10, 60, 60]},  # a good one
    ]
    def pdf_object(value: Any) -> Any:
        if isinstance(value, list):
            return pikepdf.Array(value)
        if isinstance(value, dict):
            return pikepdf.Dictionary({"/" + k: pdf_object(v) for k, v in value.items()})
        return value

    pdf.pages[0].obj.Annots = pikepdf.Array([
        pdf.make_indirect(pdf_object({"Type": pikepdf.Name.Annot, **annotation}))
        for annotation in broken])
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


async def test_a_hostile_pdfs_annotations_never_fail_the_upload(client):
    pdf = hostile_pdf()
    with pikepdf.open(io.BytesIO(pdf)) as opened:  # one entry did not survive as an object
        entries = sum(isinstance(a, pikepdf.Dictionary) for a in opened.pages[0].obj.Annots)
    response = await client.post("/api/documents", data=pdf,
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    assert response.status == 200, await response.text()
    body = await response.json()
    document = body["data"]["document_id"]
    records = await records_of(client, document)
    assert len(records) + len(body["data"]["errors"]) == entries == 10
    assert any(c["bbox"] == [10, 732, 50, 50] for c in records.values())
    assert all(e["reason"] for e in body["data"]["errors"])
    answered = await download(client, document)
    assert answered.status == 200


async def test_a_text_callout_is_a_freetext_callout_with_its_line_drawn(client, document):
    callout = {"id": "co", "content": {
        "v": 2, "type": "pspdfkit/text", "pageIndex": 0, "bbox": [100, 100, 250, 150],
        "opacity": 1, "text": {"format": "plain", "value": "Look"}, "fontSize": 12,
        "fontColor": "#000000", "horizontalAlign": "left", "verticalAlign": "top",
        "callout": {"start": [105, 245], "knee": [150, 200], "end": [200, 150],
                    "innerRectInset": [100, 0, 0, 100], "cap": "openArrow"}}}
    await write(client, document, [callout])
    blank = render(await (await download(client, document, annotations="false")).read())
    written = await (await download(client, document)).read()
    with pikepdf.open(io.BytesIO(written)) as pdf:
        (annotation,) = [a for a in pdf.pages[0].obj.Annots if str(a["/PSPDF:Id"]) == "co"]
        assert annotation.Subtype == pikepdf.Name.FreeText
        assert annotation.IT == pikepdf.Name.FreeTextCallout
        # /RD is [left bottom right top]: the engine's order, and PDF's
        assert len(annotation.CL) == 6 and [float(v) for v in annotation.RD] == [100, 100, 0, 0]
    shown = render(written)
    assert differs(blank, shown, (104, 230, 125, 246)) > 0  # the line, far from the text
    assert differs(blank, shown, (205, 100, 345, 140)) > 0  # the text, in its inner box
    assert differs(blank, shown, (101, 101, 190, 140)) == 0  # the box's empty corner


async def test_a_callout_comes_back_from_its_downloaded_pdf(client, document):
    callout = {"start": [105, 245], "knee": [150, 200], "end": [200, 150],
               "innerRectInset": [100, 0, 0, 100], "cap": "openArrow"}
    await write(client, document, [{"id": "co", "content": {
        "v": 2, "type": "pspdfkit/text", "pageIndex": 0, "bbox": [100, 100, 250, 150],
        "opacity": 1, "text": {"format": "plain", "value": "Look"}, "fontSize": 12,
        "fontColor": "#000000", "horizontalAlign": "left", "verticalAlign": "top",
        "callout": callout}}])
    again = await upload(client, await (await download(client, document)).read())
    (record,) = (await records_of(client, again)).values()
    assert record["callout"] == callout


async def test_an_image_that_is_a_pdf_page_is_drawn_from_that_page(client, document):
    page = make_text_pdf(1)
    sha = hashlib.sha256(page).hexdigest()
    box = [100, 100, 306, 396]  # the attachment's letter page at half size
    image = {"id": "pg", "content": {
        "v": 2, "type": "pspdfkit/image", "pageIndex": 0, "bbox": box, "opacity": 1,
        "contentType": "application/pdf", "imageAttachmentId": sha}}
    await write_with_attachment(client, document, [image], sha, page, "application/pdf")
    blank = render(await (await download(client, document, annotations="false")).read())
    response = await download(client, document)
    assert response.headers["Annolog-Skipped"] == "0"
    written = await response.read()
    with pikepdf.open(io.BytesIO(written)) as pdf:
        (annotation,) = pdf.pages[0].obj.Annots
        assert annotation.Subtype == pikepdf.Name.Stamp and "/AP" in annotation
    shown = render(written)
    # the text lines of the attachment's page, shrunk into the box's upper part
    assert differs(blank, shown, (130, 130, 300, 200)) > 100
    assert differs(blank, shown, (320, 100, 500, 300)) == 0  # outside the box
    # read back at upload: an image of a one-page PDF that draws the same
    response = await client.post("/api/documents", data=written,
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    body = await response.json()
    assert body["data"]["errors"] == [], body
    again = body["data"]["document_id"]
    (read,) = (await records_of(client, again)).values()
    assert read["contentType"] == "application/pdf"
    held = await client.get(f"/api/documents/{again}/attachments/{read['imageAttachmentId']}",
                            headers=AUTH)
    redrawn = render(await (await download(client, again)).read())
    changed = differs(shown, redrawn, (100, 100, 406, 496))
    assert differs(blank, redrawn, (130, 130, 300, 200)) > 100 and changed == 0, changed
    with pikepdf.open(io.BytesIO(await held.read())) as copy:
        assert len(copy.pages) == 1


async def test_a_first_change_over_sync_starts_the_layer_from_the_base(client):
    document = await upload(client, pdf_with_replies())
    ws = await client.ws_connect(f"/api/documents/{document}/layers/live/sync?revision=0",
                                 headers=AUTH)
    frames: list[dict] = []
    try:
        await ws.send_str(orjson.dumps({"type": "changes", "changes": [
            {"changeId": "1", "op": "create", "id": "mine", "content": note()}]}).decode())
        while not any(f.get("type") == "confirmed" for f in frames):
            frames.append(orjson.loads((await ws.receive(timeout=10)).data))
        while sum(f.get("type") == "change" and f.get("of") is None for f in frames) < 2:
            frames.append(orjson.loads((await ws.receive(timeout=10)).data))
    finally:
        await ws.close()
    assert set(await records_of(client, document, "live")) == {"hl", "mine"}
    ids = [f["id"] for f in frames if f.get("type") == "change" and f.get("of") is None]
    assert ids == ["hl", "mine"]  # the base arrives first, then the change


def _picture(mode: str, fmt: str) -> bytes:
    image = Image.new(mode, (40, 30), (200, 30, 60, 128)[:len(mode)])
    image.paste((20, 90, 200, 255)[:len(mode)], (0, 0, 20, 15))
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


async def _two_images(client: Any, document: str) -> tuple[bytes, bytes]:
    """Image records "png" (with alpha) and "jpg", with their attachments; their bytes."""
    png, jpeg = _picture("RGBA", "PNG"), _picture("RGB", "JPEG")
    for image_id, data, content_type in (("png", png, "image/png"),
                                         ("jpg", jpeg, "image/jpeg")):
        sha = hashlib.sha256(data).hexdigest()
        await write_with_attachment(client, document, [{"id": image_id, "content": {
            "v": 2, "type": "pspdfkit/image", "pageIndex": 0, "bbox": [50, 50, 80, 60],
            "opacity": 1, "contentType": content_type, "imageAttachmentId": sha}}],
            sha, data, content_type)
    return png, jpeg


async def test_image_stamps_are_read_back_from_a_downloaded_pdf(client, document):
    png, jpeg = await _two_images(client, document)
    downloaded = await (await download(client, document)).read()
    response = await client.post("/api/documents", data=downloaded,
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    body = await response.json()
    assert body["data"]["errors"] == [], body
    again = body["data"]["document_id"]
    read = await records_of(client, again)
    assert {i: c["contentType"] for i, c in read.items()} == {"png": "image/png",
                                                              "jpg": "image/jpeg"}
    assert close(read["png"]["bbox"], [50, 50, 80, 60])

    async def held(image_id: str) -> bytes:
        url = f"/api/documents/{again}/attachments/{read[image_id]['imageAttachmentId']}"
        response = await client.get(url, headers=AUTH)
        assert response.status == 200
        return await response.read()

    assert await held("jpg") == jpeg  # a JPEG travels as it is
    with Image.open(io.BytesIO(await held("png"))) as copy, Image.open(io.BytesIO(png)) as o:
        assert copy.mode == "RGBA" and copy.tobytes() == o.tobytes()


CAP_KINDS = ("square", "circle", "diamond", "openArrow", "closedArrow", "butt",
             "reverseOpenArrow", "reverseClosedArrow", "slash")


async def test_every_line_ending_is_drawn_and_read_back(client, document):
    """Each cap of a line, a polyline and a callout shows in the rendered page (around the
    end it caps, compared with the same record without it) and comes back at upload."""
    def records(capped: bool) -> list[dict[str, Any]]:
        found = []
        for row, kind in enumerate(CAP_KINDS):
            y = 40 + row * 40
            caps = {"start": kind} if capped else {}
            found.append({"id": f"line-{kind}", "content": shape(
                "pspdfkit/shape/line", [40, y - 10, 120, 20], strokeWidth=1,
                startPoint=[50, y], endPoint=[150, y], lineCaps=caps)})
            found.append({"id": f"poly-{kind}", "content": shape(
                "pspdfkit/shape/polyline", [200, y - 10, 120, 20], strokeWidth=1,
                points=[[210, y], [260, y], [310, y]], lineCaps=caps)})
            callout = {"start": [360, y], "end": [420, y], "innerRectInset": [70, 0, 0, 0],
                       **({"cap": kind} if capped else {})}
            found.append({"id": f"callout-{kind}", "content": {
                "v": 2, "type": "pspdfkit/text", "pageIndex": 0, "bbox": [350, y - 12, 160, 24],
                "opacity": 1, "fontSize": 10, "fontColor": "#000000",
                "horizontalAlign": "left", "verticalAlign": "top",
                "text": {"format": "plain", "value": "note"}, "callout": callout}})
        return found

    other = await upload(client, make_pdf())
    await write(client, document, records(True))
    await write(client, other, records(False))
    capped = await (await download(client, document)).read()
    plain = render(await (await download(client, other)).read())
    drawn = render(capped)
    for row, kind in enumerate(CAP_KINDS):
        y = 40 + row * 40  # records and renders both count from the page's top left
        for x in (50, 210, 360):
            assert differs(plain, drawn, (x - 6, y - 6, x + 7, y + 7)) > 4, (kind, x)
    again = await records_of(client, await upload(client, capped))
    for kind in CAP_KINDS:
        assert again[f"line-{kind}"]["lineCaps"] == {"start": kind}
        assert again[f"poly-{kind}"]["lineCaps"] == {"start": kind}
        assert again[f"callout-{kind}"]["callout"]["cap"] == kind


async def test_images_go_through_xfdf_both_ways(client, document):
    png, jpeg = await _two_images(client, document)
    response = await client.get(f"/api/documents/{document}/document.xfdf", headers=AUTH)
    assert response.headers["Annolog-Skipped"] == "0"
    exported = await response.read()
    stamps = [e for annots in ElementTree.fromstring(exported) for e in annots]
    assert all(e.find("{http://ns.adobe.com/xfdf/}imagedata") is not None for e in stamps)
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("attachment", exported, filename="annotations.xfdf",
                   content_type="application/vnd.adobe.xfdf")
    response = await client.post("/api/documents", headers=AUTH, data=form)
    body = await response.json()
    assert response.status == 200 and body["data"]["errors"] == [], body
    again = body["data"]["document_id"]
    read = await records_of(client, again)
    held = {}
    for image_id in ("png", "jpg"):
        url = f"/api/documents/{again}/attachments/{read[image_id]['imageAttachmentId']}"
        held[image_id] = await (await client.get(url, headers=AUTH)).read()
    assert held["jpg"] == jpeg
    with Image.open(io.BytesIO(held["png"])) as copy, Image.open(io.BytesIO(png)) as o:
        assert copy.tobytes() == o.tobytes()
    broken = exported.replace(b"data:image/png;base64,", b"data:image/png;base64,AAAA")
    form = aiohttp.FormData()
    form.add_field("file", make_pdf(), filename="a.pdf", content_type="application/pdf")
    form.add_field("attachment", broken, filename="annotations.xfdf")
    response = await client.post("/api/documents", headers=AUTH, data=form)
    body = await response.json()
    assert response.status == 200, body  # the broken image is listed, the rest imported
    assert ["imagedata" in e["reason"] for e in body["data"]["errors"]] == [True]


async def test_a_reply_loop_or_an_orphan_reply_is_listed_not_fatal(client):
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))
    a = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot,
                                             Subtype=pikepdf.Name.Text, Rect=[1, 1, 9, 9]))
    b = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Annot,
                                             Subtype=pikepdf.Name.Text, Rect=[1, 1, 9, 9],
                                             IRT=a))
    a.IRT = b  # each answers the other: no root
    orphan = pdf.make_indirect(pikepdf.Dictionary(
        Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.Text, Rect=[1, 1, 9, 9],
        IRT=pikepdf.Dictionary(Type=pikepdf.Name.Annot, Subtype=pikepdf.Name.FileAttachment,
                               Rect=[1, 1, 9, 9])))  # its root is on no page
    pdf.pages[0].obj.Annots = pikepdf.Array([a, b, orphan])
    out = io.BytesIO()
    pdf.save(out)
    response = await client.post("/api/documents", data=out.getvalue(),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    assert response.status == 200
    reasons = sorted(e["reason"] for e in (await response.json())["data"]["errors"])
    assert reasons == ["its /IRT chain goes round in a circle"] * 2 + [
        "its thread's root annotation was not read"]
