"""Cover images: a PDF's first page rendered as PNG (pypdfium2, PDFium's renderer), and a
cache of them by PDF and size (a cover never changes: the PDF is content-addressed)."""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from pathlib import Path

import pypdfium2 as pdfium

MAX_SIDE = 1024  # the Document Engine examples allow 1..1024 pixels
CACHE_BYTES = 32 * 1024 * 1024
_PDFIUM = threading.Lock()  # PDFium is not thread-safe: one render at a time per process


class CoverError(Exception):
    """PDFium could not open or render the PDF (its message says why)."""


def render_cover(path: Path, password: str | None, width: int | None, height: int | None
                 ) -> bytes:
    """The first page (as shown: its /Rotate applied) as a PNG ``width`` pixels wide, or
    ``height`` pixels high, the other side in proportion."""
    try:
        return _render(path, password, width, height)
    except pdfium.PdfiumError as error:
        raise CoverError(str(error)) from None


def _render(path: Path, password: str | None, width: int | None, height: int | None
            ) -> bytes:
    with _PDFIUM:
        pdf = pdfium.PdfDocument(str(path), password=password)
        try:
            page = pdf[0]
            across, down = page.get_size()  # as shown: PDFium applies /Rotate
            scale = width / across if width else (height or 1) / down
            image = page.render(scale=scale, may_draw_forms=True).to_pil()
            page.close()
        finally:
            pdf.close()
    wanted = (width, round(down * scale)) if width else (round(across * scale), height)
    if image.size != wanted:  # a pixel lost to rounding: the asked side is exact
        image = image.resize((max(1, wanted[0]), max(1, wanted[1] or 1)))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


class CoverCache:
    """PNG bytes by (PDF hash, side, pixels), least recently used first out, within a
    byte budget."""

    def __init__(self, budget: int = CACHE_BYTES) -> None:
        self.budget = budget
        self.entries: OrderedDict[tuple[str, str, int], bytes] = OrderedDict()
        self.size = 0
        self.renders = 0  # how many covers were made (the rest came from the cache)

    def get(self, key: tuple[str, str, int]) -> bytes | None:
        png = self.entries.get(key)
        if png is not None:
            self.entries.move_to_end(key)
        return png

    def put(self, key: tuple[str, str, int], png: bytes) -> None:
        self.renders += 1
        if key in self.entries or len(png) > self.budget:
            return
        self.entries[key] = png
        self.size += len(png)
        while self.size > self.budget:
            _, dropped = self.entries.popitem(last=False)
            self.size -= len(dropped)
