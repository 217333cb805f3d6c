"""Cover images (issue 17, item 6): GET /documents/:id/cover?width=N or height=N, the first
page as PNG, for the server token or a client JWT with the cover-image permission."""

from __future__ import annotations

import io
from typing import Any

import aiohttp
import pytest
from PIL import Image

from api.app import create_app
from api.services import SERVICES
from api.settings import Settings
from tests.api.test_jwt import PUBLIC, token
from tests.conftest import AUTH, make_pdf, make_text_pdf

DOC = "covered"


@pytest.fixture
async def client(aiohttp_client: Any, tmp_path: Any, database_url: str | None) -> Any:
    settings = Settings(data_dir=tmp_path / "data", api_token="test-token",
                        jwt_public_key=PUBLIC.decode(), jwt_algorithm="ES256",
                        database_url=database_url)
    client = await aiohttp_client(create_app(settings))
    for document_id, pdf in ((DOC, make_text_pdf(2)), ("locked", make_pdf(1, user_password="pw"))):
        form = aiohttp.FormData()
        form.add_field("file", pdf, filename="a.pdf", content_type="application/pdf")
        form.add_field("document_id", document_id)
        assert (await client.post("/api/documents", headers=AUTH, data=form)).status == 200
    return client


async def png(response: aiohttp.ClientResponse) -> Image.Image:
    assert response.status == 200, await response.text()
    assert response.content_type == "image/png"
    return Image.open(io.BytesIO(await response.read())).convert("L")


async def test_the_cover_is_the_first_page_at_the_asked_size(client):
    image = await png(await client.get(f"/documents/{DOC}/cover?width=200", headers=AUTH))
    assert image.size == (200, round(792 * 200 / 612))
    dark = sum(image.histogram()[:128])
    assert dark > 200  # the page's lines of text, not a blank page
    assert image.getpixel((199, 250)) == 255  # and its white margin
    tall = await png(await client.get(f"/documents/{DOC}/cover?height=100", headers=AUTH))
    assert tall.size == (round(612 * 100 / 792), 100)


async def test_covers_are_made_once_per_pdf_and_size(client):
    covers = client.server.app[SERVICES].covers
    for _ in range(3):
        await png(await client.get(f"/documents/{DOC}/cover?width=64", headers=AUTH))
    await png(await client.get(f"/documents/{DOC}/cover?width=65", headers=AUTH))
    assert covers.renders == 2


async def test_a_client_jwt_needs_the_cover_image_permission(client):
    allowed = token(document_id=DOC, permissions=["cover-image"])
    await png(await client.get(f"/documents/{DOC}/cover?width=32&jwt={allowed}"))
    denied = token(document_id=DOC, permissions=["read-document"])
    response = await client.get(f"/documents/{DOC}/cover?width=32&jwt={denied}")
    assert response.status == 403 and "cover-image" in (await response.json())["error"]["reason"]
    other = token(document_id="locked", permissions=["cover-image"])
    assert (await client.get(f"/documents/{DOC}/cover?width=32&jwt={other}")).status == 403
    assert (await client.get(f"/documents/{DOC}/cover?width=32")).status == 401


async def test_a_protected_pdf_needs_its_password(client):
    path = "/documents/locked/cover?width=50"
    assert (await client.get(path, headers=AUTH)).status == 403
    await png(await client.get(path, headers={**AUTH, "pspdfkit-pdf-password": "pw"}))
    assert (await client.get(path, headers={**AUTH, "pspdfkit-pdf-password": "no"})
            ).status == 403
    claimed = token(document_id="locked", permissions=["cover-image"], password="pw")
    await png(await client.get(f"{path}&jwt={claimed}"))


@pytest.mark.parametrize("query", ["", "width=0", "width=1025", "height=-1", "width=abc",
                                   "width=10&height=10"])
async def test_a_bad_size_is_400(client, query):
    response = await client.get(f"/documents/{DOC}/cover?{query}", headers=AUTH)
    assert response.status == 400
    assert "width" in (await response.json())["error"]["reason"] or "height" in \
        (await response.json())["error"]["reason"]


async def test_an_unknown_document_is_404(client):
    assert (await client.get("/documents/nope/cover?width=10", headers=AUTH)).status == 404


async def test_a_turned_page_is_shown_turned(client):
    import pikepdf

    pdf = pikepdf.open(io.BytesIO(make_text_pdf(1)))
    pdf.pages[0].obj.Rotate = 90
    out = io.BytesIO()
    pdf.save(out)
    form = aiohttp.FormData()
    form.add_field("file", out.getvalue(), filename="a.pdf", content_type="application/pdf")
    form.add_field("document_id", "turned")
    assert (await client.post("/api/documents", headers=AUTH, data=form)).status == 200
    image = await png(await client.get("/documents/turned/cover?width=100", headers=AUTH))
    assert image.size == (100, round(612 * 100 / 792))  # landscape, as viewers show it


async def test_a_hostile_pdf_gets_a_cover_or_a_clear_422_and_the_server_lives_on(client):
    from tests.api.test_downloads import hostile_pdf

    response = await client.post("/api/documents", data=hostile_pdf(),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    hostile = (await response.json())["data"]["document_id"]
    response = await client.get(f"/documents/{hostile}/cover?width=80", headers=AUTH)
    assert response.status in (200, 422)
    await png(await client.get(f"/documents/{DOC}/cover?width=80", headers=AUTH))
