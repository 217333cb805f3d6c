"""Shared fixtures: real apps on real SQLite files in a temp dir; nothing of ours is mocked."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pikepdf
import psycopg
import pytest

from api.app import create_app
from api.settings import Settings
from tests.live import Live

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "tests" / "fixtures" / "instant-json"  # public Instant JSON documents
TOKEN = "test-token"
AUTH = {"Authorization": f'Token token="{TOKEN}"'}


def make_pdf(pages: int = 2, *, title: str | None = "Test PDF", user_password: str | None = None
             ) -> bytes:
    pdf = pikepdf.new()
    for i in range(pages):
        pdf.add_blank_page(page_size=(612 - i, 792))
    if title:
        pdf.docinfo["/Title"] = title
    out = io.BytesIO()
    if user_password is None:
        pdf.save(out)
    else:
        pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner="owner-" +
                                                    user_password))
    return out.getvalue()


def make_text_pdf(pages: int = 2) -> bytes:
    """Letter pages with lines of Helvetica text, so text can be selected and highlighted."""
    pdf = pikepdf.new()
    font = pdf.make_indirect(pikepdf.Dictionary(Type=pikepdf.Name.Font,
                                                Subtype=pikepdf.Name.Type1,
                                                BaseFont=pikepdf.Name.Helvetica))
    for number in range(pages):
        lines = [f"Page {number + 1}: annolog keeps every change of every annotation."] + [
            f"Line {n}: the quick brown fox jumps over the lazy dog." for n in range(1, 12)]
        text = "".join(f"BT /F1 14 Tf 72 {720 - 24 * n} Td ({line}) Tj ET\n"
                       for n, line in enumerate(lines))
        page = pdf.add_blank_page(page_size=(612, 792))
        page.obj.Resources = pikepdf.Dictionary(Font=pikepdf.Dictionary(F1=font))
        page.obj.Contents = pdf.make_stream(text.encode())
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def note(page: int = 0, text: str = "hello", **extra: Any) -> dict[str, Any]:
    return {"v": 2, "type": "pspdfkit/note", "pageIndex": page, "bbox": [10, 20, 30, 40],
            "opacity": 1, "text": {"format": "plain", "value": text}, **extra}


POSTGRES_URL = os.environ.get("ANNOLOG_TEST_DATABASE_URL")
REQUIRE_POSTGRES = os.environ.get("ANNOLOG_REQUIRE_POSTGRES") == "1"


@contextmanager
def postgres_schema() -> Iterator[str]:
    """A database URL whose log lives in a fresh schema, dropped afterwards."""
    if not POSTGRES_URL:
        if REQUIRE_POSTGRES:
            pytest.fail("ANNOLOG_REQUIRE_POSTGRES=1 but ANNOLOG_TEST_DATABASE_URL is unset")
        pytest.skip("PostgreSQL tests need ANNOLOG_TEST_DATABASE_URL")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}schema={schema}"
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """Each API test runs on the embedded log and on PostgreSQL."""
    if request.param == "sqlite":
        yield None
        return
    with postgres_schema() as url:
        yield url


@pytest.fixture
def settings(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(data_dir=tmp_path / "data", api_token=TOKEN, max_batch=20_000,
                    body_timeout=1,
                    database_url=database_url)


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings) -> Any:
    return await aiohttp_client(create_app(settings))


@pytest.fixture
async def document(client: Any) -> str:
    """A two-page document with id 'doc'."""
    response = await client.post("/api/documents", data=make_pdf(),
                                 headers={**AUTH, "Content-Type": "application/pdf"})
    assert response.status == 200, await response.text()
    document_id = (await response.json())["data"]["document_id"]
    return document_id


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    """A real app on its own loop, for hypothesis tests (plain functions)."""
    directory = tmp_path_factory.mktemp("live")
    server = Live(Settings(data_dir=directory / "data", api_token=TOKEN, body_timeout=5))
    yield server
    server.close()
