"""Annotations written into a PDF (pikepdf): each record of a layer becomes the PDF annotation
of its type, with an appearance stream (/AP /N) drawn here, so that viewers which do not draw
annotations themselves, and printing, show it as the Web SDK does.

Instant JSON places annotations in points from the top-left corner of the page's CropBox, in
the page's unrotated space (as the Web SDK stores them): a PDF /Rect is the same box measured
from the CropBox's bottom-left corner, and viewers turn both with the page's /Rotate.
"""

from __future__ import annotations

import io
import math
import re
import zlib
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, String
from PIL import Image

from eventstore.times import pdf_date, utc
from projections.pdf_actions import action_dictionary
from projections.pdf_measure import write_measure

# Instant JSON flags and the PDF annotation flag bits (PDF 32000-1, 12.5.3); printing is on
# unless a record says noPrint.
FLAG_BITS = {"invisible": 1, "hidden": 2, "noZoom": 8, "noRotate": 16, "noView": 32,
             "readOnly": 64, "locked": 128, "toggleNoView": 256, "lockedContents": 512}
PRINT = 4
MARKER = "pspdfkit/comment-marker"
LINE_ENDINGS = {"square": "Square", "circle": "Circle", "diamond": "Diamond",
                "openArrow": "OpenArrow", "closedArrow": "ClosedArrow", "butt": "Butt",
                "reverseOpenArrow": "ROpenArrow", "reverseClosedArrow": "RClosedArrow",
                "slash": "Slash"}
MARKUP_SUBTYPES = {"pspdfkit/markup/highlight": "Highlight",
                   "pspdfkit/markup/underline": "Underline",
                   "pspdfkit/markup/strikeout": "StrikeOut",
                   "pspdfkit/markup/squiggly": "Squiggly"}
# The keys the Nutrient engine (Document Engine, the Web SDK) writes into PDFs and reads back:
# annolog writes and reads them too, so a record travels through a PDF with what the standard
# keys cannot carry (its id: /NM is the record's 'name' to the engine).
ENGINE_ID = "/PSPDF:Id"
ENGINE_CUSTOM_DATA = "/PSPDF:CustomData"
ENGINE_INTENSITIES = "/PSPDF:Intensities"
ENGINE_NATURAL = "/PSPDF:IsNatural"
ENGINE_THREAD = "/PSPDF:CommentThread"
ENGINE_FIRST_COMMENT = "/PSPDF:FirstCommentId"
ENGINE_TYPE = "/PSPDF:InstantType"
ENGINE_STAMP_TITLE = "/PSPDF:StampTitle"
ENGINE_STAMP_SUBTITLE = "/PSPDFSubtext"  # sic: no colon, as the engine writes it
ENGINE_BORDER_COLOR = "/PSPDF:BorderColor"
ENGINE_VERTICAL_ALIGN = "/PSPDF:VerticalAlignment"
ENGINE_SIGNATURE = "/PSPDF:IsSignature"
VERTICAL_ALIGNS = ("top", "center", "bottom")  # /PSPDF:VerticalAlignment 0, 1, 2
BORDER_STYLES = {"solid": "S", "dashed": "D", "beveled": "B", "inset": "I", "underline": "U"}
BLEND_MODES = {"normal": "Normal", "multiply": "Multiply", "screen": "Screen",
               "overlay": "Overlay", "darken": "Darken", "lighten": "Lighten",
               "colorDodge": "ColorDodge", "colorBurn": "ColorBurn", "hardLight": "HardLight",
               "softLight": "SoftLight", "difference": "Difference", "exclusion": "Exclusion"}
# The colour a record without one shows in, as the engine draws and reads it.
DEFAULT_COLORS = {"pspdfkit/note": "#FCED8C", MARKER: "#FCED8C",
                  "pspdfkit/markup/highlight": "#FCED8C",
                  "pspdfkit/markup/underline": "#000000",
                  "pspdfkit/markup/strikeout": "#FF0000",
                  "pspdfkit/markup/squiggly": "#FF0000"}
# The types whose 'note' is their /Contents (a note's and a text's is their text), and those
# that turn (/Rotate), as the engine writes them.
NOTED = frozenset({"pspdfkit/ink", "pspdfkit/shape/rectangle", "pspdfkit/shape/ellipse",
                   "pspdfkit/shape/line", "pspdfkit/shape/polygon", "pspdfkit/shape/polyline",
                   "pspdfkit/markup/redaction", "pspdfkit/stamp", "pspdfkit/image",
                   *MARKUP_SUBTYPES})
ROTATED = frozenset({"pspdfkit/text", "pspdfkit/stamp", "pspdfkit/image",
                     "pspdfkit/markup/redaction"})
KAPPA = 0.5523  # control-point distance of a quarter circle drawn as a Bézier curve
HELVETICA, HELVETICA_BOLD = "/Helvetica", "/Helvetica-Bold"
WRITTEN_TYPES = frozenset({
    "pspdfkit/note", "pspdfkit/shape/rectangle", "pspdfkit/shape/ellipse",
    "pspdfkit/shape/line", "pspdfkit/shape/polyline", "pspdfkit/shape/polygon",
    "pspdfkit/ink", "pspdfkit/text", "pspdfkit/link", "pspdfkit/stamp", "pspdfkit/image",
    "pspdfkit/markup/redaction", MARKER, *MARKUP_SUBTYPES,
})
GREEN, RED = (0.13, 0.55, 0.13), (0.8, 0.1, 0.1)
JPEG_SPACES = {"RGB": "DeviceRGB", "L": "DeviceGray", "CMYK": "DeviceCMYK"}
STAMP_COLORS = {"Approved": GREEN, "Accepted": GREEN, "Completed": GREEN, "Final": GREEN,
                "NotApproved": RED, "Rejected": RED, "Void": RED, "Confidential": RED,
                "TopSecret": RED, "Expired": RED}


@dataclass(frozen=True)
class PageSpace:
    """Instant JSON's page space to the PDF's: x from the CropBox's left edge, y down from
    its top edge."""

    left: float
    top: float

    @classmethod
    def of(cls, page: pikepdf.Page) -> PageSpace:
        box = [float(v) for v in page.cropbox]
        return cls(min(box[0], box[2]), max(box[1], box[3]))

    def point(self, x: float, y: float) -> tuple[float, float]:
        return self.left + x, self.top - y

    def rect(self, bbox: list[float]) -> list[float]:
        """[left, top, width, height] as a PDF rectangle [llx, lly, urx, ury]."""
        left, top, width, height = bbox
        return [self.left + left, self.top - top - height, self.left + left + width,
                self.top - top]


@dataclass
class Drawing:
    """An appearance stream drawn in the annotation's own box (origin at its lower left)."""

    rect: list[float]
    ops: list[str]
    pdf: Pdf
    images: dict[str, Path]  # attachment id -> its bytes, for image annotations
    resources: Dictionary | None = None

    def local(self, x: float, y: float) -> str:
        return f"{_n(x - self.rect[0])} {_n(y - self.rect[1])}"


class NotWritten(Exception):
    """A record this module cannot write (yet), with the reason."""


def write_annotated(source: Path, target: Path, records: list[dict[str, Any]],
                    password: str | None = None, flatten: bool = False,
                    images: dict[str, Path] | None = None,
                    comments: list[dict[str, Any]] | None = None,
                    replaced: Collection[int] = ()) -> list[dict[str, Any]]:
    """Write ``source`` to ``target`` with ``records`` as PDF annotations (the PDF's own
    annotations are kept; a protected PDF keeps its encryption); ``images`` holds the files
    of the attachments image annotations show; ``comments`` (None: leave threads out)
    become replies to their roots; the PDF's own annotations numbered in ``replaced`` (now
    records) are taken out first, with their popups and replies. Returns the records that
    could not be written, each with its id and reason."""
    with Pdf.open(source, password=password or "") as pdf:
        remove_originals(pdf, set(replaced))
        skipped = annotate(pdf, records, images or {}, comments)
        if flatten:
            pdf.flatten_annotations("all")
            _drop_links(pdf)
        pdf.save(target, encryption=pdf.is_encrypted)
    return skipped


def _drop_links(pdf: Pdf) -> None:
    """A flattened PDF has no links, the PDF's own included, as the engine flattens one:
    a link draws nothing, so flattening (which keeps what has no appearance) left them."""
    for page in pdf.pages:
        annotations = page.obj.get("/Annots")
        if annotations is not None:
            page.obj.Annots = Array([a for a in annotations
                                     if not (isinstance(a, Dictionary)
                                             and a.get("/Subtype") == Name.Link)])


def remove_originals(pdf: Pdf, numbers: set[int]) -> None:
    """Take the annotations with these object numbers off their pages, with the popups and
    replies that belong to them."""
    if not numbers:
        return
    for page in pdf.pages:
        annotations = page.obj.get("/Annots")
        if annotations is None:
            continue
        kept = [a for a in annotations if not _belongs(a, numbers)]
        if len(kept) != len(annotations):
            page.obj.Annots = Array(kept)


def _belongs(annotation: Any, numbers: set[int]) -> bool:
    if not isinstance(annotation, Dictionary):
        return False
    if annotation.objgen[0] in numbers:
        return True
    parent = annotation.get("/Parent") if annotation.get("/Subtype") == Name.Popup \
        else annotation.get("/IRT")
    return isinstance(parent, Dictionary) and parent.objgen[0] in numbers


def annotate(pdf: Pdf, records: Iterable[dict[str, Any]], images: dict[str, Path],
             comments: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Add each record to its page's /Annots, and each comment as a reply to its root; the
    records that cannot be written are returned."""
    skipped = []
    spaces: dict[int, PageSpace] = {}
    shown, threads = with_threads(records, comments)
    written: dict[str, pikepdf.Object] = {}
    for record, first in shown:
        content = record["content"]
        kind = content.get("type")
        page_index = content.get("pageIndex")
        if kind not in WRITTEN_TYPES:
            skipped.append({"id": record["id"], "reason": f"{kind} is not written into PDFs "
                                                          "yet"})
            continue
        if not isinstance(page_index, int) or not 0 <= page_index < len(pdf.pages):
            skipped.append({"id": record["id"], "reason": "its page is not in this PDF"})
            continue
        page = pdf.pages[page_index]
        space = spaces.get(page_index) or spaces.setdefault(page_index, PageSpace.of(page))
        try:
            annotation = pdf.make_indirect(annotation_dictionary(pdf, record, space,
                                                                 images, first))
        except NotWritten as error:
            skipped.append({"id": record["id"], "reason": str(error)})
            continue
        except (KeyError, ValueError, TypeError, IndexError) as error:
            # content stored before a rule existed may lack what drawing it needs
            skipped.append({"id": record["id"], "reason": f"it cannot be drawn "
                                                         f"({type(error).__name__}: {error})"})
            continue
        annotation.P = page.obj
        if "/Annots" not in page.obj:
            page.obj.Annots = Array()
        page.obj.Annots.append(annotation)
        written[record["id"]] = annotation
    for root_id, thread in threads.items():
        root = written.get(root_id)
        if root is None:
            continue  # a comment of a record not written (not viewable, or of a type not yet)
        for comment in thread:
            root.P.Annots.append(pdf.make_indirect(reply_dictionary(pdf, root, comment)))
    return skipped


Shown = list[tuple[dict[str, Any], dict[str, Any] | None]]


def with_threads(records: Iterable[dict[str, Any]], comments: list[dict[str, Any]] | None,
                 fold: bool = True) -> tuple[Shown, dict[str, list[dict[str, Any]]]]:
    """The records a PDF (or XFDF) holds, each with the first comment of its thread when
    ``fold`` (a PDF: the engine writes it into the root), and the comments to write as
    replies, by root id. A comment marker is its thread's place: shown with its thread or
    not at all (``comments`` None: no threads)."""
    threads = _threads(comments or [])
    shown: Shown = []
    for record in records:
        thread = threads.get(record["id"]) if comments is not None else None
        if record["content"].get("type") == MARKER and not thread:
            continue
        shown.append((record, thread.pop(0) if thread and fold else None))
    return shown, threads


def _threads(comments: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Comments by the annotation they belong to, in the order given (a thread's: the
    order they were posted, which an undated comment read from a PDF keeps too)."""
    threads: dict[str, list[dict[str, Any]]] = {}
    for comment in comments:
        threads.setdefault(str(comment.get("rootId")), []).append(comment)
    return threads


def _thread_root(annotation: Dictionary, first: dict[str, Any]) -> None:
    """A thread's root holds its first comment, as the engine writes one: the comment's
    text, author and times, and its id as /PSPDF:FirstCommentId."""
    annotation[ENGINE_THREAD] = True
    annotation[ENGINE_FIRST_COMMENT] = String(str(first.get("id", "")))
    for key in ("/Contents", "/RC"):
        if key in annotation:
            del annotation[key]
    _contents(annotation, first)
    _author_and_times(annotation, first)


def _author_and_times(annotation: Dictionary, content: dict[str, Any]) -> None:
    if isinstance(content.get("creatorName"), str):
        annotation.T = String(content["creatorName"])
    moment = content.get("updatedAt") or content.get("createdAt")
    if isinstance(moment, str):
        annotation.M = String(pdf_date(utc(moment)))
    if isinstance(content.get("createdAt"), str):
        annotation.CreationDate = String(pdf_date(utc(content["createdAt"])))


def reply_dictionary(pdf: Pdf, root: pikepdf.Object, comment: dict[str, Any]) -> Dictionary:
    """A comment as a reply (/IRT) to its root; an empty appearance, as viewers show
    replies in the root's thread, not on the page."""
    reply = Dictionary(Type=Name.Annot, Subtype=Name.Text, Rect=root.Rect, IRT=root,
                       RT=Name.R, F=PRINT | FLAG_BITS["noZoom"] | FLAG_BITS["noRotate"],
                       Open=False)
    if "/P" in root:  # on a page (XFDF has none)
        reply.P = root.P
    if comment.get("id") is not None:
        reply[ENGINE_ID] = String(str(comment["id"]))
    _contents(reply, comment)
    _author_and_times(reply, comment)
    empty = pikepdf.Stream(pdf, b"", Type=Name.XObject, Subtype=Name.Form,
                           BBox=Array([0, 0, 1, 1]))
    reply.AP = Dictionary(N=empty)
    return reply


def annotation_dictionary(pdf: Pdf, record: dict[str, Any], space: PageSpace,
                          images: dict[str, Path], first: dict[str, Any] | None = None
                          ) -> Dictionary:
    """The PDF annotation of one record (raises ``NotWritten``), with the keys the engine
    reads back (its id, custom data, ...); ``first``: the first comment of the thread it
    roots, which it holds."""
    content = record["content"]
    kind = content["type"]
    rect = space.rect(content["bbox"])
    annotation = Dictionary(Type=Name.Annot, Rect=Array(rect),
                            F=_flags(content.get("flags", ())))
    annotation[ENGINE_ID] = String(record["id"])
    _common_keys(annotation, content)
    drawing = Drawing(rect, [], pdf, images)
    if kind == "pspdfkit/link":
        _link(annotation, content, pdf)
    else:
        WRITERS[kind](annotation, drawing, content, space)
        action = action_dictionary(pdf, content["action"]) if content.get("action") else None
        if action is not None:  # a text (or any) that acts when clicked, as a link does
            annotation.A = action
    if kind in NOTED and isinstance(content.get("note"), str) and content["note"]:
        annotation.Contents = String(content["note"])
    if kind in ROTATED and content.get("rotation"):
        annotation.Rotate = int(content["rotation"])
    if content.get("isSignature") is True:  # an ink's or image's, as the engine marks it
        annotation[ENGINE_SIGNATURE] = True
    if first is not None:
        _thread_root(annotation, first)
    blended = BLEND_MODES.get(str(content.get("blendMode")), "Normal") != "Normal"
    if drawing.ops or blended:  # a link draws nothing, but its blend mode lives there
        annotation.AP = Dictionary(N=_stream(pdf, drawing, content))
    return annotation


def _common_keys(annotation: Dictionary, content: dict[str, Any]) -> None:
    """What every type keeps in the same keys (the reverse of pdf_reading's)."""
    if isinstance(content.get("name"), str):
        annotation.NM = String(content["name"])  # to the engine, /NM is the record's name
    if isinstance(content.get("subject"), str):
        annotation.Subj = String(content["subject"])
    if isinstance(content.get("customData"), dict):
        annotation[ENGINE_CUSTOM_DATA] = String(orjson.dumps(content["customData"]).decode())
    _author_and_times(annotation, content)
    if opacity(content) != 1:
        annotation.CA = opacity(content)


def _stream(pdf: Pdf, drawing: Drawing, content: dict[str, Any]) -> pikepdf.Stream:
    width, height = drawing.rect[2] - drawing.rect[0], drawing.rect[3] - drawing.rect[1]
    resources = drawing.resources or Dictionary()
    ops = drawing.ops
    blend = BLEND_MODES.get(str(content.get("blendMode")))
    if opacity(content) != 1 or (blend is not None and blend != "Normal"):
        state = Dictionary(CA=opacity(content), ca=opacity(content))
        if blend is not None:
            state.BM = Name("/" + blend)  # where the engine reads a blend mode back
        states = resources.get("/ExtGState") or Dictionary()
        states.A = state
        resources.ExtGState = states
        ops = ["/A gs", *ops]
    stream = pikepdf.Stream(pdf, "\n".join(ops).encode("latin-1"))
    stream.Type = Name.XObject
    stream.Subtype = Name.Form
    stream.BBox = Array([0, 0, round(width, 3), round(height, 3)])
    stream.Resources = resources
    return stream


# ---- one writer per type: the annotation's own keys, and its appearance -------------------

def _note(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
          space: PageSpace) -> None:
    annotation.Subtype = Name.Text
    icon = str(content.get("icon") or "note")  # the PDF's default, and the engine's
    annotation.Name = Name("/" + icon[0].upper() + icon[1:])
    annotation.Open = False
    _contents(annotation, content)
    color = rgb_of(content.get("color")) or rgb_of(DEFAULT_COLORS["pspdfkit/note"])
    assert color is not None
    annotation.C = Array(color)
    width, height = _size(drawing)
    drawing.ops += [f"{_color(color)} rg 0 0 0 RG 0.6 w",
                    f"0.3 0.3 {_n(width - 0.6)} {_n(height - 0.6)} re B",
                    f"{_n(width * 0.2)} {_n(height * 0.65)} m {_n(width * 0.8)} "
                    f"{_n(height * 0.65)} l {_n(width * 0.2)} {_n(height * 0.4)} m "
                    f"{_n(width * 0.7)} {_n(height * 0.4)} l S"]


def _marker(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
            space: PageSpace) -> None:
    """A comment marker as the engine writes one: a note icon that says what it is."""
    _note(annotation, drawing, {**content, "icon": "note",
                                "color": content.get("color") or "#FCED8C"}, space)
    annotation[ENGINE_TYPE] = String(MARKER)


def _rectangle(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
               space: PageSpace) -> None:
    annotation.Subtype = Name.Square
    stroke = _shape_keys(annotation, drawing, content)
    width, height = _size(drawing)
    inset = stroke / 2
    drawing.ops.append(f"{_n(inset)} {_n(inset)} {_n(width - stroke)} {_n(height - stroke)} "
                       f"re {_paint(content)}")


def _ellipse(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
             space: PageSpace) -> None:
    annotation.Subtype = Name.Circle
    stroke = _shape_keys(annotation, drawing, content)
    width, height = _size(drawing)
    rx, ry = (width - stroke) / 2, (height - stroke) / 2
    cx, cy = width / 2, height / 2
    kx, ky = rx * KAPPA, ry * KAPPA
    drawing.ops.append(
        f"{_n(cx + rx)} {_n(cy)} m "
        f"{_n(cx + rx)} {_n(cy + ky)} {_n(cx + kx)} {_n(cy + ry)} {_n(cx)} {_n(cy + ry)} c "
        f"{_n(cx - kx)} {_n(cy + ry)} {_n(cx - rx)} {_n(cy + ky)} {_n(cx - rx)} {_n(cy)} c "
        f"{_n(cx - rx)} {_n(cy - ky)} {_n(cx - kx)} {_n(cy - ry)} {_n(cx)} {_n(cy - ry)} c "
        f"{_n(cx + kx)} {_n(cy - ry)} {_n(cx + rx)} {_n(cy - ky)} {_n(cx + rx)} {_n(cy)} c "
        f"{_paint(content)}")


def _line(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
          space: PageSpace) -> None:
    annotation.Subtype = Name.Line
    _shape_keys(annotation, drawing, content)
    start, end = space.point(*content["startPoint"]), space.point(*content["endPoint"])
    annotation.L = Array([*start, *end])
    caps = content.get("lineCaps") or {}
    annotation.LE = Array([Name("/" + LINE_ENDINGS.get(str(caps.get(side)), "None"))
                           for side in ("start", "end")])
    drawing.ops.append(f"{drawing.local(*start)} m {drawing.local(*end)} l S")
    size = 3 * float(content.get("strokeWidth", 1)) + 4
    filled = rgb_of(content.get("fillColor")) is not None  # PDF: caps take /IC
    for side, tip, tail in (("start", start, end), ("end", end, start)):
        if caps.get(side) in LINE_ENDINGS:
            drawing.ops.append(_cap(drawing, str(caps[side]), tip, tail, size, filled))


def _polyline(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
              space: PageSpace) -> None:
    closed = content["type"] == "pspdfkit/shape/polygon"
    annotation.Subtype = Name.Polygon if closed else Name.PolyLine
    _shape_keys(annotation, drawing, content)
    points = [space.point(*p) for p in content["points"]]
    annotation.Vertices = Array([v for p in points for v in p])
    if not points:  # nothing to draw: kept as a record with no vertices, as stored
        return
    drawing.ops.append(_path(drawing, points) + (f" h {_paint(content)}" if closed else " S"))
    caps = content.get("lineCaps") or {}
    if closed or not caps or len(points) < 2:
        return
    annotation.LE = Array([Name("/" + LINE_ENDINGS.get(str(caps.get(side)), "None"))
                           for side in ("start", "end")])
    size = 3 * float(content.get("strokeWidth", 1)) + 4
    filled = rgb_of(content.get("fillColor")) is not None
    for side, tip, tail in (("start", points[0], points[1]), ("end", points[-1], points[-2])):
        if caps.get(side) in LINE_ENDINGS:
            drawing.ops.append(_cap(drawing, str(caps[side]), tip, tail, size, filled))


def _ink(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
         space: PageSpace) -> None:
    annotation.Subtype = Name.Ink
    color = rgb_of(content.get("strokeColor")) or (0.0, 0.0, 0.0)
    width = float(content.get("lineWidth", 1))
    annotation.C = Array(color)
    annotation.BS = Dictionary(W=width)
    background = rgb_of(content.get("backgroundColor"))
    if background is not None:  # where the engine keeps an ink's background
        annotation.IC = Array(background)
    segments = [[space.point(*p[:2]) for p in segment]
                for segment in content["lines"].get("points", [])]
    annotation.InkList = Array([Array([v for p in segment for v in p])
                                for segment in segments])
    intensities = content["lines"].get("intensities")
    if isinstance(intensities, list):  # without them the engine reads 0.5 for each point
        annotation[ENGINE_INTENSITIES] = Array([Array(s) for s in intensities])
    if content.get("isDrawnNaturally"):
        annotation[ENGINE_NATURAL] = True
    drawing.ops.append(f"{_color(color)} RG {_n(width)} w 1 J 1 j")
    drawing.ops += [_path(drawing, segment) + " S" for segment in segments if segment]


def _markup(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
            space: PageSpace) -> None:
    kind = MARKUP_SUBTYPES[content["type"]]
    annotation.Subtype = Name("/" + kind)
    color = rgb_of(content.get("color")) or rgb_of(DEFAULT_COLORS[content["type"]])
    assert color is not None
    annotation.C = Array(color)
    rects = [space.rect(r) for r in content["rects"]]
    # Acrobat's order: upper left, upper right, lower left, lower right
    annotation.QuadPoints = Array([v for r in rects
                                   for v in (r[0], r[3], r[2], r[3], r[0], r[1], r[2], r[1])])
    if kind == "Highlight":
        drawing.resources = Dictionary(ExtGState=Dictionary(M=Dictionary(BM=Name.Multiply)))
        drawing.ops.append(f"/M gs {_color(color)} rg")
    else:
        drawing.ops.append(f"{_color(color)} RG")
    for r in rects:
        (x0, y0), (x1, y1) = (r[0], r[1]), (r[2], r[3])
        height = y1 - y0
        thickness = max(height / 14, 0.5)
        if kind == "Highlight":
            drawing.ops.append(f"{drawing.local(x0, y0)} {_n(x1 - x0)} {_n(height)} re f")
        elif kind == "Underline":
            y = y0 + thickness
            drawing.ops.append(f"{_n(thickness)} w {drawing.local(x0, y)} m "
                               f"{drawing.local(x1, y)} l S")
        elif kind == "StrikeOut":
            y = y0 + height / 2
            drawing.ops.append(f"{_n(thickness)} w {drawing.local(x0, y)} m "
                               f"{drawing.local(x1, y)} l S")
        else:
            drawing.ops.append(f"{_n(thickness)} w " + _zigzag(drawing, x0, x1, y0 + thickness,
                                                             height / 8) + " S")


def _text(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
          space: PageSpace) -> None:
    annotation.Subtype = Name.FreeText
    _contents(annotation, content)
    declared = _font_size(content)
    size = declared or 12.0  # 0 (none given) is 'fit' to a reader; drawn at 12 here
    color = rgb_of(content.get("fontColor")) or (0.0, 0.0, 0.0)
    annotation.DA = String(f"/Helv {_font_text(declared)} Tf {_color(color)} rg")
    annotation.Q = {"left": 0, "center": 1, "right": 2}.get(str(content.get("horizontalAlign")), 0)
    _text_style(annotation, content, declared)
    left, bottom, width, height = _callout(annotation, drawing, content, space, color)
    _cloudy_keys(annotation, content, "/RD" not in annotation)
    background = rgb_of(content.get("backgroundColor"))
    if background is not None:
        drawing.ops.append(f"{_color(background)} rg {_n(left)} {_n(bottom)} {_n(width)} "
                           f"{_n(height)} re f")
    drawing.resources = Dictionary(Font=Dictionary(Helv=_font(HELVETICA)))
    lines = _wrapped(_plain_text(content), size, width - 4)
    drawing.ops += ["BT", f"/Helv {_n(size)} Tf {_color(color)} rg"]
    y = height - 2 - size
    for line in lines:
        if y < -size:
            break
        x = {1: (width - _text_width(line, size)) / 2,
             2: width - 2 - _text_width(line, size)}.get(int(annotation.Q), 2.0)
        drawing.ops.append(f"1 0 0 1 {_n(left + x)} {_n(bottom + y)} Tm {_pdf_text(line)} Tj")
        y -= size * 1.2
    drawing.ops.append("ET")


def _font(base: str) -> Dictionary:
    """A standard font's dictionary, new for each use: a shared pikepdf object would belong
    to the first PDF that took it, and a write that failed half-way left it there, so that
    every later text in the process failed (ForeignObjectError)."""
    return Dictionary(Type=Name.Font, Subtype=Name.Type1, BaseFont=Name(base),
                      Encoding=Name.WinAnsiEncoding)


def _font_size(content: dict[str, Any]) -> float:
    """The font size a record declares; 0, as the engine writes one without."""
    size = content.get("fontSize")
    return float(size) if isinstance(size, (int, float)) and not isinstance(size, bool) else 0.0


def _font_style(content: dict[str, Any]) -> str:
    """A text's bold and italic, in CSS as /DS holds them."""
    styles = content.get("fontStyle") or []
    return ("font-weight:bold; " if "bold" in styles else "") + \
        ("font-style:italic; " if "italic" in styles else "")


def _font_text(size: float) -> str:
    """A font size as the record holds it (a 32-bit float's digits, not rounded)."""
    return format(size, ".7g")


def _text_style(annotation: Dictionary, content: dict[str, Any], size: float) -> None:
    """A text's font, alignment, background and border in the engine's keys (/DS, its
    vertical alignment, /C, /BS and its border colour) and rich text as /RC."""
    vertical = str(content.get("verticalAlign", "top"))
    font = str(content.get("font") or "Helvetica").replace('"', "")
    annotation.DS = String(
        f'font:{size:.2f}pt "{font}"; text-align:{content.get("horizontalAlign", "left")}; '
        f'vertical-align:{"middle" if vertical == "center" else vertical}; '
        f'color:{content.get("fontColor") or "#000000"}; ' + _font_style(content))
    if vertical in VERTICAL_ALIGNS:
        annotation[ENGINE_VERTICAL_ALIGN] = VERTICAL_ALIGNS.index(vertical)
    background = rgb_of(content.get("backgroundColor"))
    if background is not None:
        annotation.C = Array(background)
    _border_keys(annotation, content)
    if "/BS" not in annotation:  # no border: without /BS the engine reads a solid one
        annotation.BS = Dictionary(Type=Name.Border, S=Name.N, W=0)
    text = content.get("text")
    if isinstance(text, dict) and text.get("format") == "xhtml":
        annotation.RC = String(str(text.get("value", "")))


def _border_keys(annotation: Dictionary, content: dict[str, Any]) -> None:
    """A text's or link's border: /BS (style, width, dashes) and the engine's colour."""
    style = BORDER_STYLES.get(str(content.get("borderStyle")))
    width = content.get("borderWidth")
    if style is None and not isinstance(width, (int, float)):
        return
    border = Dictionary(Type=Name.Border, S=Name("/" + (style or "N")))
    # No width is 0 to the engine (its export says so); a PDF without /W means 1.
    border.W = float(width) if isinstance(width, (int, float)) else 0.0
    dashes = content.get("borderDashArray")
    if style == "D" and isinstance(dashes, list) and dashes:
        border.D = Array([float(d) for d in dashes])
    annotation.BS = border
    color = rgb_of(content.get("borderColor"))
    if color is not None:
        annotation[ENGINE_BORDER_COLOR] = Array(color)


def _callout(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
             space: PageSpace, color: tuple[float, float, float]
             ) -> tuple[float, float, float, float]:
    """The box the text goes in (left, bottom, width, height in the drawing). A callout's
    text sits inside the annotation's box by ``innerRectInset`` (PDF /RD), and a line runs
    from ``start`` (the point it shows) by ``knee`` to ``end`` at the text (PDF /CL,
    /IT /FreeTextCallout); validation made sure of their shapes."""
    width, height = _size(drawing)
    callout = content.get("callout")
    if not isinstance(callout, dict):
        return 0.0, 0.0, width, height
    inset_left, inset_top, inset_right, inset_bottom = (
        float(v) for v in callout.get("innerRectInset") or (0, 0, 0, 0))
    points = [space.point(*callout[key]) for key in ("start", "knee", "end")
              if callout.get(key) is not None]
    annotation.IT = Name.FreeTextCallout
    annotation.CL = Array([v for point in points for v in point])
    annotation.RD = _rd([inset_left, inset_top, inset_right, inset_bottom])
    if callout.get("cap"):
        annotation.LE = Name("/" + LINE_ENDINGS.get(str(callout["cap"]), "None"))
    line = rgb_of(content.get("borderColor")) or color
    drawing.ops.append(f"{_color(line)} RG 1 w " + _path(drawing, points) + " S")
    if callout.get("cap") in LINE_ENDINGS and len(points) >= 2:  # at the point it shows
        drawing.ops.append(f"{_color(line)} rg " + _cap(drawing, str(callout["cap"]),
                                                         points[0], points[1], 6, True))
    return (inset_left, inset_bottom, max(1.0, width - inset_left - inset_right),
            max(1.0, height - inset_top - inset_bottom))


def _link(annotation: Dictionary, content: dict[str, Any], pdf: Pdf) -> None:
    """A link has no appearance: viewers show it as the page under it."""
    annotation.Subtype = Name.Link
    _border_keys(annotation, content)
    if "/BS" not in annotation:
        annotation.Border = Array([0, 0, 0])
    action = action_dictionary(pdf, content["action"]) if content.get("action") else None
    if action is not None:
        annotation.A = action


def _stamp(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
           space: PageSpace) -> None:
    """A standard stamp keeps its PDF name (/Approved, /Draft, ...); its appearance is its
    label in a rounded frame, as the Web SDK draws it."""
    annotation.Subtype = Name.Stamp
    kind = str(content.get("stampType") or content.get("kind") or "Custom")
    if kind == "Custom":  # the engine's custom stamp: no /Name, its title and subtitle
        annotation[ENGINE_STAMP_TITLE] = String(str(content.get("title", "")))
    else:
        annotation.Name = Name("/" + kind)
        if isinstance(content.get("title"), str):  # a standard stamp's too, as the engine
            annotation[ENGINE_STAMP_TITLE] = String(content["title"])
    if isinstance(content.get("subtitle"), str):
        annotation[ENGINE_STAMP_SUBTITLE] = String(content["subtitle"])
    label = content["title"] if kind == "Custom" else re.sub(r"(?<=[a-z])(?=[A-Z])", " ",
                                                             kind).upper()
    color = rgb_of(content.get("color"))
    if color is not None:  # none given: drawn in the stamp's own colour, read as none
        annotation.C = Array(color)
    color = color or STAMP_COLORS.get(kind, (0.1, 0.3, 0.7))
    width, height = _size(drawing)
    size = max(min(height * 0.5, (width - 8) / max(_text_width(label, 1.0, bold=True), 0.1)),
               1.0)
    radius = min(width, height) * 0.15
    drawing.resources = Dictionary(Font=Dictionary(Helv=_font(HELVETICA_BOLD)))
    drawing.ops += [f"{_color(color)} RG {_color(color)} rg 2 w",
                    _rounded(1, 1, width - 2, height - 2, radius) + " S",
                    "BT", f"/Helv {_n(size)} Tf",
                    f"1 0 0 1 {_n((width - _text_width(label, size, bold=True)) / 2)} "
                    f"{_n((height - size * 0.7) / 2)} Tm {_pdf_text(label)} Tj", "ET"]


def _image(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
           space: PageSpace) -> None:
    """An image is a stamp whose appearance draws the image attachment over its box."""
    annotation.Subtype = Name.Stamp  # no /Name: the engine reads an image stamp so
    if "/Subj" not in annotation and isinstance(content.get("description"), str):
        annotation.Subj = String(content["description"])
    path = drawing.images.get(str(content.get("imageAttachmentId")))
    if path is None:
        raise NotWritten("its image attachment is not held by this document")
    width, height = _size(drawing)
    if content.get("contentType") == "application/pdf":  # its first page, scaled to the box
        form = _page_form(drawing.pdf, path)
        x0, y0, x1, y1 = (float(v) for v in form.BBox)
        across, up = width / max(x1 - x0, 1e-6), height / max(y1 - y0, 1e-6)
        drawing.resources = Dictionary(XObject=Dictionary(Im=form))
        drawing.ops.append(f"q {_n(across)} 0 0 {_n(up)} {_n(-x0 * across)} {_n(-y0 * up)} cm "
                           "/Im Do Q")
        return
    drawing.resources = Dictionary(XObject=Dictionary(Im=image_object(drawing.pdf, path)))
    drawing.ops.append(f"q {_n(width)} 0 0 {_n(height)} 0 0 cm /Im Do Q")


def _page_form(pdf: Pdf, path: Path) -> pikepdf.Object:
    """The first page of a PDF attachment as a form XObject of ``pdf``, its streams' bytes
    held by ``pdf`` (QPDF would otherwise read them from the attachment when ``pdf`` is
    saved, long after it is closed)."""
    try:
        with Pdf.open(path) as source:
            form = pdf.copy_foreign(source.pages[0].as_form_xobject())
            _own_streams(form, set())
            return form
    except (pikepdf.PdfError, pikepdf.PasswordError, IndexError) as error:  # broken, locked
        raise NotWritten(f"its PDF attachment cannot be drawn ({error})") from None


def _own_streams(value: Any, seen: set[tuple[int, int]]) -> None:
    """Copy the bytes of every stream reachable from ``value`` into its own PDF."""
    if isinstance(value, pikepdf.Object) and value.is_indirect:
        if value.objgen in seen:
            return
        seen.add(value.objgen)
    if isinstance(value, pikepdf.Stream):
        value.write(value.read_raw_bytes(), filter=value.get("/Filter"),  # type: ignore[arg-type]
                    decode_parms=value.get("/DecodeParms"))  # type: ignore[arg-type]
    if isinstance(value, (pikepdf.Dictionary, pikepdf.Stream)):
        for key in value.keys():
            if key != "/Parent":
                _own_streams(value[key], seen)
    elif isinstance(value, pikepdf.Array):
        for item in value:
            _own_streams(item, seen)


def _redaction(annotation: Dictionary, drawing: Drawing, content: dict[str, Any],
               space: PageSpace) -> None:
    """A redaction marked, not applied: its areas outlined, as viewers show one."""
    annotation.Subtype = Name.Redact
    rects = [space.rect(r) for r in content.get("rects") or [content["bbox"]]]
    annotation.QuadPoints = Array([v for r in rects
                                   for v in (r[0], r[3], r[2], r[3], r[0], r[1], r[2], r[1])])
    outline = rgb_of(content.get("outlineColor"))
    if outline is not None:  # none written is none read back, as the engine does
        annotation.OC = Array(outline)
    fill = rgb_of(content.get("fillColor"))
    if fill is not None:
        annotation.IC = Array(fill)
    annotation.DA = String(f"/Helv {_font_text(_font_size(content))} Tf")
    if isinstance(content.get("overlayText"), str):
        annotation.OverlayText = String(content["overlayText"])
    color = rgb_of(content.get("color"))
    if color is not None:
        annotation.C = Array(color)
    if isinstance(content.get("repeatOverlayText"), bool):
        annotation.Repeat = content["repeatOverlayText"]
    drawing.ops.append(f"{_color(outline or (1.0, 0.0, 0.0))} RG 1 w")
    drawing.ops += [f"{drawing.local(r[0], r[1])} {_n(r[2] - r[0])} {_n(r[3] - r[1])} re S"
                    for r in rects]


WRITERS: dict[str, Callable[[Dictionary, Drawing, dict[str, Any], PageSpace], None]] = {
    "pspdfkit/note": _note, MARKER: _marker, "pspdfkit/shape/rectangle": _rectangle,
    "pspdfkit/shape/ellipse": _ellipse, "pspdfkit/shape/line": _line,
    "pspdfkit/shape/polyline": _polyline, "pspdfkit/shape/polygon": _polyline,
    "pspdfkit/ink": _ink, "pspdfkit/text": _text, "pspdfkit/stamp": _stamp,
    "pspdfkit/image": _image, "pspdfkit/markup/redaction": _redaction,
    **{kind: _markup for kind in MARKUP_SUBTYPES},
}


# ---- helpers -------------------------------------------------------------------------------

def _shape_keys(annotation: Dictionary, drawing: Drawing, content: dict[str, Any]) -> float:
    """Colours and border of a shape, set on the annotation and the drawing; its width."""
    write_measure(annotation, content)
    stroke = float(content.get("strokeWidth", content.get("lineWidth", 1)))
    color = rgb_of(content.get("strokeColor"))
    annotation.C = Array(color or ())  # none given: drawn black, read as none (the engine's)
    color = color or (0.0, 0.0, 0.0)
    annotation.BS = Dictionary(W=stroke)
    dash = content.get("strokeDashArray")
    style = [f"{_color(color)} RG {_n(stroke)} w"]
    if isinstance(dash, list) and dash:
        annotation.BS.S = Name.D
        annotation.BS.D = Array([float(d) for d in dash])
        style.append(f"[{' '.join(_n(float(d)) for d in dash)}] 0 d")
    fill = rgb_of(content.get("fillColor"))
    if fill is not None:
        annotation.IC = Array(fill)
        style.append(f"{_color(fill)} rg")
    _cloudy_keys(annotation, content, True)
    drawing.ops += style
    return stroke


def _cloudy_keys(annotation: Dictionary, content: dict[str, Any], inset: bool) -> None:
    """A cloudy border as /BE, and how far it reaches into the box as /RD (``inset``: when
    /RD is not a callout's already)."""
    if content.get("cloudyBorderIntensity"):
        annotation.BE = Dictionary(S=Name.C, I=float(content["cloudyBorderIntensity"]))
    if inset and isinstance(content.get("cloudyBorderInset"), list):
        annotation.RD = _rd(content["cloudyBorderInset"])


def _rd(inset: list[float]) -> Array:
    """Instant JSON's [left, top, right, bottom] as /RD [left bottom right top]."""
    left, top, right, bottom = (float(v) for v in inset)
    return Array([left, bottom, right, top])


def image_object(pdf: Pdf, source: Path | bytes) -> pikepdf.Stream:
    """An image XObject of a file or bytes: a JPEG as it is (DCT), anything else decoded by
    Pillow, its alpha kept as a soft mask."""
    data = source.read_bytes() if isinstance(source, Path) else source
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        if image.format == "JPEG" and image.mode in ("RGB", "L", "CMYK"):
            return pikepdf.Stream(pdf, data, Type=Name.XObject,
                                  Subtype=Name.Image, Width=image.width, Height=image.height,
                                  ColorSpace=Name("/" + JPEG_SPACES[image.mode]),
                                  BitsPerComponent=8, Filter=Name.DCTDecode)
        alpha = image.getchannel("A") if "A" in image.getbands() else None
        pixels = image.convert("RGB")
        stream = pikepdf.Stream(pdf, zlib.compress(pixels.tobytes()), Type=Name.XObject,
                                Subtype=Name.Image, Width=image.width, Height=image.height,
                                ColorSpace=Name.DeviceRGB, BitsPerComponent=8,
                                Filter=Name.FlateDecode)
        if alpha is not None:
            stream.SMask = pikepdf.Stream(pdf, zlib.compress(alpha.tobytes()),
                                          Type=Name.XObject, Subtype=Name.Image,
                                          Width=image.width, Height=image.height,
                                          ColorSpace=Name.DeviceGray, BitsPerComponent=8,
                                          Filter=Name.FlateDecode)
        return stream


def _rounded(x: float, y: float, width: float, height: float, radius: float) -> str:
    k = radius * KAPPA
    right, top = x + width, y + height
    return " ".join([
        f"{_n(x + radius)} {_n(y)} m {_n(right - radius)} {_n(y)} l",
        f"{_n(right - radius + k)} {_n(y)} {_n(right)} {_n(y + radius - k)} "
        f"{_n(right)} {_n(y + radius)} c {_n(right)} {_n(top - radius)} l",
        f"{_n(right)} {_n(top - radius + k)} {_n(right - radius + k)} {_n(top)} "
        f"{_n(right - radius)} {_n(top)} c {_n(x + radius)} {_n(top)} l",
        f"{_n(x + radius - k)} {_n(top)} {_n(x)} {_n(top - radius + k)} "
        f"{_n(x)} {_n(top - radius)} c {_n(x)} {_n(y + radius)} l",
        f"{_n(x)} {_n(y + radius - k)} {_n(x + radius - k)} {_n(y)} {_n(x + radius)} {_n(y)} c",
    ])


def _paint(content: dict[str, Any]) -> str:
    return "B" if rgb_of(content.get("fillColor")) is not None else "S"


def _cap(drawing: Drawing, kind: str, tip: tuple[float, float], tail: tuple[float, float],
         size: float, filled: bool) -> str:
    """A line ending (PDF 32000 §12.5.6.7) drawn at ``tip``, turned along the line from
    ``tail``; closed ones filled with the current fill colour when ``filled``; never
    dashed."""
    angle = math.atan2(tip[1] - tail[1], tip[0] - tail[0])

    def at(along: float, across: float) -> str:  # a point in the line's own frame
        x = tip[0] + along * math.cos(angle) - across * math.sin(angle)
        y = tip[1] + along * math.sin(angle) + across * math.cos(angle)
        return drawing.local(x, y)

    wing, half = size * math.cos(math.pi / 6), size * math.sin(math.pi / 6)
    close = " h B" if filled else " s"
    shapes = {
        "openArrow": f"{at(-wing, half)} m {at(0, 0)} l {at(-wing, -half)} l S",
        "closedArrow": f"{at(-wing, half)} m {at(0, 0)} l {at(-wing, -half)} l{close}",
        "reverseOpenArrow": f"{at(wing, half)} m {at(0, 0)} l {at(wing, -half)} l S",
        "reverseClosedArrow": f"{at(wing, half)} m {at(0, 0)} l {at(wing, -half)} l{close}",
        "butt": f"{at(0, half)} m {at(0, -half)} l S",
        "slash": f"{at(-half * 0.6, -half)} m {at(half * 0.6, half)} l S",
        "square": f"{at(-half, -half)} m {at(half, -half)} l {at(half, half)} l "
                  f"{at(-half, half)} l{close}",
        "diamond": f"{at(-half, 0)} m {at(0, -half)} l {at(half, 0)} l {at(0, half)} l{close}",
        "circle": _circle_path(at, half) + close,
    }
    return f"q [] 0 d {shapes[kind]} Q"


def _circle_path(at: Callable[[float, float], str], radius: float) -> str:
    k = radius * KAPPA
    return (f"{at(radius, 0)} m {at(radius, k)} {at(k, radius)} {at(0, radius)} c "
            f"{at(-k, radius)} {at(-radius, k)} {at(-radius, 0)} c "
            f"{at(-radius, -k)} {at(-k, -radius)} {at(0, -radius)} c "
            f"{at(k, -radius)} {at(radius, -k)} {at(radius, 0)} c")


def _path(drawing: Drawing, points: list[tuple[float, float]]) -> str:
    first, *rest = points
    return " ".join([f"{drawing.local(*first)} m", *(f"{drawing.local(*p)} l" for p in rest)])


def _zigzag(drawing: Drawing, x0: float, x1: float, y: float, amplitude: float) -> str:
    step = max(amplitude * 2, 1.0)
    points, x, up = [(x0, y)], x0, True
    while x < x1:
        x = min(x + step, x1)
        points.append((x, y + (amplitude if up else 0)))
        up = not up
    return _path(drawing, points)


def _contents(annotation: Dictionary, content: dict[str, Any]) -> None:
    text = _plain_text(content)
    if text:
        annotation.Contents = String(text)


def _plain_text(content: dict[str, Any]) -> str:
    text = content.get("text")
    if isinstance(text, dict):
        value = str(text.get("value", ""))
        if text.get("format") == "xhtml":
            value = re.sub(r"<[^>]+>", "", value)
        return value
    return text if isinstance(text, str) else ""


def _wrapped(text: str, size: float, width: float) -> list[str]:
    """Greedy word wrap by Helvetica's average width (enough for an appearance; viewers
    that lay text out themselves use /Contents and /DA)."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and _text_width(candidate, size) > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def _text_width(text: str, size: float, bold: bool = False) -> float:
    """About how wide Helvetica (or Helvetica-Bold) sets ``text``: widths by kind of
    character, near the fonts' metrics, which is all an appearance needs."""
    upper, lower = (0.722, 0.58) if bold else (0.667, 0.5)
    total = sum(upper if c.isupper() else lower if c.islower() else 0.556 if c.isdigit()
                else 0.278 if c == " " else 0.4 for c in text)
    return total * size


def _pdf_text(text: str) -> str:
    """A string literal in WinAnsi, the standard fonts' encoding (other characters show as
    '?'; /Contents keeps the exact text)."""
    encoded = text.encode("cp1252", errors="replace").decode("latin-1")
    return "(" + encoded.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ")"


def opacity(content: dict[str, Any]) -> float:
    """The record's opacity as PDFs take it, from 0 to 1 (the engine keeps 1.5 as sent)."""
    return min(1.0, max(0.0, float(content.get("opacity", 1))))


def _flags(flags: Any) -> int:
    names = set(flags) if isinstance(flags, list) else set()
    value = 0 if "noPrint" in names else PRINT
    for name in names:
        value |= FLAG_BITS.get(name, 0)
    return value


def rgb_of(value: Any) -> tuple[float, float, float] | None:
    if not isinstance(value, str) or len(value) != 7:
        return None
    return int(value[1:3], 16) / 255, int(value[3:5], 16) / 255, int(value[5:7], 16) / 255


def _color(rgb: tuple[float, float, float]) -> str:
    return " ".join(_n(c) for c in rgb)


def _size(drawing: Drawing) -> tuple[float, float]:
    return drawing.rect[2] - drawing.rect[0], drawing.rect[3] - drawing.rect[1]


def number_text(value: float) -> str:
    """A number as PDF content writes it: short, no exponent."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


_n = number_text  # short, for the many drawing operators above
