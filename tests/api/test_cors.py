"""Cross-origin pages (issue 27): with ANNOLOG_CORS_ORIGINS, a page of an allowed origin may
call annolog (its preflight answered without a token) and read the headers that matter;
other origins, and every origin when nothing is configured, get no CORS headers."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from api.app import create_app
from api.cors import parse_origins
from api.settings import Settings
from tests.conftest import AUTH, make_pdf, note

APP = "http://app.example:8080"
PREFLIGHT = {"Origin": APP, "Access-Control-Request-Method": "PUT",
             "Access-Control-Request-Headers": "authorization, content-type, "
                                               "annolog-base-revision"}


@pytest.fixture
async def cors_client(aiohttp_client: Any, settings: Settings) -> Any:
    client = await aiohttp_client(create_app(dataclasses.replace(settings,
                                                                 cors_origins=(APP,))))
    response = await client.post("/api/documents?", data=make_pdf(), headers={
        **AUTH, "Content-Type": "application/pdf"})
    client.document = (await response.json())["data"]["document_id"]
    return client


async def test_a_preflight_needs_no_token(cors_client):
    document = cors_client.document
    response = await cors_client.options(f"/api/documents/{document}/document.json",
                                         headers=PREFLIGHT)
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP
    assert "PUT" in response.headers["Access-Control-Allow-Methods"]
    allowed = response.headers["Access-Control-Allow-Headers"].lower()
    assert {"authorization", "annolog-base-revision"} <= set(allowed.split(","))
    assert "Access-Control-Allow-Credentials" not in response.headers


async def test_an_allowed_page_reads_the_answer_and_its_revision(cors_client):
    document = cors_client.document
    response = await cors_client.post(f"/api/documents/{document}/annotations",
                                      headers={**AUTH, "Origin": APP},
                                      json={"id": "a", "content": note()})
    assert response.status == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP
    exposed = response.headers["Access-Control-Expose-Headers"]
    assert "Annolog-Revision" in exposed and "ETag" in exposed
    response = await cors_client.get(f"/api/documents/{document}/annotations",
                                     headers={"Origin": APP})
    assert response.status == 401  # and the page may read why
    assert response.headers["Access-Control-Allow-Origin"] == APP


async def test_another_origin_gets_nothing(cors_client):
    document = cors_client.document
    response = await cors_client.options(f"/api/documents/{document}/document.json",
                                         headers={**PREFLIGHT, "Origin": "http://evil.example"})
    assert response.status == 403
    assert "origin 'http://evil.example' is not allowed" in \
        (await response.json())["error"]["reason"]
    assert "Access-Control-Allow-Origin" not in response.headers
    response = await cors_client.get(f"/api/documents/{document}/annotations",
                                     headers={**AUTH, "Origin": "http://evil.example"})
    assert "Access-Control-Allow-Origin" not in response.headers


async def test_without_origins_configured_no_page_may_call(client, document):
    response = await client.options(f"/api/documents/{document}/annotations",
                                    headers=PREFLIGHT)
    assert response.status == 405
    assert "Access-Control-Allow-Origin" not in response.headers
    response = await client.get(f"/api/documents/{document}/annotations",
                                headers={**AUTH, "Origin": APP})
    assert "Access-Control-Allow-Origin" not in response.headers


@pytest.mark.parametrize("text, origins", [
    ("", ()), ("https://a.example, http://localhost:8080/", ("https://a.example",
                                                            "http://localhost:8080")),
    ("*", ("*",))])
def test_origins_are_read_from_the_environment(text, origins):
    assert parse_origins(text) == origins
    assert Settings.from_env({"ANNOLOG_CORS_ORIGINS": text}).cors_origins == origins


@pytest.mark.parametrize("text", ["a.example", "https://a.example/path", "ftp://a.example"])
def test_a_malformed_origin_stops_the_start(text):
    with pytest.raises(SystemExit, match="is not an origin"):
        parse_origins(text)
