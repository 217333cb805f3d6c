"""Routes that replay the log: Instant JSON export and import, layers and snapshots,
history, the change feed, and restores (which append events; the log is never rewritten)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import orjson
from aiohttp import web

from api.annotations import NDJSON, _document
from api.auth import client_of
from api.bodies import parse_json, read_body, read_json
from api.clients import Client
from api.errors import ApiError, request_id, status_of
from api.parsing import check_layer_name, json_object, whole_number
from api.pdfs import pdf_identifier
from api.responses import json_response
from api.services import SERVICES, DocumentAccess, Services
from api.uploads import Budget, check_declared_length, multipart_parts, read_small_part
from eventstore.blobs import BlobStore
from eventstore.commands import (
    Command,
    CopyAnnotation,
    CreateLayer,
    DeleteAnnotation,
    DeleteLayer,
    NewAttachment,
    Outcome,
    PutAnnotation,
    Rejected,
    SetSections,
)
from eventstore.domain import DEFAULT_LAYER, SECTIONS
from eventstore.errors import NotAppliedError
from eventstore.names import attachment_references
from eventstore.times import utc, utc_micro_text
from projections.instant_json import (
    ImportPlan,
    canonical_timestamp,
    export_annotation,
    export_document,
    plan_import,
)
from projections.queries import ReadModel
from projections.sections import export_sections

INSTANT_JSON_PART = "instant.json"
CHANGES_PAGE = 1000


# ---- revisions and times -------------------------------------------------------------------

async def resolve_revision(services: Services, params: Any) -> tuple[int | None, int]:
    """``revision=N`` or ``at=<ISO 8601>`` (extensions), once the read model shows every
    write committed so far (by any process): (the revision to show, None for now; the
    log's current revision). A revision inside a write of many events becomes the end of
    the write before it, so no one is shown a write half applied."""
    revision, at = params.get("revision"), params.get("at")
    if revision not in (None, "") and at not in (None, ""):
        raise ApiError(400, "give either 'revision' or 'at', not both")
    if revision not in (None, ""):
        asked = whole_number(revision, "'revision'")
    elif at not in (None, ""):
        asked = await services.run(services.read_model.revision_at, _utc_stamp(at))
    else:
        return None, await services.caught_up()
    current = await services.caught_up()
    if asked > current:
        raise ApiError(400, f"revision {asked} is beyond the log's current revision "
                            f"{current}")
    return await services.run(services.log.whole_revision, asked), current


def _utc_stamp(at: Any) -> str:
    """An ISO 8601 time as the read model's ``at`` columns write it."""
    try:
        return utc_micro_text(utc(str(at)))
    except ValueError as error:
        raise ApiError(400, f"'at' must be an ISO 8601 time: {error}") from None


# ---- export --------------------------------------------------------------------------------

def instant_json_of(read_model: ReadModel, blobs: BlobStore, document_id: str, layer: str,
                    upto: int | None = None, annotation_version: int | None = None,
                    sees: Callable[[dict[str, Any]], bool] | None = None) -> dict[str, Any]:
    """A layer as Instant JSON at a revision (blocking; the CLI's export uses it too), with
    only the records ``sees`` allows and the attachments they name."""
    records = (orjson.loads(r) for r in read_model.layer_state(document_id, layer, upto))
    annotations = [export_annotation(r, annotation_version) for r in records
                   if sees is None or sees(r)]
    sections = export_sections(read_model.sections(document_id, layer, upto),
                               canonical_timestamp,
                               None if sees is None else {a["id"] for a in annotations})
    attachments: dict[str, tuple[str, bytes]] = {}
    for annotation in annotations:
        for attachment_id in attachment_references(annotation):
            row = read_model.attachment(document_id, attachment_id)
            if row is not None and attachment_id not in attachments:
                attachments[attachment_id] = (row.content_type,
                                              blobs.path(row.sha256).read_bytes())
    return export_document(annotations, attachments, sections)


async def export_instant_json(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    upto, current = await resolve_revision(services, request.query)
    version = request.query.get("annotation_version")
    client = client_of(request)
    document = await services.run(instant_json_of, services.read_model, services.blobs,
                                  access.row.document_id, layer, upto,
                                  2 if version == "2" else None,
                                  client.sees if client else None)
    response = json_response(document)
    response.headers["Annolog-Revision"] = str(upto if upto is not None else current)
    return response


# ---- import --------------------------------------------------------------------------------

async def _pdf_id(services: Services, access: DocumentAccess) -> dict[str, str] | None:
    return await services.run(pdf_identifier, services.blobs.path(access.row.sha256),
                              access.password)


async def plan_for(services: Services, access: DocumentAccess, document: Any,
                   layer: str = DEFAULT_LAYER, before: Sequence[Command] = ()) -> ImportPlan:
    """The import plan of a document for a layer, after the commands ``before``."""
    pdf_id = None
    if isinstance(document, dict) and document.get("pdfId") is not None:
        pdf_id = await _pdf_id(services, access)
    layer_ids: list[str] = [c.annotation_id for c in before if hasattr(c, "annotation_id")]
    if isinstance(document, dict) and document.get("comments"):  # they need their roots
        await services.caught_up()
        layer_ids += await services.run(services.read_model.live_annotation_ids,
                                        access.row.document_id, layer)
    return await services.run(plan_import, document, page_count=access.page_count,
                              pdf_id=pdf_id, layer_ids=layer_ids)


def import_commands(services: Services, plan: ImportPlan, document_id: str, layer: str
                    ) -> list[Command]:
    """Store the plan's attachments (blocking) and turn its records into commands."""
    brought: dict[str, NewAttachment] = {}
    for attachment in plan.attachments.values():
        services.blobs.put_bytes(attachment.data)
        brought[attachment.attachment_id] = NewAttachment(
            attachment.attachment_id, attachment.content_type, len(attachment.data),
            attachment.sha256)
    commands: list[Command] = [
        PutAnnotation(document_id, layer, annotation_id, content, None, None,
                      references=references,
                      attachments=tuple(brought[r] for r in references if r in brought))
        for annotation_id, content, references in plan.annotations]
    if plan.sections:
        commands.append(SetSections(document_id, layer, plan.sections))
    return commands


def import_paths(plan: ImportPlan) -> list[str]:
    """Where each of ``import_commands``' commands comes from in the document."""
    return [f"$.annotations[{i}]" for i in range(len(plan.annotations))] + (
        ["$"] if plan.sections else [])


def import_counts(plan: ImportPlan) -> dict[str, int]:
    """How many records of each kind an applied import brought."""
    return {"annotations": len(plan.annotations), "attachments": len(plan.attachments),
            **{name: len(plan.sections.get(name, ())) for name in SECTIONS}}


def refuse(problems: list[dict[str, str]]) -> ApiError:
    return ApiError(422, "the Instant JSON document was not applied; nothing was changed: "
                         + "; ".join(f"{p['path']}: {p['details']}" for p in problems),
                    records=problems)


def rejections(commands: list[Command], outcomes: list[Outcome], paths: list[str]
               ) -> list[dict[str, str]]:
    """The commands that failed an all-or-nothing write, by their place in the request."""
    return [{"path": path, "details": str(outcome.error)}
            for path, outcome in zip(paths, outcomes, strict=True)
            if isinstance(outcome, Rejected) and not isinstance(outcome.error, NotAppliedError)]


async def read_instant_json(request: web.Request, services: Services) -> Any:
    """The document from a multipart 'instant.json' part, or from a JSON body."""
    if not request.content_type.startswith("multipart/"):
        return await parse_json(await read_body(request, services), services)
    budget = Budget(services.settings.max_upload_bytes)
    check_declared_length(request, budget)
    document = None
    async for part in multipart_parts(request, services):
        data = await read_small_part(part, services.settings.max_json_bytes, budget,
                                     services)
        if part.name == INSTANT_JSON_PART:
            document = await parse_json(data, services)
    if document is None:
        raise ApiError(422, "the multipart body has no 'instant.json' part")
    return document


async def apply_instant_json(request: web.Request) -> web.Response:
    services, access, layer = await _document(request, creating=True)
    document = await read_instant_json(request, services)
    revision, plan = await apply_plan(request, services, access, layer, document)
    return json_response({"data": {**import_counts(plan), "errors": plan.notes},
                          "revision": revision}, revision=revision)


async def apply_plan(request: web.Request, services: Services, access: DocumentAccess,
                     layer: str, document: Any, before: list[Command] = ()
                     ) -> tuple[int, ImportPlan]:
    """Apply a whole Instant JSON document (after ``before``) in one transaction."""
    plan = await plan_for(services, access, document, layer, before)
    if plan.problems:
        raise refuse(plan.problems)
    commands = list(before) + await services.run(
        import_commands, services, plan, access.row.document_id, layer)
    outcomes, revision = await services.write(commands, request_id(request), atomic=True)
    paths = ["$"] * len(before) + import_paths(plan)
    problems = rejections(commands, outcomes, paths)
    if problems:
        raise refuse(problems)
    return revision, plan


# ---- layers --------------------------------------------------------------------------------

async def _layer_form(request: web.Request, services: Services) -> dict[str, Any]:
    """The fields of a layer creation: a JSON body, or multipart with an instant.json part."""
    if not request.content_type.startswith("multipart/"):
        return json_object(await parse_json(await read_body(request, services), services))
    budget = Budget(services.settings.max_upload_bytes)
    check_declared_length(request, budget)
    fields: dict[str, Any] = {}
    async for part in multipart_parts(request, services):
        data = await read_small_part(part, services.settings.max_json_bytes, budget,
                                     services)
        if part.name == INSTANT_JSON_PART:
            fields[INSTANT_JSON_PART] = await parse_json(data, services)
        elif part.name:
            fields[part.name] = data.decode("utf-8", errors="replace")
    return fields


async def create_layer(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    access = await services.document_access(request, request.match_info["document_id"])
    fields = await _layer_form(request, services)
    name = fields.get("name")
    if not isinstance(name, str):
        raise ApiError(400, "'name' (the new layer's name) is required")
    check_layer_name(name)
    source = fields.get("source_layer_name")
    if source is not None and not isinstance(source, str):
        raise ApiError(400, "'source_layer_name' must be a string")
    upto, _ = await resolve_revision(services, fields)
    document_id = access.row.document_id
    copies: list[Command] = [CreateLayer(document_id, name)]
    if source is not None:
        copies = await services.run(layer_copy_commands, services.read_model, document_id,
                                    source, name, upto)
    instant = fields.get(INSTANT_JSON_PART)
    if instant is not None:
        revision, plan = await apply_plan(request, services, access, name, instant, copies)
        notes = plan.notes
    else:
        revision, notes = await _write_all(request, services, copies), []
    return json_response({"data": {"name": name, "errors": notes}, "revision": revision},
                         revision=revision)


def layer_copy_commands(read_model: ReadModel, document_id: str, source: str, name: str,
                        upto: int | None) -> list[Command]:
    """Commands creating layer ``name`` as a copy of ``source`` at revision ``upto`` (now
    when None): its records, with their creators, and its other sections (blocking)."""
    records = read_model.layer_state(document_id, source, upto)
    commands: list[Command] = [CreateLayer(document_id, name)]
    commands += [_copy(document_id, name, orjson.loads(r)) for r in records]
    sections = read_model.sections(document_id, source, upto)
    if sections:
        commands.append(SetSections(document_id, name, sections, replace=True))
    return commands


def _copy(document_id: str, layer: str, record: dict[str, Any]) -> CopyAnnotation:
    return CopyAnnotation(document_id, layer, record["id"], record["content"],
                          record["group"], record["createdBy"], record["updatedBy"])


async def _write_all(request: web.Request, services: Services, commands: list[Command]
                     ) -> int:
    """Write commands all or nothing; the first real failure decides the status."""
    outcomes, revision = await services.write(commands, request_id(request), atomic=True)
    for outcome in outcomes:
        if isinstance(outcome, Rejected) and not isinstance(outcome.error, NotAppliedError):
            raise ApiError(status_of(outcome.error), str(outcome.error))
    return revision


async def delete_layer(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    await services.caught_up()
    document_id = access.row.document_id
    ids = await services.run(services.read_model.live_annotation_ids, document_id, layer)
    commands: list[Command] = [DeleteAnnotation(document_id, layer, i, missing_ok=True)
                               for i in ids]
    commands.append(SetSections(document_id, layer, {}, replace=True))
    commands.append(DeleteLayer(document_id, layer))
    revision = await _write_all(request, services, commands)
    return web.Response(status=200, headers={"Annolog-Revision": str(revision)})


# ---- history and the change feed -----------------------------------------------------------

async def annotation_history(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    annotation_id = request.match_info["annotation_id"]
    changes = await services.run(services.read_model.history, access.row.document_id, layer,
                                 annotation_id)
    changes = _visible(client_of(request), changes)
    if not changes:
        raise ApiError(404, f"annotation {annotation_id!r} has no history in this layer")
    return json_response({"data": changes})


def _visible(client: Client | None, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Versions a JWT caller may view (each judged on its own record)."""
    return changes if client is None else [c for c in changes if client.sees(c["record"])]


async def layer_changes(request: web.Request) -> web.StreamResponse:
    services, access, layer = await _document(request)
    after = whole_number(request.query.get("since", "0"), "'since' (a revision)")
    response = web.StreamResponse(headers={"Content-Type": NDJSON})
    await response.prepare(request)
    client = client_of(request)
    while changes := await services.run(services.read_model.changes_page,
                                        access.row.document_id, layer, after, CHANGES_PAGE):
        after = changes[-1]["revision"]
        await response.write(b"".join(orjson.dumps(c) + b"\n"
                                      for c in _visible(client, changes)))
    await response.write_eof()
    return response


# ---- restores ------------------------------------------------------------------------------

async def restore_annotation(request: web.Request) -> web.Response:
    """Undelete: the annotation comes back as its last version before it was deleted."""
    services, access, layer = await _document(request)
    annotation_id = request.match_info["annotation_id"]
    await services.caught_up()
    history = await services.run(services.read_model.history, access.row.document_id, layer,
                                 annotation_id)
    if not history:
        raise ApiError(404, f"annotation {annotation_id!r} has no history in this layer")
    if history[-1]["kind"] != "deleted":
        raise ApiError(409, f"annotation {annotation_id!r} is not deleted")
    record = history[-1]["record"]
    revision = await _write_all(request, services,
                                [_copy(access.row.document_id, layer, record)])
    return json_response({"data": record, "revision": revision}, revision=revision)


async def restore_layer(request: web.Request) -> web.Response:
    """Revert a layer to its state at a revision (or time) by appending the differences."""
    services, access, layer = await _document(request)
    body = json_object(await read_json(request, services))
    upto, _ = await resolve_revision(services, body)
    if upto is None:
        raise ApiError(400, "give the 'revision' or 'at' to restore the layer to")
    document_id = access.row.document_id
    then = await services.run(services.read_model.layer_state, document_id, layer, upto)
    now = await services.run(services.read_model.layer_state, document_id, layer, None)
    commands = revert_commands(document_id, layer, [orjson.loads(r) for r in then],
                               [orjson.loads(r) for r in now])
    sections_then, sections_now = await services.run(_sections_then_and_now, services.read_model,
                                                     document_id, layer, upto)
    if sections_then != sections_now:
        commands.append(SetSections(document_id, layer, sections_then, replace=True))
    revision = await _write_all(request, services, commands) if commands else 0
    return json_response({"data": {"changed": len(commands)}, "revision": revision or None},
                         revision=revision)


def _sections_then_and_now(read_model: ReadModel, document_id: str, layer: str, upto: int
                           ) -> tuple[dict[str, Any], dict[str, Any]]:
    return (read_model.sections(document_id, layer, upto),
            read_model.sections(document_id, layer, None))


def revert_commands(document_id: str, layer: str, then: list[dict[str, Any]],
                    now: list[dict[str, Any]]) -> list[Command]:
    """Commands that turn the records ``now`` into the records ``then``."""
    wanted = {r["id"]: r for r in then}
    current = {r["id"]: r for r in now}
    commands: list[Command] = [DeleteAnnotation(document_id, layer, i)
                               for i in current if i not in wanted]
    for annotation_id, record in wanted.items():
        present = current.get(annotation_id)
        if present == record:
            continue
        if present is not None and present["createdBy"] != record["createdBy"]:
            commands.append(DeleteAnnotation(document_id, layer, annotation_id))
            present = None
        if present is None:
            commands.append(_copy(document_id, layer, record))
        else:
            commands.append(PutAnnotation(document_id, layer, annotation_id, record["content"],
                                          record["group"], record["updatedBy"]))
    return commands
