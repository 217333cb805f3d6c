"""A PDF's own annotations read as Instant JSON records: the reverse of ``pdf_annotations``,
for the types it writes, so that an uploaded PDF's annotations (from Acrobat, Preview, the
Web SDK or annolog itself) become records like any other, each with its ``pdfObjectId``.

Form-field widgets and popups are the PDF's own and stay in it untouched; what cannot be
read is reported with its page, object number and reason, never guessed.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf import Name, Pdf
from ulid import ULID

from eventstore.names import check_annotation_id
from eventstore.times import iso_of_pdf_date
from eventstore.validation import STAMP_TYPES, ContentError, accepted_content
from projections.pdf_actions import UnreadableAction, action_of
from projections.pdf_annotations import (
    BLEND_MODES,
    BORDER_STYLES,
    DEFAULT_COLORS,
    ENGINE_BORDER_COLOR,
    ENGINE_CUSTOM_DATA,
    ENGINE_FIRST_COMMENT,
    ENGINE_ID,
    ENGINE_INTENSITIES,
    ENGINE_NATURAL,
    ENGINE_SIGNATURE,
    ENGINE_STAMP_SUBTITLE,
    ENGINE_STAMP_TITLE,
    ENGINE_THREAD,
    ENGINE_TYPE,
    ENGINE_VERTICAL_ALIGN,
    FLAG_BITS,
    LINE_ENDINGS,
    MARKER,
    MARKUP_SUBTYPES,
    NOTED,
    ROTATED,
    VERTICAL_ALIGNS,
    PageSpace,
)
from projections.pdf_measure import read_measure
from projections.sections import check_comment

NOT_RECORDS = frozenset({"/Popup", "/Widget"})  # parts of the PDF, not annotations of it
CAPS = {f"/{pdf_name}": name for name, pdf_name in LINE_ENDINGS.items()}
MARKUPS = {f"/{subtype}": kind for kind, subtype in MARKUP_SUBTYPES.items()}
DA_SIZE = re.compile(r"([\d.]+)\s+Tf")
DA_RGB = re.compile(r"([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+rg")
DS_FONT = re.compile(r"font(?:-family)?:[^;\"]*\"([^\"]+)\"")
DS_VERTICAL = {"top": "top", "middle": "center", "center": "center", "bottom": "bottom"}
DS_VERTICAL_ALIGN = re.compile(r"vertical-align:\s*(\w+)")
STYLES = {f"/{pdf}": style for style, pdf in BORDER_STYLES.items()}
BLENDS = {f"/{pdf}": mode for mode, pdf in BLEND_MODES.items()}



@dataclass
class ReadAnnotations:
    """Records read from a PDF, the replies to them (as Instant JSON comments, with their
    ids), and what could not be read."""

    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (id, content)
    errors: list[dict[str, Any]] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    images: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # by SHA-256 hex


class Unreadable(Exception):
    """An annotation this module does not read (yet), with the reason."""


# What a malformed annotation raises on the way: a key missing (AttributeError), a value of
# the wrong type or length, a number out of range. Each is reported, never a failed upload.
MALFORMED = (Unreadable, ContentError, AttributeError, KeyError, ValueError, TypeError,
             IndexError, OverflowError, pikepdf.PdfError)


def reason(error: Exception) -> str:
    """Why an annotation could not be read, for a person."""
    if isinstance(error, (Unreadable, ContentError)):
        return str(error)
    if isinstance(error, AttributeError) and str(error).startswith("/"):
        return f"it is malformed: {error} is missing"
    return f"it is malformed ({type(error).__name__}: {str(error)[:200]})"


def read_annotations(path: Path, password: str | None = None) -> ReadAnnotations:
    """The annotations of every page as (id, Instant JSON content), in page order, and
    their replies (/IRT) as comments of their thread's root."""
    found = ReadAnnotations()
    used: set[str] = set()
    taken: set[str] = set()  # comment ids
    ids: dict[tuple[int, int], str] = {}  # the record id of each annotation read
    replies: list[tuple[int, pikepdf.Dictionary]] = []
    with Pdf.open(path, password=password or "") as pdf:
        pages = {page.obj.objgen: index for index, page in enumerate(pdf.pages)}
        for index, page in enumerate(pdf.pages):
            space = PageSpace.of(page)
            for annotation in _annotations(page):
                if is_reply(annotation):
                    replies.append((index, annotation))
                    continue
                try:
                    content = content_of(annotation, index, space, pages, found.images)
                    content = accepted_content(content, len(pdf.pages))
                except MALFORMED as error:
                    found.errors.append({"pageIndex": index,
                                         "pdfObjectId": annotation.objgen[0],
                                         "reason": reason(error)})
                    continue
                ids[annotation.objgen] = _id(annotation, used)
                found.records.append((ids[annotation.objgen], content))
                first = _first_comment(annotation, index, ids[annotation.objgen], taken)
                if first is not None:
                    found.comments.append(check_comment(first, len(pdf.pages),
                                                        {ids[annotation.objgen]}))
        for index, annotation in replies:
            try:
                root = ids.get(_thread_root(annotation).objgen)
                if root is None:
                    raise Unreadable("its thread's root annotation was not read")
                found.comments.append(check_comment(
                    comment_of(annotation, index, _id(annotation, taken), root),
                    len(pdf.pages), {root}))
            except MALFORMED as error:
                found.errors.append({"pageIndex": index, "pdfObjectId": annotation.objgen[0],
                                     "reason": reason(error)})
    return found


def is_reply(annotation: pikepdf.Dictionary) -> bool:
    """A reply in a comment thread: /IRT, and no /RT or /RT /R (/Group joins annotations
    into one, which is not a comment)."""
    return "/IRT" in annotation and annotation.get("/RT", Name.R) == Name.R


def _thread_root(annotation: pikepdf.Dictionary) -> pikepdf.Dictionary:
    """The annotation a reply's thread hangs from (a reply may answer a reply)."""
    seen: set[tuple[int, int]] = set()
    while is_reply(annotation):
        if annotation.objgen in seen:
            raise Unreadable("its /IRT chain goes round in a circle")
        seen.add(annotation.objgen)
        parent = annotation.IRT
        if not isinstance(parent, pikepdf.Dictionary):
            raise Unreadable("its /IRT is not an annotation")
        annotation = parent
    return annotation


def _first_comment(root: pikepdf.Dictionary, page_index: int, root_id: str,
                   taken: set[str]) -> dict[str, Any] | None:
    """The engine writes a thread's first comment into its root (/Contents, /T, the dates)
    and names it with /PSPDF:FirstCommentId; the later ones are replies. Its pdfObjectId
    is the root's, as the engine says."""
    if not _is_true(root.get(ENGINE_THREAD)) or ENGINE_FIRST_COMMENT not in root:
        return None
    return comment_of(root, page_index, _id(root, taken, ENGINE_FIRST_COMMENT), root_id)


def comment_of(reply: pikepdf.Dictionary, page_index: int, comment_id: str, root_id: str
               ) -> dict[str, Any]:
    """A reply as an Instant JSON comment of ``root_id``: its text, author and times."""
    comment: dict[str, Any] = {
        "v": 2, "type": "pspdfkit/comment", "id": comment_id, "rootId": root_id,
        "pageIndex": page_index, "text": _text(reply)}
    if reply.objgen[0]:
        comment["pdfObjectId"] = reply.objgen[0]
    if "/T" in reply:
        comment["creatorName"] = str(reply.T)
    for key, name in (("/CreationDate", "createdAt"), ("/M", "updatedAt")):
        moment = iso_of_pdf_date(reply.get(key))
        if moment is not None:
            comment[name] = moment
    return comment


def _annotations(page: pikepdf.Page) -> Iterator[pikepdf.Dictionary]:
    for annotation in page.obj.get("/Annots", []):
        if not isinstance(annotation, pikepdf.Dictionary):
            continue
        if str(annotation.get("/Subtype")) in NOT_RECORDS:
            continue
        yield annotation


def _id(annotation: pikepdf.Dictionary, used: set[str], key: str = ENGINE_ID) -> str:
    """The annotation's id as the engine wrote it (/PSPDF:Id), or else its /NM, when it is a
    usable id not taken yet; else a fresh ULID."""
    name = str(annotation.get(key, "") or ("" if key != ENGINE_ID else
                                           annotation.get("/NM", "")))
    try:
        identifier = check_annotation_id(name) if name else str(ULID())
    except ContentError:
        identifier = str(ULID())
    if identifier in used:
        identifier = str(ULID())
    used.add(identifier)
    return identifier


def content_of(annotation: pikepdf.Dictionary, page_index: int, space: PageSpace,
               pages: dict[tuple[int, int], int],
               images: dict[str, tuple[str, bytes]] | None = None) -> dict[str, Any]:
    """One PDF annotation as Instant JSON content (raises ``Unreadable``); an image stamp's
    image goes into ``images`` (by SHA-256), which its content names."""
    if "/IRT" in annotation:
        raise Unreadable("grouped annotations (/IRT with /RT /Group) are not read from PDFs"
                         if not is_reply(annotation) else
                         "a reply is read as a comment of its thread, not as an annotation")
    subtype = str(annotation.get("/Subtype"))
    reader = READERS.get(subtype)
    if reader is None:
        raise Unreadable(f"{subtype or 'an annotation without /Subtype'} annotations are not "
                         "read from PDFs")
    rect = [float(v) for v in annotation.Rect]
    left, bottom, right, top = min(rect[0], rect[2]), min(rect[1], rect[3]), \
        max(rect[0], rect[2]), max(rect[1], rect[3])
    content: dict[str, Any] = {
        "v": 2, "pageIndex": page_index, "opacity": float(annotation.get("/CA", 1)),
        "bbox": [_round(left - space.left), _round(space.top - top), _round(right - left),
                 _round(top - bottom)],
    }
    if annotation.objgen[0]:  # an annotation of the PDF (not one built from XFDF)
        content["pdfObjectId"] = annotation.objgen[0]
    flags = int(annotation.get("/F", 0))
    named = [name for name, bit in FLAG_BITS.items() if flags & bit]
    if not flags & 4:
        named.append("noPrint")
    if named:
        content["flags"] = named
    content.update(_common(annotation))
    reader(annotation, content, space, pages)
    if "action" not in content and "/A" in annotation:
        try:
            content["action"] = action_of(annotation.A, pages)
        except UnreadableAction as error:
            raise Unreadable(f"annotations with {error}") from None
    kind = content["type"]
    if kind in NOTED and "/Contents" in annotation:
        content["note"] = str(annotation.Contents)
    if kind in ROTATED and "/Rotate" in annotation:
        content["rotation"] = int(annotation.Rotate)
    if _is_true(annotation.get(ENGINE_SIGNATURE)) and kind in ("pspdfkit/ink",
                                                                "pspdfkit/image"):
        content["isSignature"] = True
    if content["type"] == "pspdfkit/image":
        if images is None:
            raise Unreadable("image stamps are not read from XFDF")
        content_type, data = image_of(annotation)
        sha256 = hashlib.sha256(data).hexdigest()
        images[sha256] = (content_type, data)
        content.update(imageAttachmentId=sha256, contentType=content_type)
    return content


def _common(annotation: Any) -> dict[str, Any]:
    """What every type keeps in the same keys: author, times, subject, the engine's custom
    data, its name (/NM, when the engine's id names the record), the appearance's blend."""
    common: dict[str, Any] = {}
    for key, name in (("/T", "creatorName"), ("/Subj", "subject")):
        if key in annotation:
            common[name] = str(annotation[key])
    if ENGINE_ID in annotation and "/NM" in annotation:
        common["name"] = str(annotation.NM)
    for key, name in (("/CreationDate", "createdAt"), ("/M", "updatedAt")):
        moment = iso_of_pdf_date(annotation.get(key))
        if moment is not None:
            common[name] = moment
    custom = _json_object(annotation.get(ENGINE_CUSTOM_DATA))
    if custom is not None:
        common["customData"] = custom
    blend = blend_mode(annotation)
    if blend is not None:
        common["blendMode"] = blend
    return common


def _json_object(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(str(value))
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def blend_mode(annotation: Any) -> str | None:
    """The blend mode the appearance paints with (an /ExtGState's /BM), or else the
    annotation's own /BM (PDF 2.0; XFDF's), but normal."""
    appearance = annotation.get("/AP", {}).get("/N") if isinstance(
        annotation.get("/AP"), pikepdf.Dictionary) else None
    resources = appearance.get("/Resources") if isinstance(appearance, pikepdf.Stream) \
        else None
    states = resources.get("/ExtGState") if isinstance(resources, pikepdf.Dictionary) else None
    for state in states.values() if isinstance(states, pikepdf.Dictionary) else ():
        mode = BLENDS.get(str(state.get("/BM"))) if isinstance(state, pikepdf.Dictionary) \
            else None
        if mode is not None and mode != "normal":
            return mode
    mode = BLENDS.get(str(annotation.get("/BM")))
    return mode if mode != "normal" else None


def _is_true(value: Any) -> bool:
    return value is not None and str(value).lower() == "true"


def name_of(value: Any) -> str:
    """A /Name value without its slash (the engine writes some names as strings)."""
    text = str(value)
    return text[1:] if isinstance(value, pikepdf.Name) or text.startswith("/") else text


# ---- one reader per PDF subtype -----------------------------------------------------------

def _note(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
    if str(annotation.get(ENGINE_TYPE, "")) == MARKER:  # the engine's comment marker
        content.update(type=MARKER, text=_text(annotation))
        if _is_true(annotation.get(ENGINE_THREAD)):
            content["isCommentThreadRoot"] = True
        return
    content.update(type="pspdfkit/note", text=_text(annotation),
                   color=hex_of(annotation.get("/C")) or DEFAULT_COLORS["pspdfkit/note"])
    if "/Name" in annotation:
        name = name_of(annotation.Name)
        content["icon"] = name[:1].lower() + name[1:]


def _shape(kind: str) -> Any:
    def read(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
        content.update(type=kind, **_stroke(annotation), **_cloudy(annotation))
        fill = hex_of(annotation.get("/IC"))
        if fill is not None:
            content["fillColor"] = fill
    return read


def _cloudy(annotation: Any) -> dict[str, Any]:
    """A cloudy border (/BE /S /C, its /I) and how far it reaches into the box (/RD)."""
    effect = annotation.get("/BE")
    if not isinstance(effect, pikepdf.Dictionary) or effect.get("/S") != Name.C:
        return {}
    cloudy: dict[str, Any] = {"cloudyBorderIntensity": float(effect.get("/I", 1))}
    inset = _inset(annotation.get("/RD"))
    if inset is not None:
        cloudy["cloudyBorderInset"] = inset
    return cloudy


def _inset(value: Any) -> list[float] | None:
    """/RD [left bottom right top] as Instant JSON's [left, top, right, bottom]."""
    if not isinstance(value, pikepdf.Array) or len(value) != 4:
        return None
    left, bottom, right, top = (_round(float(v)) for v in value)
    return [left, top, right, bottom]


def _line(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
    x1, y1, x2, y2 = (float(v) for v in annotation.L)
    content.update(type="pspdfkit/shape/line", **_stroke(annotation),
                   startPoint=_point(space, x1, y1), endPoint=_point(space, x2, y2))
    _caps(annotation, content)


def _caps(annotation: Any, content: dict[str, Any]) -> None:
    """The line endings (/LE) of a line or polyline."""
    ends = [str(e) for e in annotation.get("/LE", [])]
    caps = {side: CAPS[end] for side, end in zip(("start", "end"), ends, strict=False)
            if end in CAPS}
    if caps:
        content["lineCaps"] = caps


def _poly(kind: str) -> Any:
    def read(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
        values = [float(v) for v in annotation.Vertices]
        content.update(type=kind, **_stroke(annotation), **_cloudy(annotation),
                       points=[_point(space, values[i], values[i + 1])
                               for i in range(0, len(values) - 1, 2)])
        if kind == "pspdfkit/shape/polyline":
            _caps(annotation, content)
        fill = hex_of(annotation.get("/IC"))
        if fill is not None:
            content["fillColor"] = fill
    return read


def _ink(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
    segments = []
    for stroke in annotation.InkList:
        values = [float(v) for v in stroke]
        segments.append([_point(space, values[i], values[i + 1])
                         for i in range(0, len(values) - 1, 2)])
    border = annotation.get("/BS", {})
    intensities = [[0.5] * len(s) for s in segments]  # what the engine reads when none
    given = annotation.get(ENGINE_INTENSITIES)
    if isinstance(given, pikepdf.Array) and [len(s) for s in given] == \
            [len(s) for s in segments]:
        intensities = [[_round(float(v)) for v in s] for s in given]
    content.update(type="pspdfkit/ink", isDrawnNaturally=_is_true(annotation.get(ENGINE_NATURAL)),
                   lineWidth=float(border.get("/W", 1)),
                   strokeColor=hex_of(annotation.get("/C")) or "#000000",
                   lines={"points": segments, "intensities": intensities})
    background = hex_of(annotation.get("/IC"))
    if background is not None:
        content["backgroundColor"] = background


def _markup(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
    kind = MARKUPS[str(annotation.Subtype)]
    content.update(type=kind, rects=_quads(annotation, space),
                   color=hex_of(annotation.get("/C")) or DEFAULT_COLORS[kind])
    if _is_true(annotation.get(ENGINE_THREAD)):
        content["isCommentThreadRoot"] = True


def _free_text(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
    appearance = str(annotation.get("/DA", ""))
    size = DA_SIZE.search(appearance)
    rgb = DA_RGB.search(appearance)
    style = str(annotation.get("/DS", ""))
    content.update(type="pspdfkit/text", text=_text(annotation),
                   fontSize=_font_size(size.group(1)) if size else 12,
                   fontColor=hex_of([float(v) for v in rgb.groups()]) if rgb else "#000000",
                   horizontalAlign=("left", "center", "right")[int(annotation.get("/Q", 0))
                                                                % 3],
                   verticalAlign=_vertical_align(annotation, style))
    styles = [name for name, css in (("bold", "font-weight:bold"),
                                     ("italic", "font-style:italic"))
              if css in style.replace(" ", "")]
    if styles:
        content["fontStyle"] = styles
    font = DS_FONT.search(style)
    if font is not None:
        content["font"] = font.group(1)
    background = hex_of(annotation.get("/C"))
    if background is not None:
        content["backgroundColor"] = background
    content.update(_border(annotation, content["fontColor"]))
    cloudy = _cloudy(annotation)
    if annotation.get("/IT") == "/FreeTextCallout":
        cloudy.pop("cloudyBorderInset", None)  # /RD is the callout's inset
    content.update(cloudy)
    line = annotation.get("/CL")
    if annotation.get("/IT") == "/FreeTextCallout" and isinstance(line, pikepdf.Array) and \
            len(line) in (4, 6):
        numbers = [float(v) for v in line]
        points = [_point(space, numbers[i], numbers[i + 1]) for i in range(0, len(numbers), 2)]
        callout: dict[str, Any] = {
            "start": points[0], "end": points[-1],
            "innerRectInset": _inset(annotation.get("/RD")) or [0, 0, 0, 0]}
        if len(points) == 3:
            callout["knee"] = points[1]
        if str(annotation.get("/LE")) in CAPS:
            callout["cap"] = CAPS[str(annotation.get("/LE"))]
        content["callout"] = callout


def _vertical_align(annotation: Any, style: str) -> str:
    """/PSPDF:VerticalAlignment (0, 1, 2), else the style's vertical-align, else top."""
    given = annotation.get(ENGINE_VERTICAL_ALIGN)
    if given is not None and 0 <= int(given) < len(VERTICAL_ALIGNS):
        return VERTICAL_ALIGNS[int(given)]
    found = DS_VERTICAL_ALIGN.search(style)
    return DS_VERTICAL.get(found.group(1), "top") if found else "top"


def _border(annotation: Any, default_color: str | None) -> dict[str, Any]:
    """A text's or link's border (/BS): its style and width, its colour (the engine's
    /PSPDF:BorderColor, else /C for a link, else the text's colour); none for style /N."""
    border = annotation.get("/BS")
    if not isinstance(border, pikepdf.Dictionary):
        return {}
    found: dict[str, Any] = {"borderWidth": _round(float(border.get("/W", 1)))}
    style = STYLES.get(str(border.get("/S")))
    if style is None:
        return found
    found["borderStyle"] = style
    color = hex_of(annotation.get(ENGINE_BORDER_COLOR)) or default_color
    if color is not None:
        found["borderColor"] = color
    if style == "dashed":
        found["borderDashArray"] = [_round(float(v)) for v in border.get("/D", [3])]
    return found


def _link(annotation: Any, content: dict[str, Any], space: PageSpace,
          pages: dict[tuple[int, int], int]) -> None:
    content["type"] = "pspdfkit/link"
    action = annotation.get("/A")
    if action is None:
        raise Unreadable("links without an action (a /Dest) are not read yet")
    content.update(_border(annotation, hex_of(annotation.get("/C"))))
    if "borderStyle" not in content:
        content.pop("borderWidth", None)
    try:
        content["action"] = action_of(action, pages)
    except UnreadableAction as error:
        raise Unreadable(f"links with {error}") from None


def _stamp(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
    """A standard stamp by its /Name (the engine writes /SBApproved, others /Approved); the
    engine's custom stamp by its title; else an image stamp when its appearance draws an
    image; else a custom stamp titled by its /Contents or its name."""
    name = name_of(annotation.get("/Name", ""))
    standard = name[2:] if name.startswith("SB") and name[2:] in STAMP_TYPES else name
    content["type"] = "pspdfkit/stamp"
    if standard in STAMP_TYPES and standard != "Custom":
        content["stampType"] = standard
        if ENGINE_STAMP_TITLE in annotation:
            content["title"] = str(annotation[ENGINE_STAMP_TITLE])
    elif ENGINE_STAMP_TITLE in annotation:
        content.update(stampType="Custom", title=str(annotation[ENGINE_STAMP_TITLE]))
    elif name in ("", "Image") and _draws_an_image(annotation):
        content["type"] = "pspdfkit/image"  # its image: see content_of
        if "subject" in content:
            content["description"] = content["subject"]
        return
    else:
        content.update(stampType="Custom",
                       title=str(annotation.get("/Contents", "") or name or "Custom"))
    if ENGINE_STAMP_SUBTITLE in annotation:
        content["subtitle"] = str(annotation[ENGINE_STAMP_SUBTITLE])
    color = hex_of(annotation.get("/C"))
    if color is not None:
        content["color"] = color


def _draws_an_image(annotation: Any) -> bool:
    try:
        image_of(annotation)
    except Unreadable:
        return False
    return True


def image_of(annotation: Any) -> tuple[str, bytes]:
    """The image an image stamp's appearance draws, as (content type, bytes): a JPEG as it
    is stored, anything else as PNG, its soft mask as the alpha channel; a PDF page (a form
    XObject, as annolog draws a PDF attachment) as a one-page PDF."""
    appearance = annotation.get("/AP", {}).get("/N")
    if not isinstance(appearance, pikepdf.Stream):
        raise Unreadable("an image stamp without an appearance stream has no image to read")
    resources: Any = appearance.get("/Resources", {})
    for xobject in resources.get("/XObject", {}).values():
        if xobject.get("/Subtype") == Name.Image:
            return _image_bytes(xobject)
        if xobject.get("/Subtype") == Name.Form:
            return "application/pdf", _page_pdf(xobject)
    raise Unreadable("the image stamp's appearance draws no image")


def _page_pdf(form: Any) -> bytes:
    """A form XObject as the one page of a PDF of its own, its box the page's."""
    with pikepdf.new() as pdf:
        box = [float(v) for v in form.BBox]
        page = pikepdf.Dictionary(
            Type=Name.Page, MediaBox=pikepdf.Array(box),
            Resources=pikepdf.Dictionary(XObject=pikepdf.Dictionary(P=pdf.copy_foreign(form))),
            Contents=pdf.make_stream(b"/P Do"))
        pdf.pages.append(pikepdf.Page(page))
        out = io.BytesIO()
        pdf.save(out)
        return out.getvalue()


def _image_bytes(xobject: Any) -> tuple[str, bytes]:
    if xobject.get("/Filter") == Name.DCTDecode and "/SMask" not in xobject:
        return "image/jpeg", xobject.read_raw_bytes()
    image = pikepdf.PdfImage(xobject).as_pil_image()
    if "/SMask" in xobject:
        alpha = pikepdf.PdfImage(xobject.SMask).as_pil_image().convert("L")
        image = image.convert("RGB")
        image.putalpha(alpha.resize(image.size) if alpha.size != image.size else alpha)
    out = io.BytesIO()
    image.save(out, "PNG")
    return "image/png", out.getvalue()


def _redact(annotation: Any, content: dict[str, Any], space: PageSpace, pages: Any) -> None:
    content.update(type="pspdfkit/markup/redaction",
                   rects=_quads(annotation, space) if "/QuadPoints" in annotation
                   else [content["bbox"]])
    size = DA_SIZE.search(str(annotation.get("/DA", "")))
    if size is not None:
        content["fontSize"] = _font_size(size.group(1))
    for key, name in (("/OC", "outlineColor"), ("/IC", "fillColor"), ("/C", "color")):
        color = hex_of(annotation.get(key))
        if color is not None:
            content[name] = color
    if "/OverlayText" in annotation:
        content["overlayText"] = str(annotation.OverlayText)
    if "/Repeat" in annotation:
        content["repeatOverlayText"] = _is_true(annotation.Repeat)


READERS: dict[str, Any] = {
    "/Text": _note, "/Square": _shape("pspdfkit/shape/rectangle"),
    "/Circle": _shape("pspdfkit/shape/ellipse"), "/Line": _line,
    "/PolyLine": _poly("pspdfkit/shape/polyline"), "/Polygon": _poly("pspdfkit/shape/polygon"),
    "/Ink": _ink, "/FreeText": _free_text, "/Link": _link, "/Stamp": _stamp,
    "/Redact": _redact, **{subtype: _markup for subtype in MARKUPS},
}


# ---- helpers -------------------------------------------------------------------------------

def _stroke(annotation: Any) -> dict[str, Any]:
    border = annotation.get("/BS", {})
    stroke: dict[str, Any] = {"strokeWidth": float(border.get("/W", 1)),
                              **read_measure(annotation)}
    color = hex_of(annotation.get("/C"))  # none (or /C []): none, as the engine reads it
    if color is not None:
        stroke["strokeColor"] = color
    if border.get("/S") == Name.D and "/D" in border:
        stroke["strokeDashArray"] = [float(d) for d in border.D]
    return stroke


def _quads(annotation: Any, space: PageSpace) -> list[list[float]]:
    """Each quadrilateral as the box around it, [left, top, width, height]."""
    values = [float(v) for v in annotation.QuadPoints]
    rects = []
    for i in range(0, len(values) - 7, 8):
        xs, ys = values[i:i + 8:2], values[i + 1:i + 8:2]
        rects.append([_round(min(xs) - space.left), _round(space.top - max(ys)),
                      _round(max(xs) - min(xs)), _round(max(ys) - min(ys))])
    return rects


def _point(space: PageSpace, x: float, y: float) -> list[float]:
    return [_round(x - space.left), _round(space.top - y)]


def _text(annotation: Any) -> dict[str, str]:
    """Rich text (/RC, XHTML) as the engine reads it, else the plain /Contents."""
    if "/RC" in annotation:
        return {"format": "xhtml", "value": str(annotation.RC)}
    return {"format": "plain", "value": str(annotation.get("/Contents", ""))}


def hex_of(color: Any) -> str | None:
    """An RGB (or gray) colour array as #RRGGBB; None for none (CMYK is not read)."""
    if color is None:
        return None
    values = [float(v) for v in color]
    if len(values) == 1:
        values *= 3
    if len(values) != 3:
        return None
    return "#" + "".join(f"{round(max(0.0, min(1.0, v)) * 255):02X}" for v in values)


def _font_size(text: str) -> float:
    """A font size as written (whole sizes as integers)."""
    value = float(text)
    return int(value) if value.is_integer() else value


def _round(value: float) -> float:
    return round(value, 3)
