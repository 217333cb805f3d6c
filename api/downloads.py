"""PDF downloads: the original upload, or the PDF with a layer's annotations written in (now,
or as the layer was at a revision or time), optionally flattened into the page content."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
from aiohttp import web

from api.auth import client_of
from api.bodies import read_json
from api.context import DocumentAccess, document_and_layer, resolve_revision, shown_layer
from api.errors import ApiError
from api.imports import plan_for, read_instant_json, refuse
from api.offload import LARGE
from api.parsing import json_object, whole_number
from api.responses import REVISION_HEADER
from api.services import Services
from eventstore.domain import annotation_record
from eventstore.names import normalize_attachment_id
from projections import xfdf
from projections.pdf_annotations import write_annotated
from projections.replays import visible_comments

PDF = "application/pdf"
OPTIONS = ("flatten", "annotations", "comments", "type", "revision", "at")
SKIPPED = "Annolog-Skipped"
MANY_RECORDS = 500  # more than this are written in the child process, not a thread
CHUNK = 256 * 1024


@dataclass(frozen=True)
class PdfOptions:
    flatten: bool = False
    annotations: bool = True
    comments: bool = False  # comment threads, as replies to their roots


def pdf_options(query: Any) -> PdfOptions:
    """The download's options; what annolog cannot do yet is a 400 that says so."""
    if query.get("type", "pdf") != "pdf":
        raise ApiError(400, "type=pdfa (PDF/A) is not supported: annolog writes plain PDF; "
                            "leave 'type' out or send type=pdf")
    return PdfOptions(flatten=_flag(query, "flatten", False),
                      annotations=_flag(query, "annotations", True),
                      comments=_flag(query, "comments", False))


def _flag(query: Any, name: str, default: bool) -> bool:
    value = query.get(name)
    if value is None:
        return default
    if value not in ("true", "false"):
        raise ApiError(400, f"'{name}' must be true or false, not {value[:40]!r}")
    return value == "true"


async def download_pdf(request: web.Request) -> web.StreamResponse:
    """``GET …/pdf``: the options in the query."""
    services, access, layer = await document_and_layer(request)
    return await _pdf(request, services, access, layer, request.query)


async def download_pdf_posted(request: web.Request) -> web.StreamResponse:
    """``POST …/pdf``: the same options as a JSON body (true and false as JSON booleans)."""
    services, access, layer = await document_and_layer(request)
    body = json_object(await read_json(request, services))
    return await _pdf(request, services, access, layer, _as_query(body))


async def pdf_with_instant_json(request: web.Request) -> web.StreamResponse:
    """The PDF of the layer with an Instant JSON document applied, checked as an import
    would be; nothing is stored."""
    services, access, layer = await document_and_layer(request)
    document = await read_instant_json(request, services)
    plan = await plan_for(services, access, document, layer)
    if plan.problems:
        raise refuse(plan.problems)
    await services.caught_up()
    records = {r["id"]: r for r in await _records(request, services, access.row.document_id,
                                                  layer, None)}
    for annotation_id, content, _references in plan.annotations:
        kept = records.get(annotation_id, {})
        records[annotation_id] = annotation_record(
            annotation_id, content, kept.get("createdBy"), kept.get("updatedBy"),
            kept.get("group"))
    scratch: list[Path] = []
    try:
        extra = {}
        for attachment in plan.attachments.values():
            fd, path = services.blobs.temporary()
            scratch.append(path)
            with os.fdopen(fd, "wb") as f:
                f.write(attachment.data)
            extra[attachment.attachment_id] = path
        return await _written(request, services, access, layer, list(records.values()),
                              PdfOptions(), extra)
    finally:
        for path in scratch:
            path.unlink(missing_ok=True)


BODY_OPTIONS = {"source": bool, "flatten": bool, "annotations": bool, "comments": bool,
                "type": str, "revision": int, "at": str}  # POST …/pdf: each option's JSON type


def _as_query(body: dict[str, Any]) -> dict[str, str]:
    """A JSON body's options as the query would carry them; an unknown option or one of the
    wrong JSON type is refused, so a misspelt option never passes unnoticed."""
    query = {}
    for name, value in body.items():
        wanted = BODY_OPTIONS.get(name)
        if wanted is None:
            raise ApiError(400, f"unknown option {name[:40]!r}: the options are "
                                f"{', '.join(BODY_OPTIONS)}")
        if wanted is bool and isinstance(value, bool):
            query[name] = "true" if value else "false"
        elif wanted is int and not isinstance(value, bool) and isinstance(value, (int, float)):
            query[name] = str(whole_number(value, f"'{name}'"))
        elif wanted is str and isinstance(value, str):
            query[name] = value
        else:
            kind = {bool: "true or false", int: "a whole number", str: "a string"}[wanted]
            raise ApiError(400, f"'{name}' must be {kind}")
    return query


async def _pdf(request: web.Request, services: Services, access: DocumentAccess, layer: str,
               query: Any) -> web.StreamResponse:
    source = services.blobs.path(access.row.sha256)
    if _flag(query, "source", False):
        given = [name for name in OPTIONS if name in query]
        if given:
            raise ApiError(400, "source=true is the original upload and takes no other "
                                f"option (given: {', '.join(given)})")
        return web.FileResponse(source, headers={"Content-Type": PDF})
    options = pdf_options(query)
    upto, _ = await resolve_revision(services, query)
    layer, upto = await shown_layer(services, access, layer, upto)
    records = await _records(request, services, access.row.document_id, layer, upto) \
        if options.annotations else []
    comments = None
    if options.comments and records:
        comments = await _comments(request, services, access.row.document_id, layer, upto)
    return await _written(request, services, access, layer, records, options, {},
                          comments)


async def _written(request: web.Request, services: Services, access: DocumentAccess,
                   layer: str, records: list[dict[str, Any]], options: PdfOptions,
                   extra_images: dict[str, Path],
                   comments: list[dict[str, Any]] | None = None) -> web.StreamResponse:
    """The PDF with ``records`` written in place of the PDF's own annotations they came
    from; ``extra_images`` are attachments not stored (yet)."""
    source = services.blobs.path(access.row.sha256)
    replaced = await services.run(partial(services.read_model.pdf_object_ids,
                                          access.row.document_id, layer, comments=True))
    if not records and not replaced and not options.flatten:
        return web.FileResponse(source, headers={"Content-Type": PDF})  # nothing to change
    fd, target = services.blobs.temporary()
    os.close(fd)
    try:
        images = await services.run(_images, services, access.row.document_id, records)
        arguments = (source, target, records, access.password, options.flatten,
                     {**images, **extra_images}, comments, replaced)
        if source.stat().st_size > LARGE or len(records) > MANY_RECORDS:
            skipped = await services.offload.run(write_annotated, *arguments)
        else:
            skipped = await services.run(write_annotated, *arguments)
        return await _send(request, target, len(skipped))
    finally:
        target.unlink(missing_ok=True)


async def _records(request: web.Request, services: Services, document_id: str, layer: str,
                   upto: int | None) -> list[dict[str, Any]]:
    """The layer's records at ``upto``, only those a JWT caller may view."""
    rows = await services.run(services.read_model.layer_state, document_id, layer, upto)
    records = [orjson.loads(row) for row in rows]
    client = client_of(request)
    return records if client is None else [r for r in records if client.sees(r)]


async def _comments(request: web.Request, services: Services, document_id: str, layer: str,
                    upto: int | None) -> list[dict[str, Any]]:
    """The layer's comments at ``upto`` (Instant JSON), only those a JWT caller may view."""
    found = await services.run(services.read_model.comment_state, document_id, layer, upto)
    client = client_of(request)
    return visible_comments(found, client.sees if client else None)


def _images(services: Services, document_id: str, records: list[dict[str, Any]]
            ) -> dict[str, Path]:
    """The files of the attachments the image records show (blocking)."""
    images = {}
    for record in records:
        attachment_id = record["content"].get("imageAttachmentId")
        if record["content"].get("type") != "pspdfkit/image" or \
                not isinstance(attachment_id, str):
            continue
        held = services.read_model.attachment(document_id, normalize_attachment_id(
            attachment_id))
        if held is not None:
            images[attachment_id] = services.blobs.path(held.sha256)
    return images


async def _send(request: web.Request, path: Path, skipped: int) -> web.StreamResponse:
    """The written PDF; ``Annolog-Skipped`` counts the records of types not written yet."""
    response = web.StreamResponse(headers={"Content-Type": PDF, SKIPPED: str(skipped)})
    response.content_length = path.stat().st_size
    await response.prepare(request)
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            await response.write(chunk)
    await response.write_eof()
    return response


async def export_xfdf(request: web.Request) -> web.Response:
    """``GET …/document.xfdf``: the layer's annotations as XFDF 3.0, now or at a revision."""
    services, access, layer = await document_and_layer(request)
    upto, current = await resolve_revision(services, request.query)
    shown, upto_shown = await shown_layer(services, access, layer, upto)
    records = await _records(request, services, access.row.document_id, shown, upto_shown)
    comments = await _comments(request, services, access.row.document_id, shown, upto_shown)
    images = await services.run(_images, services, access.row.document_id, records)
    source = services.blobs.path(access.row.sha256)
    if source.stat().st_size > LARGE or len(records) > MANY_RECORDS:
        body, skipped = await services.offload.run(xfdf.export_xfdf, source, records,
                                                   access.password, comments, images)
    else:
        body, skipped = await services.run(xfdf.export_xfdf, source, records, access.password,
                                           comments, images)
    return web.Response(body=body, content_type=xfdf.CONTENT_TYPE, headers={
        SKIPPED: str(skipped), REVISION_HEADER: str(upto if upto is not None else current)})
