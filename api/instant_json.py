"""Instant JSON routes: a layer exported at any revision, and a document applied to a layer."""

from __future__ import annotations

from aiohttp import web

from api.auth import client_of
from api.context import document_and_layer, materialise, resolve_revision, shown_layer
from api.errors import ApiError
from api.imports import apply_plan, read_instant_json
from api.responses import REVISION_HEADER, json_response
from projections.replays import import_counts, instant_json_of


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
