"""Instant JSON routes: a layer exported at any revision, and a document applied to a layer."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web

from api.auth import client_of
from api.clients import Client
from api.context import document_and_layer, materialise, resolve_revision, shown_layer
from api.errors import ApiError, request_id
from api.imports import apply_plan, plan_for, read_instant_json, refuse
from api.responses import REVISION_HEADER, json_response
from api.services import Services
from eventstore.commands import (
    Command,
    CreateAnnotation,
    CreateComment,
    DeleteAnnotation,
    DeleteComment,
    Rejected,
    UpdateAnnotation,
    UpdateComment,
)
from eventstore.errors import ForbiddenError
from projections.instant_json import ImportPlan
from projections.replays import import_counts, instant_json_of
from projections.saves import SavePlan, layer_view, plan_save, unwritten


async def export_instant_json(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request)
    upto, current = await resolve_revision(services, request.query)
    layer, upto = await shown_layer(services, access, layer, upto)
    version = request.query.get("annotation_version")
    if version not in (None, "1", "2"):
        raise ApiError(400, f"'annotation_version' must be 1 or 2, not {version[:40]!r}")
    client = client_of(request)
    document = await services.run(instant_json_of, services.read_model, services.blobs,
                                  access.row.document_id, layer, upto,
                                  2 if version == "2" else None,
                                  client.sees if client else None)
    response = json_response(document)
    response.headers[REVISION_HEADER] = str(upto if upto is not None else current)
    return response


async def apply_instant_json(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request, creating=True)
    await materialise(request, services, access, layer)
    document = await read_instant_json(request, services)
    revision, plan = await apply_plan(request, services, access, layer, document)
    return json_response({"data": {**import_counts(plan), "errors": plan.notes},
                          "revision": revision}, revision=revision)


BASE_REVISION_HEADER = "Annolog-Base-Revision"


async def save_instant_json(request: web.Request) -> web.Response:
    """``PUT …/document.json``: the layer becomes the document sent (a viewer's export),
    recorded as the difference, merged with what others wrote since the revision named in
    ``Annolog-Base-Revision`` (see ``projections.saves``). A client JWT saves what it may
    see, as its user, each change judged by its collaboration permissions."""
    services, access, layer = await document_and_layer(request, creating=True)
    client = client_of(request)
    based = request.headers.get(BASE_REVISION_HEADER)
    base_revision, _ = await resolve_revision(
        services, {} if based is None else {"revision": based})
    await materialise(request, services, access, layer)
    document = await read_instant_json(request, services)
    plan = await plan_for(services, access, document, layer, whole=True)
    if plan.problems:
        raise refuse(plan.problems)
    saving = await services.run(_plan_save, services, access.row.document_id, layer, plan,
                                base_revision, client)
    for attachment in plan.attachments.values():
        if attachment.attachment_id in saving.attachments:
            await services.run(services.blobs.put_bytes, attachment.data)
    revision = 0
    if saving.commands:
        commands = [as_caller(c, client) for c in saving.commands] if client else \
            saving.commands
        outcomes, revision = await services.write(commands, request_id(request))
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Rejected):
                unwritten(saving, index, outcome.error,
                          isinstance(outcome.error, ForbiddenError))
    data = {**saving.counts, "conflicts": saving.conflicts, "refused": saving.refused}
    body: dict[str, Any] = {"data": data, "revision": revision or None}
    unsaved = len(saving.conflicts) + len(saving.refused)
    if unsaved:
        body["error"] = {"reason": f"{unsaved} record(s) were not saved: changed by someone "
                                   "else too since the base revision (data.conflicts; theirs "
                                   "were kept), or not yours to change (data.refused); the "
                                   "rest was saved"}
    return json_response(body, revision=revision, status=409 if unsaved else 200)


def _plan_save(services: Services, document_id: str, layer: str, plan: ImportPlan,
               base_revision: int | None, client: Client | None) -> SavePlan:
    """Read the layer now (and at the base revision), as the caller sees it, and plan the
    save: in a worker thread, as it reads every record of the layer."""
    read_model = services.read_model
    sees = client.sees if client else None
    theirs = layer_view(read_model, document_id, layer, None, sees)
    base = None if base_revision is None else layer_view(read_model, document_id, layer,
                                                         base_revision, sees)
    versions = {table: read_model.live_versions(document_id, layer, table)
                for table in ("annotations", "comments")}
    # Bookmarks and form sections are saved as wholes: only by a caller who sees them all
    whole = client is None or client.collaboration is None
    return plan_save(document_id, layer, plan, theirs, base, versions, sections=whole)


def as_caller(command: Command, client: Client) -> Command:
    """A save's command as a client JWT's: its user acts, its creator name is forced, a new
    record goes in its default group, and each change is judged by its permissions on the
    record as it is when written."""
    user: dict[str, Any] = {"user_id": client.user_id}
    content = getattr(command, "content", None)
    if content is not None and client.creator_name is not None:
        user["content"] = {**content, "creatorName": client.creator_name}
    if isinstance(command, CreateAnnotation):
        return replace(command, **user, group=client.default_group,
                       guard=client.exists_guard())
    if isinstance(command, UpdateAnnotation):
        return replace(command, **user, guard=client.edit_guard(None, False))
    if isinstance(command, DeleteAnnotation):
        return replace(command, **user, guard=client.delete_guard())
    if isinstance(command, CreateComment):
        return replace(command, **user, group=client.default_group,
                       guard=client.reply_guard())
    if isinstance(command, UpdateComment):
        return replace(command, **user, guard=client.edit_guard(None, False, "comments"))
    if isinstance(command, DeleteComment):
        return replace(command, **user, guard=client.delete_guard("comments"))
    return command  # the sections, saved only by a caller who sees them all
