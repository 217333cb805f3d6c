"""Viewer checks: the annotated PDF as pdf.js (Firefox's viewer, vendored for the console)
draws it in Chromium, and as poppler (Evince, Okular, pdftoppm) draws it, besides PDFium
(Chrome's viewer; test_downloads). Every record with an appearance must change the pixels of
its box against the same PDF with annotations=false; a link, which has none, must not."""

from __future__ import annotations

import base64
import io
import json
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from PIL import Image

from tests.api.test_downloads import INVISIBLE, RECORDS
from tests.console.conftest import AUTH, need, started
from tools.process import ServerProcess

RENDER = """async ([url, authorization]) => {
  const pdfjs = await import("/console/vendor/pdfjs/pdf.min.mjs");
  pdfjs.GlobalWorkerOptions.workerSrc = "/console/vendor/pdfjs/pdf.worker.min.mjs";
  const base = "/console/vendor/pdfjs/";
  const doc = await pdfjs.getDocument({ url, httpHeaders: { Authorization: authorization },
                                        standardFontDataUrl: base + "standard_fonts/",
                                        wasmUrl: base + "wasm/" }).promise;
  const page = await doc.getPage(1);
  const viewport = page.getViewport({ scale: 1 });
  const canvas = document.createElement("canvas");
  canvas.width = viewport.width;
  canvas.height = viewport.height;
  await page.render({ canvas, canvasContext: canvas.getContext("2d"), viewport,
                      annotationMode: pdfjs.AnnotationMode.ENABLE }).promise;
  return canvas.toDataURL("image/png");
}"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = started(tmp_path_factory.mktemp("viewers") / "data")
    yield server
    server.stop()


def _document(server: ServerProcess) -> str:
    from tests.conftest import make_pdf

    response = requests.post(f"{server.base}/api/documents", data=make_pdf(),
                             headers={**AUTH, "Content-Type": "application/pdf"}, timeout=30)
    document = response.json()["data"]["document_id"]
    written = requests.post(f"{server.base}/api/documents/{document}/annotations",
                            headers=AUTH, json={"annotations": RECORDS}, timeout=30).json()
    assert written["result"] == "success", written
    return document


def _pdfjs(page: Any, url: str) -> Image.Image:
    data_url = page.evaluate(RENDER, [url, AUTH["Authorization"]])
    return Image.open(io.BytesIO(base64.b64decode(data_url.split(",", 1)[1]))).convert("RGB")


def test_pdfjs_draws_every_annotation_where_it_was_drawn(server, browser, tmp_path):
    document = _document(server)
    page = browser.new_page()
    try:
        page.goto(f"{server.base}/console/")
        drawn = _pdfjs(page, f"/api/documents/{document}/pdf")
        bare = _pdfjs(page, f"/api/documents/{document}/pdf?annotations=false")
    finally:
        page.close()
    drawn.save(tmp_path / "pdfjs.png")
    _every_record_shows(drawn, bare)


def _poppler(server: ServerProcess, url: str, tmp_path: Any, name: str) -> Image.Image:
    pdf = tmp_path / f"{name}.pdf"
    pdf.write_bytes(requests.get(f"{server.base}{url}", headers=AUTH, timeout=30).content)
    subprocess.run(["pdftoppm", "-r", "72", "-png", "-f", "1", "-l", "1", "-singlefile",
                    str(pdf), str(tmp_path / name)], check=True, timeout=60)
    return Image.open(tmp_path / f"{name}.png").convert("RGB")


def test_poppler_draws_every_annotation_where_it_was_drawn(server, tmp_path):
    need(shutil.which("pdftoppm") is not None, "pdftoppm (apt-get install poppler-utils)")
    document = _document(server)
    drawn = _poppler(server, f"/api/documents/{document}/pdf", tmp_path, "drawn")
    bare = _poppler(server, f"/api/documents/{document}/pdf?annotations=false", tmp_path,
                    "bare")
    _every_record_shows(drawn, bare)


def _every_record_shows(drawn: Image.Image, bare: Image.Image) -> None:
    for record in RECORDS:
        left, top, width, height = record["content"]["bbox"]
        region = (round(left), round(top), round(left + width), round(top + height))
        changed = sum(a != b for a, b in zip(drawn.crop(region).tobytes(),
                                             bare.crop(region).tobytes(), strict=True))
        if record["id"] in INVISIBLE:
            assert changed == 0, record["id"]
        else:
            assert changed > 20, (record["id"], json.dumps(record["content"])[:80])
