"""Document routes: upload (raw PDF or multipart), list, properties, info, cover, delete,
layers."""

from __future__ import annotations

import base64
import re
from concurrent.futures.process import BrokenProcessPool
from functools import partial
from typing import Any

from aiohttp import web
from ulid import ULID

from api.auth import JWT_CONFIG, client_of
from api.bodies import body_chunks, parse_json, read_body, read_json, utf8_text
from api.clients import revocable_jti
from api.context import (
    DocumentAccess,
    document_access,
    document_and_layer,
    password_of,
    write_all,
)
from api.errors import ApiError, request_id, status_of
from api.imports import plan_for, raise_rejections, read_instant_json, refuse
from api.parsing import json_object, layer_name, whole_number
from api.responses import empty_response, json_response
from api.services import SERVICES, Services
from api.uploads import (
    Budget,
    Received,
    check_declared_length,
    multipart_parts,
    part_chunks,
    read_small_part,
    receive,
)
from eventstore.commands import (
    Accepted,
    Command,
    DeleteAnnotation,
    DeleteDocument,
    NewAttachment,
    Provenance,
    PutAnnotation,
    PutComment,
    Rejected,
    RevokeToken,
    UploadDocument,
)
from eventstore.domain import DEFAULT_LAYER
from eventstore.errors import NotAppliedError
from eventstore.names import attachment_references, name_problem, normalize_attachment_id
from eventstore.times import utc, utc_micro_text
from eventstore.validation import ContentError
from projections import xfdf
from projections.covers import MAX_SIDE, CoverError, render_cover
from projections.instant_json import FORMAT, ImportPlan, plan_import
from projections.pdf_reading import ReadAnnotations, read_annotations
from projections.pdfs import PdfInfo, annotation_numbers, inspect_pdf, pdf_identifier
from projections.queries import DocumentRow
from projections.replays import (
    comment_content,
    document_copy_commands,
    import_commands,
    import_paths,
)

MAX_FIELD_BYTES = 64 * 1024
DOCUMENT_ID = re.compile(r"[^/\s]{1,256}")
PDF_TYPES = ("application/pdf", "application/octet-stream")
UPLOAD_FIELDS = ("document_id", "title", "overwrite_existing_document",
                 "keep_current_annotations")
FLAGS = {"true": True, "1": True, "yes": True, "false": False, "0": False, "no": False}


class Upload:
    """What an upload request carried."""

    def __init__(self) -> None:
        self.file: Received | None = None
        self.instant_json: Any = None
        self.xfdf: bytes | None = None  # an XFDF attachment, read once the PDF is known
        self.filename: str | None = None
        self.fields: dict[str, str] = {}

    def discard(self) -> None:
        if self.file is not None:
            self.file.path.unlink(missing_ok=True)


async def _read_multipart(request: web.Request, services: Services, upload: Upload,
                          budget: Budget) -> None:
    async for part in multipart_parts(request, services):
        name = part.name or ""
        if name == "file":
            if upload.file is not None:
                raise ApiError(422, "send exactly one 'file' part")
            upload.filename = part.filename
            upload.file = await receive(part_chunks(part, services), services, budget)
        elif name == "attachment":
            data = await read_small_part(part, services.settings.max_json_bytes, budget,
                                         services)
            if xfdf.is_xfdf(data):
                if xfdf.declared_encoding(data) in (None, "utf-8", "utf8"):
                    utf8_text(data, "the XFDF 'attachment' part")
                upload.xfdf = data
                continue
            utf8_text(data, "the 'attachment' part")
            try:
                upload.instant_json = await parse_json(data, services)
            except ApiError:
                upload.instant_json = None
            if not isinstance(upload.instant_json, dict):
                raise ApiError(422, "the 'attachment' part must be an Instant JSON or an XFDF "
                                    "document")
        elif name in ("url", "instructions"):
            raise ApiError(422, f"the '{name}' part of document uploads is not supported; "
                                "upload the PDF itself as the 'file' part")
        elif name not in UPLOAD_FIELDS:
            raise ApiError(422, f"unexpected part {name[:64]!r}: an upload takes 'file', "
                                f"'attachment' and {', '.join(map(repr, UPLOAD_FIELDS))}")
        else:
            value = await read_small_part(part, MAX_FIELD_BYTES, budget, services)
            upload.fields[name] = utf8_text(value, f"the {name[:64]!r} part")


async def upload_document(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    upload = Upload()
    budget = Budget(services.settings.max_upload_bytes)
    try:
        check_declared_length(request, budget)
        if request.content_type.startswith("multipart/"):
            await _read_multipart(request, services, upload, budget)
        elif request.content_type in PDF_TYPES:
            upload.file = await receive(body_chunks(request, services), services, budget)
        else:
            raise ApiError(415, "upload the PDF as application/pdf, or as the 'file' part of "
                                "multipart/form-data")
        return await _store_upload(request, services, upload)
    finally:
        upload.discard()


def _document_id(upload: Upload) -> str:
    document_id = upload.fields.get("document_id", str(ULID()))
    if not DOCUMENT_ID.fullmatch(document_id):
        raise ApiError(422, "'document_id' must be 1 to 256 characters with no '/' or spaces")
    problem = name_problem(document_id)
    if problem is not None:
        raise ApiError(422, f"'document_id' {document_id!r} cannot be used: {problem}")
    return document_id


def _flag(upload: Upload, name: str) -> bool:
    given = upload.fields.get(name, "false")
    if given.lower() not in FLAGS:
        raise ApiError(422, f"{name!r} must be true or false, not {given[:40]!r}")
    return FLAGS[given.lower()]


async def _store_upload(request: web.Request, services: Services, upload: Upload
                        ) -> web.Response:
    if upload.file is None:
        raise ApiError(422, "the multipart body has no 'file' part holding the PDF")
    document_id = _document_id(upload)
    path, sha256, size = upload.file.path, upload.file.sha256, upload.file.size
    password = password_of(request)
    info: PdfInfo = await services.read_pdf(inspect_pdf, path, password)
    plan = await _plan_attachment(services, upload, info, password)
    own = await _own_annotations(services, upload, info, password)
    replaced = _replaces_own(upload, plan)
    title = upload.fields.get("title") or info.title or upload.filename
    await services.run(services.blobs.commit, path, sha256)
    upload.file = None
    commands: list[Command] = [UploadDocument(
        document_id, title, sha256, size, info.password_protected, info.pages,
        overwrite=_flag(upload, "overwrite_existing_document"))]
    for data in (data for _, data in own.images.values()):
        await services.run(services.blobs.put_bytes, data)  # before any event names them
    commands += [PutAnnotation(document_id, DEFAULT_LAYER, annotation_id, content, None, None,
                               **_own_image(content, own))
                 for annotation_id, content in own.records]
    commands += [PutComment(document_id, DEFAULT_LAYER, comment["id"],
                            comment_content(comment), None, None)
                 for comment in own.comments]  # deleted with their roots when replaced
    paths = ["$"] + [f"PDF object {content['pdfObjectId']}" for _, content in own.records] \
        + [f"PDF object {comment['pdfObjectId']} (a reply)" for comment in own.comments]
    if replaced:
        commands += [DeleteAnnotation(document_id, DEFAULT_LAYER, annotation_id)
                     for annotation_id, _ in own.records]
        paths += [f"PDF object {content['pdfObjectId']} (replaced by the attachment)"
                  for _, content in own.records]
    if plan is not None:
        commands += await services.run(import_commands, services.blobs, plan, document_id, "")
        paths += import_paths(plan)
    revision, row = await _write_new_document(request, services, document_id, commands,
                                              paths)
    return json_response({"data": {
        "document_id": document_id,
        "errors": (plan.notes if plan else []) + ([] if replaced else own.errors),
        "password_protected": row.password_protected, "sourcePdfSha256": sha256,
        "title": row.title, "createdAt": row.created_at,
    }, "revision": revision}, revision=revision)


def _own_image(content: dict[str, Any], own: ReadAnnotations) -> dict[str, Any]:
    """The attachment an image stamp read from the PDF brings (its image's SHA-256)."""
    image = content.get("imageAttachmentId")
    if content.get("type") != "pspdfkit/image" or image not in own.images:
        return {}
    content_type, data = own.images[image]
    return {"references": (image,),
            "attachments": (NewAttachment(image, content_type, len(data)),)}


def _replaces_own(upload: Upload, plan: ImportPlan | None) -> bool:
    """An Instant JSON (or XFDF) attachment replaces the PDF's own annotations unless
    keep_current_annotations=true."""
    keep = _flag(upload, "keep_current_annotations")  # checked with or without a plan
    return plan is not None and not keep


async def _write_new_document(request: web.Request, services: Services, document_id: str,
                              commands: list[Command], paths: list[str]
                              ) -> tuple[int, DocumentRow]:
    """Write a document's upload (the first command) and what comes with it, all or
    nothing: the upload's own refusal (409, …) decides the status, else a 422 names each
    failing path; then the row the read model shows."""
    outcomes, revision = await services.write(commands, request_id(request), atomic=True)
    if isinstance(outcomes[0], Rejected) and not isinstance(outcomes[0].error,
                                                            NotAppliedError):
        raise ApiError(status_of(outcomes[0].error), str(outcomes[0].error))
    raise_rejections(outcomes, paths)
    row = await services.run(services.read_model.document, document_id)
    assert row is not None  # just written, and the read model shows it
    return revision, row


async def _own_annotations(services: Services, upload: Upload, info: PdfInfo,
                           password: str | None) -> ReadAnnotations:
    """The PDF's own annotations, to become records of the default layer (deleted in the
    same write when an attachment replaces them: the records' ``pdfObjectId`` then tells
    downloads to leave the originals out, where they would otherwise come back)."""
    if info.pages is None:
        return ReadAnnotations(errors=[{
            "reason": "the PDF's own annotations were not read: it is password-protected "
                      "and was uploaded without its password"}])
    assert upload.file is not None
    return await services.read_pdf(read_annotations, upload.file.path, password)


async def _plan_attachment(services: Services, upload: Upload, info: PdfInfo,
                           password: str | None) -> ImportPlan | None:
    """Check the Instant JSON (or XFDF) sent with an upload against that PDF, before
    storing either."""
    if upload.instant_json is None and upload.xfdf is None:
        return None
    if info.pages is None:
        raise ApiError(403, "send the PDF's password in the 'pspdfkit-pdf-password' header to "
                            "import annotations into a protected PDF", text=True)
    assert upload.file is not None
    notes: list[dict[str, Any]] = []
    if upload.xfdf is not None:
        upload.instant_json, notes = await _instant_json_of_xfdf(services, upload, password)
    pdf_id = await services.run(pdf_identifier, upload.file.path, password)
    numbers = await services.run(annotation_numbers, upload.file.path, password) \
        if isinstance(upload.instant_json, dict) and \
        upload.instant_json.get("skippedPdfObjectIds") else []
    plan = await services.run(partial(plan_import, upload.instant_json,
                                      page_count=len(info.pages), pdf_id=pdf_id,
                                      pdf_annotations=numbers))
    if plan.problems:
        raise refuse(plan.problems)
    plan.notes += notes
    return plan


async def _instant_json_of_xfdf(services: Services, upload: Upload, password: str | None
                                ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """An XFDF attachment as the Instant JSON document it holds, and what it could not."""
    assert upload.file is not None and upload.xfdf is not None
    try:
        read = await services.read_pdf(xfdf.read_xfdf_of, upload.file.path, upload.xfdf,
                                       password)
    except ContentError as error:
        raise ApiError(422, f"the 'attachment' part: {error}") from None
    annotations = [{**content, **({"id": name} if name else {})}
                   for name, content in read.records]
    document: dict[str, Any] = {"format": FORMAT, "annotations": annotations}
    if read.comments:
        document["comments"] = read.comments
    if read.images:  # image stamps' <imagedata>, as Instant JSON attachments
        document["attachments"] = {
            sha256: {"binary": base64.b64encode(data).decode(), "contentType": content_type}
            for sha256, (content_type, data) in read.images.items()}
    return document, read.errors


def _properties(row: DocumentRow) -> dict[str, Any]:
    properties = {
        "document_id": row.document_id,
        "passwordProtected": row.password_protected,
        "sourcePdfSha256": row.sha256,
        "title": row.title,
        "byteSize": row.byte_size,
        "createdAt": row.created_at,
        "storage": {"type": "built-in"},
    }
    if row.copied_from is not None:  # extension: where a copy came from
        properties["copiedFrom"] = row.copied_from
    return properties


async def copy_document(request: web.Request) -> web.Response:
    """``POST /api/copy_document``: a new document sharing the stored PDF (no second blob),
    starting with the state of every layer of the source now, all in one write whose first
    events name the source, its incarnation and the revision copied."""
    services = request.app[SERVICES]
    body = json_object(await read_json(request, services))
    source_id = body.get("document_id", body.get("documentId"))
    if not isinstance(source_id, str) or not source_id:
        raise ApiError(400, "give the 'document_id' of the document to copy")
    new_id = body.get("new_document_id", body.get("newDocumentId"))
    if new_id is None:
        new_id = str(ULID())
    if not isinstance(new_id, str) or not DOCUMENT_ID.fullmatch(new_id) or \
            name_problem(new_id) is not None:
        raise ApiError(400, f"'new_document_id' {new_id!r} cannot name a document: 1 to 256 "
                            "characters, no '/', spaces, '.' or '..'")
    access = await document_access(request, source_id)
    written = await write_all(request, services, await _copy_commands(services, access, new_id))
    return json_response({"data": {"document_id": new_id}, "revision": written},
                         revision=written)


def _list_params(query: Any) -> dict[str, Any]:
    page_size = whole_number(query.get("page_size", "10"), "'page_size'", maximum=1000)
    if page_size < 1:
        raise ApiError(400, "'page_size' must be from 1 to 1000")
    order_by = query.get("order_by", "created_at")
    if order_by not in ("created_at", "title"):
        raise ApiError(400, "'order_by' must be 'created_at' or 'title'")
    direction = query.get("order_direction", "desc")
    if direction not in ("asc", "desc"):
        raise ApiError(400, "'order_direction' must be 'asc' or 'desc'")
    return {"page_size": page_size, "cursor": query.get("cursor"), "title": query.get("title"),
            "order_by": order_by, "descending": direction == "desc"}


async def list_documents(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    params = _list_params(request.query)
    try:
        rows, next_cursor, total = await services.run(services.read_model.documents, **params)
    except ValueError:  # well-formed, but no list ever gave it
        raise ApiError(400, "invalid cursor: a cursor is a list's 'next_cursor', passed "
                            "back as it was given") from None
    return json_response({"data": [_properties(r) for r in rows], "next_cursor": next_cursor,
                  "prev_cursor": None, "document_count": total})


BULK_FILTERS = ("title", "document_id", "start_date", "end_date")


async def delete_documents(request: web.Request) -> web.Response:
    """``DELETE /api/documents``: every live document the filters match (at least one),
    each deleted by an event of its own, as single deletes are."""
    services = request.app[SERVICES]
    query = request.query
    if not any(query.get(name) for name in BULK_FILTERS):
        raise ApiError(400, "missing_filter_parameters", description=(
            "give at least one of title, document_id, start_date, end_date"))
    bounds = {name: _bulk_time(query.get(name), f"invalid_{name}")
              for name in ("start_date", "end_date")}
    await services.caught_up()
    matched = await services.run(partial(
        services.read_model.matching_documents, title=query.get("title") or None,
        document_id=query.get("document_id") or None, created_from=bounds["start_date"],
        created_until=bounds["end_date"]))
    outcomes, revision = await services.write([DeleteDocument(i) for i in matched],
                                              request_id(request))
    deleted = sum(isinstance(o, Accepted) for o in outcomes)
    return json_response({"deleted_count": deleted, "skipped_count": len(matched) - deleted,
                          "total_matched": len(matched)}, revision=revision)


def _bulk_time(value: str | None, code: str) -> str | None:
    if value is None:  # present but empty is malformed, not absent
        return None
    try:
        return utc_micro_text(utc(value))
    except ValueError as error:
        raise ApiError(400, code, description=f"must be an ISO 8601 time: {error}") from None


async def _access(request: web.Request) -> tuple[Services, DocumentAccess]:
    services = request.app[SERVICES]
    layer_name(request)
    return services, await document_access(request, request.match_info["document_id"])


async def document_properties(request: web.Request) -> web.Response:
    _, access = await _access(request)
    return json_response({"data": _properties(access.row)})


async def document_info(request: web.Request) -> web.Response:
    _, access = await _access(request)
    pages = access.pages or []
    return json_response({"data": {
        "pageCount": len(pages),
        "title": access.row.title,
        "pages": [{"pageIndex": i, "pageLabel": str(i + 1), **page}
                  for i, page in enumerate(pages)],
    }})


async def copy_with_instant_json(request: web.Request) -> web.Response:
    """``POST …/copy_with_instant_json``: a copy (as ``copy_document`` makes it, with a new
    id) with an Instant JSON document (multipart part ``instant.json``) applied to this
    layer, all in one write or nothing. A JSON body that is an Instant JSON document (it has
    a 'format') is applied the same way; an empty body or another object makes a plain copy
    (Document Engine ignores a JSON body); anything else is refused and copies nothing."""
    services, access, layer = await document_and_layer(request, creating=True)
    document = None
    if request.content_type.startswith("multipart/"):
        document = await read_instant_json(request, services)
    else:
        body = await read_body(request, services)
        parsed = await parse_json(body, services) if body.strip() else {}
        if not isinstance(parsed, dict):
            raise ApiError(422, "the body must be an Instant JSON document (a JSON object), "
                                "or empty for a plain copy")
        if "format" in parsed:
            document = parsed
    new_id = str(ULID())
    commands = await _copy_commands(services, access, new_id)
    paths = ["$"] * len(commands)
    notes: list[dict[str, Any]] = []
    if document is not None:  # planned on the source: the same PDF and the same records
        plan = await plan_for(services, access, document, layer)
        if plan.problems:
            raise refuse(plan.problems)
        commands += await services.run(import_commands, services.blobs, plan, new_id, layer)
        paths += import_paths(plan)
        notes = plan.notes
    revision, row = await _write_new_document(request, services, new_id, commands, paths)
    return json_response({  # not wrapped in "data", as the reference answers it
        "createdAt": row.created_at, "documentId": new_id, "errors": notes,
        "password_protected": row.password_protected, "sourcePdfSha256": row.sha256,
        "title": row.title}, revision=revision)


async def _copy_commands(services: Services, access: DocumentAccess, new_id: str
                         ) -> list[Command]:
    """The upload of copy ``new_id`` (naming its source) and the copies of every layer of
    the source, as the read model shows them once every write so far is in it."""
    row = access.row
    revision = await services.caught_up()
    upload = UploadDocument(new_id, row.title, row.sha256, row.byte_size,
                            row.password_protected, row.pages,
                            copied_from=Provenance(row.document_id, row.instance, revision))
    return [upload, *await services.run(document_copy_commands, services.read_model,
                                        row.document_id, new_id, revision)]


async def cover_image(request: web.Request) -> web.Response:
    """``GET /documents/:id/cover?width=N`` (or ``height=N``): the first page as PNG, for
    lists of documents; a client JWT needs the ``cover-image`` permission (``?jwt=``)."""
    services, access = await _access(request)
    side, pixels = _cover_size(request.query)
    key = (access.row.sha256, side, pixels)  # the password, if any, was checked above
    png = services.covers.get(key)
    if png is None:
        # Always in the child: PDFium is native code reading an uploaded file, and a crash
        # there must cost the child, never the server (the child is started again).
        try:
            png = await services.offload.run(
                render_cover, services.blobs.path(access.row.sha256), access.password,
                pixels if side == "width" else None, pixels if side == "height" else None)
        except (BrokenProcessPool, CoverError) as error:
            raise ApiError(422, f"this PDF's first page cannot be rendered: {error}") from None
        services.covers.put(key, png)
    return web.Response(body=png, content_type="image/png",
                        headers={"Cache-Control": "private, max-age=86400"})


def _cover_size(query: Any) -> tuple[str, int]:
    given = [side for side in ("width", "height") if side in query]
    if len(given) != 1:
        raise ApiError(400, "give the cover's 'width' or its 'height' (pixels), not both")
    side = given[0]
    pixels = whole_number(query[side], f"'{side}'")
    if not 1 <= pixels <= MAX_SIDE:
        raise ApiError(400, f"'{side}' must be 1 to {MAX_SIDE} pixels")
    return side, pixels


async def delete_document(request: web.Request) -> web.Response:
    services, access = await _access(request)
    outcomes, revision = await services.write([DeleteDocument(access.row.document_id)],
                                              request_id(request))
    if isinstance(outcomes[0], Rejected):
        raise ApiError(status_of(outcomes[0].error), str(outcomes[0].error))
    return empty_response(revision)


async def list_layers(request: web.Request) -> web.Response:
    services, access = await _access(request)
    names = await services.run(services.read_model.layers, access.row.document_id)
    return json_response({"data": names})


async def get_attachment(request: web.Request) -> web.FileResponse:
    """An attachment's bytes, only for a document that holds it: another document's hash is
    a 404 like an unknown one, so hashes cannot be probed across documents."""
    services, access = await _access(request)
    attachment_id = normalize_attachment_id(request.match_info["attachment_id"])
    held = await services.run(services.read_model.attachment, access.row.document_id,
                              attachment_id)
    client = client_of(request)
    if held is not None and client is not None:
        records = await services.run(services.read_model.records_naming,
                                     access.row.document_id, client.layer, attachment_id)
        if not any(client.sees(r) and attachment_id in attachment_references(r["content"])
                   for r in records):
            held = None  # a JWT caller reaches only attachments of records it may view
    if held is None:
        raise ApiError(404, "Attachment not found")
    return web.FileResponse(services.blobs.path(held.sha256),
                            headers={"Content-Type": held.content_type})


async def revoke_tokens(request: web.Request) -> web.Response:
    """Revoke client JWTs by their ``jti``: every token sharing one is refused from now on."""
    services = request.app[SERVICES]
    body = json_object(await read_json(request, services))
    tokens = body.get("jwts")
    if not isinstance(tokens, list) or not tokens:
        raise ApiError(422, "'jwts' must be a non-empty list of JWTs")
    commands, failing, paths = [], [], []
    for index, token in enumerate(tokens):
        try:
            if not isinstance(token, str):
                raise ApiError(422, "each item must be a JWT string")
            jti, expires = revocable_jti(token, request.app[JWT_CONFIG])
        except ApiError as error:
            failing.append({"path": f"$.jwts[{index}]", "details": error.reason,
                            "error": error.reason})
            continue
        commands.append(RevokeToken(jti, expires))
        paths.append(index)
    _, revision = await services.write(commands, request_id(request)) if commands else ([], 0)
    data = [{"jti": c.jti} for c in commands]
    result = "success" if not failing else "partial_failure" if data else "failure"
    return json_response({"data": data, "details": f"{len(data)} token ids revoked",
                          "failing_paths": failing, "request_id": request_id(request),
                          "result": result, "status": 200, "revision": revision or None},
                         revision=revision)
