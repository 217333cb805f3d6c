"""Instant JSON documents: export (canonical, as the Web SDK loads it) and import plans.

Rules from shared/reference/instant-json.md: the only format is the v1 URL; keys sorted;
colours upper-case ``#RRGGBB``; timestamps whole seconds in UTC with ``Z``; no ``pdfId``; a
record read from the PDF keeps its ``pdfObjectId`` (it replaces that original for a viewer of
the source PDF), and ``skippedPdfObjectIds`` names the originals deleted since; empty sections
left out.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from ulid import ULID

from eventstore.blobs import sniff_content_type
from eventstore.names import attachment_references, check_annotation_id, normalize_attachment_id
from eventstore.times import utc, utc_second_text
from eventstore.validation import ContentError, accepted_content
from projections.sections import plan_sections

FORMAT = "https://pspdfkit.com/instant-json/v1"
COLOR_KEYS = ("color", "strokeColor", "fillColor", "backgroundColor", "fontColor",
              "borderColor", "outlineColor")
TIMESTAMP_KEYS = ("createdAt", "updatedAt")
TEXT_TYPES = ("pspdfkit/note", "pspdfkit/text", "pspdfkit/comment-marker")


# What the engine exports for a key the record left out (None: any value, the engine's own).
DEFAULTS: dict[str, dict[str, Any]] = {
    "pspdfkit/note": {"color": "#FCED8C", "icon": "note"},
    "pspdfkit/text": {"borderWidth": 0, "font": "Helvetica", "fontColor": "#000000",
                      "fontSize": 0, "isFitting": True, "lineHeightFactor": None,
                      "rotation": 0, "borderColor": None, "borderDashArray": None},
    "pspdfkit/ink": {"strokeColor": "#000000"},
    "pspdfkit/link": {"borderColor": None, "borderWidth": None},  # with a borderStyle
    "pspdfkit/markup/highlight": {"blendMode": "multiply", "color": "#FCED8C"},
    "pspdfkit/markup/underline": {"color": "#000000"},
    "pspdfkit/markup/strikeout": {"color": "#FF0000"},
    "pspdfkit/markup/squiggly": {"color": "#FF0000"},
    "pspdfkit/markup/redaction": {"rotation": 0, "fontSize": 0},
    "pspdfkit/stamp": {"rotation": 0, "title": None},  # title: the subject, if any
    "pspdfkit/image": {"rotation": 0},
    **{kind: {"measurementBBox": None, "measurementPrecision": None,  # of measured shapes
              "measurementScale": None}
       for kind in ("pspdfkit/shape/rectangle", "pspdfkit/shape/ellipse",
                    "pspdfkit/shape/line", "pspdfkit/shape/polygon",
                    "pspdfkit/shape/polyline")},
}
# Values the engine leaves out of its export, as they are what no value means.
OMITTED = {"blendMode": "normal", "isSignature": False, "repeatOverlayText": False,
           "cloudyBorderIntensity": 0, "lineCaps": {}}


def canonical_timestamp(value: str) -> str:
    """Whole seconds in UTC, as the engine exports them (validated on the way in)."""
    return utc_second_text(utc(value))


def export_annotation(record: dict[str, Any], annotation_version: int | None = None
                      ) -> dict[str, Any]:
    """One record as an Instant JSON annotation: its content, with the record's id."""
    content = dict(record["content"])
    content["id"] = record["id"]
    for key in COLOR_KEYS:
        if isinstance(content.get(key), str):
            content[key] = content[key].upper()
    for key in TIMESTAMP_KEYS:
        if isinstance(content.get(key), str):
            content[key] = canonical_timestamp(content[key])
    if annotation_version == 2 and content.get("v") == 1:
        content["v"] = 2
        if content.get("type") in TEXT_TYPES and isinstance(content.get("text"), str):
            content["text"] = {"format": "plain", "value": content["text"]}
    return dict(sorted(content.items()))


def export_document(annotations: list[dict[str, Any]],
                    attachments: dict[str, tuple[str, bytes]],
                    sections: dict[str, list[dict[str, Any]]] | None = None,
                    skipped: list[int] | None = None) -> dict[str, Any]:
    """The document; ``attachments`` maps an id to (content type, bytes); ``sections`` holds
    the comments, bookmarks, form fields and values, already in canonical form; ``skipped``
    names the PDF's own annotations a viewer of the source PDF must not show."""
    document: dict[str, Any] = {"format": FORMAT}
    if annotations:
        document["annotations"] = annotations
    if skipped:
        document["skippedPdfObjectIds"] = skipped
    if attachments:
        document["attachments"] = {
            key: {"binary": base64.b64encode(data).decode(), "contentType": content_type}
            for key, (content_type, data) in sorted(attachments.items())
        }
    document.update(sections or {})
    return document


@dataclass
class ImportedAttachment:
    attachment_id: str
    content_type: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass
class ImportPlan:
    """What an Instant JSON document asks for, or why it cannot be applied."""

    annotations: list[tuple[str, dict[str, Any], tuple[str, ...]]] = field(default_factory=list)
    attachments: dict[str, ImportedAttachment] = field(default_factory=dict)
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    problems: list[dict[str, str]] = field(default_factory=list)  # make the import fail
    notes: list[dict[str, Any]] = field(default_factory=list)  # applied anyway, said aloud
    removed: list[tuple[str, str]] = field(default_factory=list)  # (path, record id) skipped

    def fail(self, path: str, details: str) -> None:
        self.problems.append({"path": path, "details": details})


def plan_import(document: Any, *, page_count: int | None,
                pdf_id: dict[str, str] | None, layer_ids: Collection[str] = (),
                pdf_annotations: Collection[int] = (),
                recorded: Mapping[int, str] | None = None) -> ImportPlan:
    """Check a whole document; any problem means nothing of it is applied. ``layer_ids``
    are the annotations the layer holds already, which comments may belong to;
    ``pdf_annotations`` the object numbers of the PDF's own annotations, and ``recorded``
    the live records of the layer that stand for some of them, by number."""
    plan = ImportPlan()
    if not isinstance(document, dict):
        plan.fail("$", "an Instant JSON document must be a JSON object")
        return plan
    if document.get("format") != FORMAT:
        plan.fail("$.format", f"'format' must be exactly {FORMAT!r}")
    _check_pdf_id(document.get("pdfId"), pdf_id, plan)
    _plan_attachments(document.get("attachments"), plan)
    _plan_annotations(document.get("annotations"), page_count, plan)
    _plan_skipped(document.get("skippedPdfObjectIds"), set(pdf_annotations) | set(recorded or {}),
                  recorded or {}, plan)
    roots = set(layer_ids) | {annotation_id for annotation_id, _, _ in plan.annotations}
    plan.sections = plan_sections(document, page_count, roots, plan.fail)
    return plan


def _plan_skipped(skipped: Any, known: set[int], recorded: Mapping[int, str],
                  plan: ImportPlan) -> None:
    """``skippedPdfObjectIds``: the PDF's own annotations the document leaves out. Each must
    be one; a record standing for it is deleted, unless the document replaces it (an
    annotation with the same ``pdfObjectId``)."""
    if skipped is None:
        return
    if not isinstance(skipped, list):
        plan.fail("$.skippedPdfObjectIds", "must be a list of PDF object numbers")
        return
    replaced = {content.get("pdfObjectId") for _, content, _ in plan.annotations}
    for index, number in enumerate(skipped):
        path = f"$.skippedPdfObjectIds[{index}]"
        if type(number) is not int or number not in known:
            plan.fail(path, f"{number!r} is not the object number of an annotation of this "
                            "PDF")
        elif number in recorded and number not in replaced:
            plan.removed.append((path, recorded[number]))
        elif number not in recorded:
            plan.notes.append({"path": path, "details": "an annotation of the PDF that "
                               "annolog does not hold as a record; it stays in the PDF"})


def _check_pdf_id(given: Any, actual: dict[str, str] | None, plan: ImportPlan) -> None:
    if given is None:
        return
    if not isinstance(given, dict) or not {"permanent", "changing"} <= given.keys():
        plan.fail("$.pdfId", "'pdfId' must be null or {permanent, changing}")
    elif actual is None:
        plan.fail("$.pdfId", "this document's PDF has no /ID, so 'pdfId' must be null or "
                             "left out")
    elif (given["permanent"], given["changing"]) != (actual["permanent"], actual["changing"]):
        plan.fail("$.pdfId", "'pdfId' names another PDF; drop it to apply these annotations "
                             "to this document")


def _plan_attachments(attachments: Any, plan: ImportPlan) -> None:
    if attachments is None:
        return
    if not isinstance(attachments, dict):
        plan.fail("$.attachments", "'attachments' must be an object of id → {binary, "
                                   "contentType}")
        return
    for key, entry in attachments.items():
        path = f"$.attachments[{key!r}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("binary"), str):
            plan.fail(path, "each attachment needs 'binary': base64 of its bytes")
            continue
        try:
            data = base64.b64decode(entry["binary"], validate=True)
        except (binascii.Error, ValueError):
            plan.fail(path, "'binary' is not valid base64")
            continue
        content_type = entry.get("contentType") or sniff_content_type(data[:16])
        if not isinstance(content_type, str) or "/" not in content_type:
            plan.fail(path, "'contentType' must be a MIME type such as 'image/png'")
            continue
        attachment_id = normalize_attachment_id(key)
        plan.attachments[attachment_id] = ImportedAttachment(attachment_id, content_type, data)


def _plan_annotations(annotations: Any, page_count: int | None, plan: ImportPlan) -> None:
    if annotations is None:
        return
    if not isinstance(annotations, list):
        plan.fail("$.annotations", "'annotations' must be a list")
        return
    seen: set[str] = set()
    for index, record in enumerate(annotations):
        path = f"$.annotations[{index}]"
        try:
            annotation_id, content = _import_record(record, page_count)
        except ContentError as error:
            plan.fail(path, str(error))
            continue
        if annotation_id in seen:
            plan.fail(path, f"id {annotation_id!r} appears more than once")
            continue
        seen.add(annotation_id)
        plan.annotations.append((annotation_id, content, attachment_references(content)))


def _import_record(record: Any, page_count: int | None) -> tuple[str, dict[str, Any]]:
    if not isinstance(record, dict):
        raise ContentError("each annotation must be a JSON object")
    record = accepted_content(record, page_count)
    if record.get("id") in (None, ""):
        annotation_id = str(ULID())
    else:
        annotation_id = check_annotation_id(record["id"])
    content = {k: v for k, v in record.items() if k != "id"}
    return annotation_id, content
