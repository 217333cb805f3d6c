"""XFDF 3.0, Acrobat's XML form of a PDF's annotations, both ways.

XFDF spells out the PDF annotation dictionary (same subtypes, PDF coordinates, the same
keys as attributes), so it goes through the PDF form: records become the dictionaries
``pdf_annotations`` writes, serialised as XML; XFDF elements become dictionaries that
``pdf_reading`` turns into records. One mapping each way serves PDFs and XFDF alike.
"""

from __future__ import annotations

import base64
import binascii
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pikepdf
from pikepdf import Array, Dictionary, Name, Pdf, String
from ulid import ULID

from eventstore.validation import ContentError, accepted_content
from projections.pdf_annotations import (
    BLEND_MODES,
    ENGINE_ID,
    FLAG_BITS,
    PRINT,
    NotWritten,
    PageSpace,
    annotation_dictionary,
    image_object,
    reply_dictionary,
    rgb_of,
    with_threads,
)
from projections.pdf_reading import (
    MALFORMED,
    ReadAnnotations,
    Unreadable,
    blend_mode,
    comment_of,
    content_of,
    hex_of,
    reason,
)
from projections.sections import check_comment

NS = "http://ns.adobe.com/xfdf/"
CONTENT_TYPE = "application/vnd.adobe.xfdf"
ELEMENTS = {"/Text": "text", "/Square": "square", "/Circle": "circle", "/Line": "line",
            "/PolyLine": "polyline", "/Polygon": "polygon", "/Ink": "ink",
            "/Highlight": "highlight", "/Underline": "underline", "/StrikeOut": "strikeout",
            "/Squiggly": "squiggly", "/FreeText": "freetext", "/Stamp": "stamp",
            "/Redact": "redact", "/Link": "link"}
SUBTYPES = {element: Name(subtype) for subtype, element in ELEMENTS.items()}
FLAG_NAMES = {"invisible": "invisible", "hidden": "hidden", "noZoom": "nozoom",
              "noRotate": "norotate", "noView": "noview", "readOnly": "readonly",
              "locked": "locked", "toggleNoView": "togglenoview",
              "lockedContents": "lockedcontents"}
JUSTIFICATIONS = ("left", "centered", "right")
# What XFDF's own attributes and elements leave out (a callout, a cloudy border, line ends of
# a polyline, rich text, an action other than a link's or a page's, the engine's keys: custom
# data, intensities, a stamp's title ...) travels as the PDF dictionary's remaining keys, in
# PDF syntax, in one element of annolog's namespace that other readers skip.
ANNOLOG_NS = "https://annolog.dev/xfdf"
PDF_KEYS = f"{{{ANNOLOG_NS}}}pdf"
STRUCTURAL = frozenset({"/Type", "/Subtype", "/Rect", "/P", "/AP", "/Popup", "/Parent", "/IRT",
                        "/RT"})  # never taken from annolog's element
CARRIED = STRUCTURAL | {  # keys the standard attributes and elements carry in full
    "/T", "/M", "/CreationDate", "/C", "/IC", "/CA", "/F", "/Name", "/QuadPoints", "/L", "/Q",
    "/OverlayText", "/Contents", "/DA", "/Vertices", "/InkList"}
COLORS = {"/C": "color", "/IC": "interior-color"}
REDACTION_COLORS = {"/OC": "color", "/IC": "interior-color"}  # a redaction's outline
ET.register_namespace("annolog", ANNOLOG_NS)


def is_xfdf(data: bytes) -> bool:
    """Whether an upload's attachment is XFDF (XML) rather than Instant JSON."""
    return data.lstrip()[:1] == b"<"


XML_ENCODING = re.compile(rb"""<\?xml[^>]*?\sencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def declared_encoding(data: bytes) -> str | None:
    """The encoding an XML document's declaration names (lower case), or None: then XML
    says it is UTF-8 (or UTF-16 with a byte order mark)."""
    found = XML_ENCODING.match(data.lstrip())
    return found.group(1).decode("ascii").lower() if found else None


# ---- records to XFDF -----------------------------------------------------------------------

def export_xfdf(source: Path, records: Iterable[dict[str, Any]],
                password: str | None = None, comments: Iterable[dict[str, Any]] = (),
                images: dict[str, Path] | None = None) -> tuple[bytes, int]:
    """The records as an XFDF document, measured on the PDF's pages, with the comments
    (Instant JSON) of those written as replies, and each image record's image (``images``:
    its attachment's file) as a data URL in ``<imagedata>``; and the count of records XFDF
    cannot carry (an image drawing a PDF page, one whose image is not held)."""
    images = images or {}
    root = ET.Element("xfdf", {"xmlns": NS, "xml:space": "preserve"})
    annots = ET.SubElement(root, "annots")
    skipped = 0
    written: dict[str, tuple[Dictionary, int]] = {}
    shown, threads = with_threads(records, list(comments), fold=False)  # XFDF: replies
    with Pdf.open(source, password=password or "") as pdf:
        for record, first in shown:
            page_index = record["content"].get("pageIndex")
            if not isinstance(page_index, int) or not 0 <= page_index < len(pdf.pages) or \
                    record["content"].get("contentType") == "application/pdf":
                skipped += 1
                continue
            page = pdf.pages[page_index]
            try:
                annotation = annotation_dictionary(pdf, record, PageSpace.of(page), images,
                                                   first)
                element = _element(annotation, page_index, pdf)
            except (NotWritten, KeyError):
                skipped += 1
                continue
            if element is not None and record["content"].get("type") == "pspdfkit/image":
                _image_data(element, record["content"], images)
            if element is None:
                skipped += 1
            else:
                annots.append(element)
                written[record["id"]] = (annotation, page_index)
        for root_id, thread in threads.items():
            if root_id not in written:
                continue
            thread_root, page_index = written[root_id]
            for comment in thread:
                reply = _element(reply_dictionary(pdf, thread_root, comment), page_index, pdf)
                if reply is not None:
                    annots.append(reply)
    for element in root.iter():
        _xml_safe(element)
    # A carriage return in text would reach a reader as a line feed (XML normalises line
    # ends); as a reference it stays itself. In attributes ElementTree writes one already.
    body = ET.tostring(root, encoding="utf-8", xml_declaration=True).replace(b"\r", b"&#13;")
    return body, skipped


XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(text: str) -> str:
    """``text`` as XML 1.0 can carry it: the characters it has no place for (the controls
    but tab and line ends, U+FFFE, U+FFFF; not even as references) become U+FFFD."""
    return XML_ILLEGAL.sub("\ufffd", text)


def _xml_safe(element: ET.Element) -> None:
    if element.text:
        element.text = xml_text(element.text)
    for key, value in element.attrib.items():
        element.attrib[key] = xml_text(value)


def _element(annotation: Dictionary, page_index: int, pdf: Pdf) -> ET.Element | None:
    tag = ELEMENTS.get(str(annotation.get("/Subtype")))
    if tag is None:
        return None
    attributes = {"page": str(page_index), "rect": _numbers(annotation.Rect)}
    for key, attribute in ((ENGINE_ID, "name"), ("/T", "title"), ("/M", "date"),
                           ("/CreationDate", "creationdate")):
        if key in annotation:
            attributes[attribute] = str(annotation[key])
    if "/IRT" in annotation:
        attributes.update(inreplyto=str(annotation.IRT[ENGINE_ID]), replyType="reply")
    colors = REDACTION_COLORS if tag == "redact" else COLORS
    for key, attribute in colors.items():
        color = hex_of(annotation.get(key))
        if color is not None:
            attributes[attribute] = color
    if "/CA" in annotation:
        attributes["opacity"] = _number(float(annotation.CA))
    if "/BS" in annotation and "/W" in annotation.BS:
        attributes["width"] = _number(float(annotation.BS.W))
        if "/D" in annotation.BS:
            attributes["style"] = "dash"
            attributes["dashes"] = _numbers(annotation.BS.D)
    attributes["flags"] = _flags(int(annotation.get("/F", PRINT)))
    if "/Name" in annotation:
        attributes["icon"] = str(annotation.Name)[1:]
    if "/QuadPoints" in annotation:
        attributes["coords"] = _numbers(annotation.QuadPoints)
    if "/L" in annotation:
        x1, y1, x2, y2 = (float(v) for v in annotation.L)
        attributes.update(start=f"{_number(x1)},{_number(y1)}",
                          end=f"{_number(x2)},{_number(y2)}")
        ends = [str(e)[1:] for e in annotation.get("/LE", [])]
        if len(ends) == 2:
            attributes.update(head=ends[0], tail=ends[1])
    if "/Q" in annotation:
        attributes["justification"] = JUSTIFICATIONS[int(annotation.Q) % 3]
    if "/OverlayText" in annotation:
        attributes["overlay-text"] = str(annotation.OverlayText)
    element = ET.Element(tag, attributes)
    if "/Contents" in annotation:
        ET.SubElement(element, "contents").text = str(annotation.Contents)
    if "/DA" in annotation:
        ET.SubElement(element, "defaultappearance").text = str(annotation.DA)
    if "/Vertices" in annotation:
        ET.SubElement(element, "vertices").text = _points(annotation.Vertices)
    if "/InkList" in annotation:
        inklist = ET.SubElement(element, "inklist")
        for stroke in annotation.InkList:
            ET.SubElement(inklist, "gesture").text = _points(stroke)
    if "/A" in annotation:
        _action(element, annotation.A, pdf)
    carried = CARRIED - (COLORS.keys() - colors.keys())
    rest = Dictionary({k: _portable(v, pdf) for k, v in annotation.items()
                       if k not in carried or _not_xml(v)})
    blend = blend_mode(annotation)
    if blend is not None:  # painted by the appearance, which XFDF has no place for
        rest.BM = Name("/" + BLEND_MODES[blend])  # the annotation's own key in PDF 2.0
    if rest.keys():
        # PDF syntax is bytes: strings QPDF writes literally may hold bytes past ASCII
        ET.SubElement(element, PDF_KEYS).text = rest.unparse(resolved=True).decode("latin-1")
    return element


def _not_xml(value: Any) -> bool:
    """Whether ``value`` is text XML 1.0 cannot carry (a control character), which the
    standard attribute then shows as U+FFFD and annolog's element carries exactly."""
    return isinstance(value, String) and XML_ILLEGAL.search(str(value)) is not None


def _portable(value: Any, pdf: Pdf) -> Any:
    """A copy of ``value`` that stands alone: a page it names as the page's index (only a
    goTo's destination names one), dictionaries and arrays copied into it."""
    if isinstance(value, pikepdf.Stream):
        raise NotWritten("a stream in an annotation's keys")
    if isinstance(value, Dictionary):
        pages = {p.obj.objgen: i for i, p in enumerate(pdf.pages)} if value.is_indirect else {}
        if value.objgen in pages:
            return pages[value.objgen]
        return Dictionary({k: _portable(v, pdf) for k, v in value.items()})
    if isinstance(value, Array):
        return Array([_portable(v, pdf) for v in value])
    return value


def _image_data(element: ET.Element, content: dict[str, Any], images: dict[str, Path]
                ) -> None:
    """An image record's image, as the data URL other XFDF readers take in <imagedata>."""
    data = images[str(content["imageAttachmentId"])].read_bytes()
    ET.SubElement(element, "imagedata").text = \
        f"data:{content['contentType']};base64,{base64.b64encode(data).decode()}"


def _action(element: ET.Element, action: Any, pdf: Pdf) -> None:
    holder = ET.SubElement(ET.SubElement(element, "OnActivation"), "Action")
    if action.get("/S") == Name.URI:
        ET.SubElement(holder, "URI", {"Name": str(action.URI)})
    elif action.get("/S") == Name.GoTo:
        target = action.D[0].objgen
        page = next(i for i, p in enumerate(pdf.pages) if p.obj.objgen == target)
        ET.SubElement(ET.SubElement(ET.SubElement(holder, "GoTo"), "Dest"), "Fit",
                      {"Page": str(page)})


# ---- XFDF to records -----------------------------------------------------------------------

def read_xfdf(data: bytes, source: Path, password: str | None = None) -> ReadAnnotations:
    """The annotations of an XFDF document as (id, Instant JSON content), measured on the
    PDF's pages; what cannot be read is listed, never guessed."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as error:
        raise ContentError(f"the XFDF document is not well-formed XML ({error})") from None
    if _local(root.tag) != "xfdf":
        raise ContentError("the XML document is not XFDF (its root is not <xfdf>)")
    found = ReadAnnotations()
    with Pdf.open(source, password=password or "") as pdf:
        pages = {page.obj.objgen: index for index, page in enumerate(pdf.pages)}
        for number, element in enumerate(_annotations(root)):
            try:
                page_index = int(element.get("page", ""))
                page = pdf.pages[page_index]
                if element.get("inreplyto"):
                    found.comments.append(_comment(element, page_index, pdf))
                    continue
                annotation = _dictionary(element, pdf)
                content = content_of(annotation, page_index, PageSpace.of(page), pages,
                                     found.images)
                content = accepted_content(content, len(pdf.pages))
            except MALFORMED as error:
                found.errors.append({"xfdfAnnotation": number, "name": element.get("name"),
                                     "reason": reason(error)})
                continue
            name = element.get("name") or None
            found.records.append((name or "", content))
    return found


def _comment(element: ET.Element, page_index: int, pdf: Pdf) -> dict[str, Any]:
    """A reply (``inreplyto`` names its root) as an Instant JSON comment of that root."""
    if element.get("replyType", "reply") != "reply":
        raise Unreadable("grouped annotations (replyType=\"group\") are not read from XFDF")
    reply = Dictionary(Type=Name.Annot, Subtype=Name.Text)
    for attribute, key in (("title", "/T"), ("date", "/M"), ("creationdate", "/CreationDate")):
        if element.get(attribute):
            reply[key] = String(element.get(attribute, ""))
    for child in element:
        if _local(child.tag) == "contents":
            reply.Contents = String(child.text or "")
    root_id = element.get("inreplyto", "")
    comment = comment_of(reply, page_index, element.get("name") or str(ULID()), root_id)
    return check_comment(comment, len(pdf.pages), {root_id})


def read_xfdf_of(source: Path, data: bytes, password: str | None = None) -> ReadAnnotations:
    """``read_xfdf`` with the PDF first, as the child process runs PDF work."""
    return read_xfdf(data, source, password)


def _annotations(root: ET.Element) -> Iterable[ET.Element]:
    for annots in root:
        if _local(annots.tag) == "annots":
            yield from annots


def _dictionary(element: ET.Element, pdf: Pdf) -> Dictionary:
    """An XFDF element as the PDF annotation dictionary it spells out."""
    tag = _local(element.tag)
    if tag not in SUBTYPES:
        raise Unreadable(f"<{tag}> annotations are not read from XFDF")
    if element.get("inreplyto"):
        raise Unreadable("replies (comment threads) are not read from XFDF yet")
    annotation = Dictionary(Type=Name.Annot, Subtype=SUBTYPES[tag],
                            Rect=Array(_floats(element.get("rect", ""))),
                            F=_flag_bits(element.get("flags")))
    for attribute, key in (("name", "/NM"), ("title", "/T"), ("date", "/M"),
                           ("creationdate", "/CreationDate")):
        if element.get(attribute) is not None:  # an empty author is an author
            annotation[key] = String(element.get(attribute, ""))
    color_key = "/OC" if tag == "redact" else "/C"
    for attribute, key in (("color", color_key), ("interior-color", "/IC")):
        if element.get(attribute):
            annotation[key] = Array(_rgb(element.get(attribute, "")))
    if element.get("opacity"):
        annotation.CA = float(element.get("opacity", "1"))
    if element.get("width"):
        annotation.BS = Dictionary(W=float(element.get("width", "1")))
        if element.get("dashes"):
            annotation.BS.S = Name.D
            annotation.BS.D = Array(_floats(element.get("dashes", "")))
    if element.get("icon"):
        annotation.Name = Name("/" + element.get("icon", ""))
    if element.get("coords"):
        annotation.QuadPoints = Array(_floats(element.get("coords", "")))
    if element.get("start") and element.get("end"):
        annotation.L = Array(_floats(element.get("start", "")) + _floats(element.get("end", "")))
        annotation.LE = Array([Name("/" + element.get(side, "None"))
                               for side in ("head", "tail")])
    if element.get("justification") in JUSTIFICATIONS:
        annotation.Q = JUSTIFICATIONS.index(element.get("justification", "left"))
    if element.get("overlay-text") is not None:
        annotation.OverlayText = String(element.get("overlay-text", ""))
    for child in element:
        _child(annotation, child, pdf)
    return annotation


def _child(annotation: Dictionary, child: ET.Element, pdf: Pdf) -> None:
    tag = _local(child.tag)
    if tag == "imagedata":  # an image stamp: its image, drawn as its appearance
        try:
            image = image_object(pdf, _data_url(child))
        except (OSError, ValueError) as error:  # Pillow: not an image it can read
            raise Unreadable(f"<imagedata> is not an image ({error})") from None
        annotation.Name = Name.Image
        annotation.AP = Dictionary(N=pikepdf.Stream(
            pdf, b"/Im Do", Type=Name.XObject, Subtype=Name.Form, BBox=Array([0, 0, 1, 1]),
            Resources=Dictionary(XObject=Dictionary(Im=image))))
    elif tag == "contents":
        annotation.Contents = String(child.text or "")
    elif tag == "defaultappearance":
        annotation.DA = String(child.text or "")
    elif tag == "vertices":
        annotation.Vertices = Array(_floats(child.text or ""))
    elif tag == "inklist":
        annotation.InkList = Array([Array(_floats(g.text or "")) for g in child
                                    if _local(g.tag) == "gesture"])
    elif child.tag == PDF_KEYS:
        _pdf_keys(annotation, child.text or "", pdf)
    elif tag == "OnActivation":
        for uri in child.iter(f"{{{NS}}}URI"):
            annotation.A = Dictionary(S=Name.URI, URI=String(uri.get("Name", "")))
        for fit in child.iter(f"{{{NS}}}Fit"):
            annotation.A = Dictionary(S=Name.GoTo, D=Array(
                [pdf.pages[int(fit.get("Page", "0"))].obj, Name.Fit]))


def _pdf_keys(annotation: Dictionary, text: str, pdf: Pdf) -> None:
    """The keys annolog's element carries, over what the standard ones said (an action in
    full); a page index in a goTo's destination as the page again."""
    try:
        keys = pikepdf.Object.parse(text.encode("latin-1"))
    except (pikepdf.PdfError, UnicodeEncodeError, ValueError) as error:
        raise Unreadable(f"<annolog:pdf> is not a PDF dictionary ({error})") from None
    if not isinstance(keys, Dictionary):
        raise Unreadable("<annolog:pdf> is not a PDF dictionary")
    for key, value in keys.items():
        if key not in STRUCTURAL:
            annotation[key] = _with_pages(value, pdf) if key == "/A" else value
    if ENGINE_ID in keys and "/NM" not in keys and "/NM" in annotation:
        del annotation["/NM"]  # the name attribute was its id, not a name it had


def _with_pages(action: Any, pdf: Pdf) -> Any:
    if not isinstance(action, Dictionary):
        return action
    if action.get("/S") == Name.GoTo and isinstance(action.get("/D"), Array) and \
            len(action.D) and isinstance(action.D[0], int):
        index = int(action.D[0])
        if not 0 <= index < len(pdf.pages):
            raise Unreadable(f"a goTo to page {index}, which the PDF does not have")
        action.D[0] = pdf.pages[index].obj
    following = action.get("/Next")
    for step in following if isinstance(following, Array) else [following]:
        _with_pages(step, pdf)
    return action


# ---- helpers -------------------------------------------------------------------------------

def _data_url(element: ET.Element) -> bytes:
    """The bytes of a ``data:<type>;base64,…`` URL."""
    text = (element.text or "").strip()
    header, _, payload = text.partition(",")
    if not header.startswith("data:") or not header.endswith(";base64"):
        raise Unreadable("<imagedata> must hold a data: URL of base64 image bytes")
    try:
        return base64.b64decode(payload, validate=True)
    except binascii.Error:
        raise Unreadable("<imagedata> holds invalid base64") from None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _floats(text: str) -> list[float]:
    return [float(v) for v in text.replace(";", ",").split(",") if v.strip()]


def _number(value: float) -> str:
    """A number in full (XFDF is read back, not drawn), without an exponent."""
    text = format(Decimal(repr(float(value))), "f")
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def _numbers(values: Any) -> str:
    return ",".join(_number(float(v)) for v in values)


def _points(values: Any) -> str:
    numbers = [float(v) for v in values]
    return ";".join(f"{_number(numbers[i])},{_number(numbers[i + 1])}"
                    for i in range(0, len(numbers) - 1, 2))


def _rgb(text: str) -> list[float]:
    rgb = rgb_of(text) if text.startswith("#") else None
    if rgb is None:
        raise ValueError(f"{text!r} is not a colour written #RRGGBB")
    return list(rgb)


def _flags(bits: int) -> str:
    names = [FLAG_NAMES[name] for name, bit in FLAG_BITS.items() if bits & bit]
    if bits & PRINT:
        names.insert(0, "print")
    return ",".join(names)


def _flag_bits(text: str | None) -> int:
    if text is None:
        return PRINT
    names = {n.strip().lower() for n in text.split(",") if n.strip()}
    bits = PRINT if "print" in names else 0
    for name, xfdf in FLAG_NAMES.items():
        if xfdf in names:
            bits |= FLAG_BITS[name]
    return bits

