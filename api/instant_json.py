"""Instant JSON routes: a layer exported at any revision, and a document applied to a layer."""

from __future__ import annotations

from aiohttp import web

from api.auth import client_of
from api.context import document_and_layer, materialise, resolve_revision, shown_layer
from api.errors import ApiError, request_id
from api.imports import apply_plan, plan_for, read_instant_json, refuse
from api.responses import REVISION_HEADER, json_response
from api.services import Services
from eventstore.commands import Rejected
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
    ``Annolog-Base-Revision`` (see ``projections.saves``)."""
    services, access, layer = await document_and_layer(request, creating=True)
    based = request.headers.get(BASE_REVISION_HEADER)
    base_revision, _ = await resolve_revision(
        services, {} if based is None else {"revision": based})
    await materialise(request, services, access, layer)
    document = await read_instant_json(request, services)
    plan = await plan_for(services, access, document, layer, whole=True)
    if plan.problems:
        raise refuse(plan.problems)
    saving = await services.run(_plan_save, services, access.row.document_id, layer, plan,
                                base_revision)
    for attachment in plan.attachments.values():
        if attachment.attachment_id in saving.attachments:
            await services.run(services.blobs.put_bytes, attachment.data)
    revision = 0
    if saving.commands:
        outcomes, revision = await services.write(saving.commands, request_id(request))
        for index, outcome in enumerate(outcomes):
            if isinstance(outcome, Rejected):
                unwritten(saving, index, outcome.error)
    body = {"data": {**saving.counts, "conflicts": saving.conflicts},
            "revision": revision or None}
    if saving.conflicts:
        body["error"] = {"reason": f"{len(saving.conflicts)} record(s) changed by someone "
                                   "else since the base revision were changed here too; "
                                   "theirs were kept (see data.conflicts), the rest was saved"}
    return json_response(body, revision=revision, status=409 if saving.conflicts else 200)


def _plan_save(services: Services, document_id: str, layer: str, plan: ImportPlan,
               base_revision: int | None) -> SavePlan:
    """Read the layer now (and at the base revision) and plan the save: in a worker
    thread, as it reads every record of the layer."""
    read_model = services.read_model
    theirs = layer_view(read_model, document_id, layer, None)
    base = None if base_revision is None else layer_view(read_model, document_id, layer,
                                                         base_revision)
    versions = {table: read_model.live_versions(document_id, layer, table)
                for table in ("annotations", "comments")}
    return plan_save(document_id, layer, plan, theirs, base, versions)
