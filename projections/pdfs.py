"""PDFs with pikepdf: page sizes, title, password protection, identifiers."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pikepdf


class NotAPdfError(ValueError):
    """Raised when bytes are not a PDF pikepdf can read."""


class PdfPasswordError(ValueError):
    """Raised when a PDF needs a password and the one given (if any) does not open it."""


@dataclass(frozen=True)
class PdfInfo:
    title: str | None
    pages: list[dict[str, Any]] | None  # None: protected and opened without its password
    password_protected: bool


def inspect_pdf(path: Path, password: str | None) -> PdfInfo:
    """Read what annolog needs from a PDF; a protected PDF without a password still counts."""
    with open(path, "rb") as f:
        if b"%PDF-" not in f.read(1024):
            raise NotAPdfError("the body is not a PDF (no %PDF- header in its first 1024 bytes)")
    protected = _needs_password(path)
    if protected and password is None:
        return PdfInfo(title=None, pages=None, password_protected=True)
    pdf = _open(path, password if protected else None)
    with pdf:
        return PdfInfo(title=_title(pdf), pages=_pages(pdf), password_protected=protected)


def pages_with_password(path: Path, password: str) -> list[dict[str, Any]]:
    """Open a protected PDF; raises ``PdfPasswordError`` when the password is wrong."""
    with _open(path, password) as pdf:
        return _pages(pdf)


def _needs_password(path: Path) -> bool:
    try:
        pikepdf.open(path).close()
    except pikepdf.PasswordError:
        return True
    except pikepdf.PdfError as error:
        raise NotAPdfError(f"the body is not a readable PDF: {_reason(error, path)}") from None
    return False


def _open(path: Path, password: str | None) -> pikepdf.Pdf:
    try:
        return pikepdf.open(path, password=password or "")
    except pikepdf.PasswordError:
        raise PdfPasswordError(
            "Value for 'pspdfkit-pdf-password' header doesn't match document password."
        ) from None
    except pikepdf.PdfError as error:
        raise NotAPdfError(f"the body is not a readable PDF: {_reason(error, path)}") from None


def _reason(error: Exception, path: Path) -> str:
    """qpdf's message without the file it read: where the server keeps uploads is none of
    the client's business."""
    return str(error).replace(str(path), "the PDF").replace(path.name, "the PDF")


def _title(pdf: pikepdf.Pdf) -> str | None:
    title = pdf.docinfo.get("/Title") if pdf.docinfo is not None else None
    text = str(title).strip() if title is not None else ""
    return text or None


def _pages(pdf: pikepdf.Pdf) -> list[dict[str, Any]]:
    pages = []
    for page in pdf.pages:
        box = [float(v) for v in page.cropbox]
        rotation = int(page.obj.get("/Rotate", 0)) % 360
        pages.append({
            "width": round(abs(box[2] - box[0]), 3),
            "height": round(abs(box[3] - box[1]), 3),
            "rotation": rotation,
        })
    return pages


def pdf_identifier(path: Path, password: str | None) -> dict[str, str] | None:
    """The trailer /ID pair as Instant JSON's ``pdfId`` writes it, or None without one."""
    with _open(path, password) as pdf:
        ids = pdf.trailer.get("/ID")
        if ids is None or len(ids) != 2:
            return None
        permanent, changing = (base64.b64encode(bytes(part)).decode() for part in ids)
        return {"permanent": permanent, "changing": changing}


def annotation_numbers(path: Path, password: str | None) -> list[int]:
    """The object numbers of the PDF's own annotations, every page."""
    with _open(path, password) as pdf:
        return [a.objgen[0] for page in pdf.pages for a in page.obj.get("/Annots", [])
                if isinstance(a, pikepdf.Dictionary) and a.objgen[0]]
