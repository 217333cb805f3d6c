"""Layer routes: create a layer (empty, a copy of another at a revision, or from an Instant
JSON document) and delete one."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.bodies import parse_json, read_body
from api.context import document_access, document_and_layer, resolve_revision, write_all
from api.errors import ApiError
from api.imports import INSTANT_JSON_PART, apply_plan
from api.parsing import check_layer_name, json_object
from api.responses import REVISION_HEADER, json_response
from api.services import SERVICES, Services
from api.uploads import small_form
from eventstore.domain import DEFAULT_LAYER
from projections.replays import base_layer_commands, layer_copy_commands, layer_delete_commands

LAYER_FIELDS = ("name", "source_layer_name", "revision", "at")


async def _layer_form(request: web.Request, services: Services) -> dict[str, Any]:
    """The fields of a layer creation: a JSON body, or multipart with an instant.json part."""
    if not request.content_type.startswith("multipart/"):
        return json_object(await parse_json(await read_body(request, services), services))
    return await small_form(request, services, INSTANT_JSON_PART, LAYER_FIELDS)


async def create_layer(request: web.Request) -> web.Response:
    services = request.app[SERVICES]
    access = await document_access(request, request.match_info["document_id"])
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
    if source is None or (source != DEFAULT_LAYER and not await services.run(
            services.read_model.layer_exists, document_id, source)):
        # no source, or one that does not exist: the base layer, as the engine does
        copies = await services.run(base_layer_commands, services.read_model, document_id,
                                    name, await services.base_revision(access.row))
    else:
        copies = await services.run(layer_copy_commands, services.read_model, document_id,
                                    source, name, upto)
    instant = fields.get(INSTANT_JSON_PART)
    if instant is not None:
        revision, plan = await apply_plan(request, services, access, name, instant, copies)
        notes = plan.notes
    else:
        revision, notes = await write_all(request, services, copies), []
    return json_response({"data": {"name": name, "errors": notes}, "revision": revision},
                         revision=revision)


async def delete_layer(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request)
    await services.caught_up()
    commands = await services.run(layer_delete_commands, services.read_model,
                                  access.row.document_id, layer)
    revision = await write_all(request, services, commands)
    return web.Response(status=200, headers={REVISION_HEADER: str(revision)})
