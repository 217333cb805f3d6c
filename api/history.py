"""History routes (extensions): an annotation's versions, a layer's change feed, and restores,
which append events (the log is never rewritten)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from api.auth import client_of
from api.bodies import read_json
from api.clients import Client
from api.context import document_and_layer, resolve_revision, write_all
from api.errors import ApiError
from api.parsing import json_object, whole_number
from api.responses import NDJSON, json_response
from projections.queries import content_type_of
from projections.replays import copy_command, layer_revert_commands

CHANGES_PAGE = 1000


async def annotation_history(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request)
    annotation_id = request.match_info["annotation_id"]
    changes = await services.run(services.read_model.history, access.row.document_id, layer,
                                 annotation_id)
    changes = _visible(client_of(request), changes)
    if not changes:
        raise ApiError(404, f"annotation {annotation_id!r} has no history in this layer")
    return json_response({"data": changes})


def _visible(client: Client | None, changes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Versions a JWT caller may view (each judged on its own record, as an annotation's or
    a comment's)."""
    return changes if client is None else [
        c for c in changes if client.sees(c["record"], content_type_of(c))]


async def layer_changes(request: web.Request) -> web.StreamResponse:
    services, access, layer = await document_and_layer(request)
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


async def restore_annotation(request: web.Request) -> web.Response:
    """Undelete: the annotation comes back as its last version before it was deleted."""
    services, access, layer = await document_and_layer(request)
    annotation_id = request.match_info["annotation_id"]
    await services.caught_up()
    history = await services.run(services.read_model.history, access.row.document_id, layer,
                                 annotation_id)
    if not history:
        raise ApiError(404, f"annotation {annotation_id!r} has no history in this layer")
    if history[-1]["kind"] != "deleted":
        raise ApiError(409, f"annotation {annotation_id!r} is not deleted")
    record = history[-1]["record"]
    revision = await write_all(request, services,
                               [copy_command(access.row.document_id, layer, record)])
    return json_response({"data": record, "revision": revision}, revision=revision)


async def restore_layer(request: web.Request) -> web.Response:
    """Revert a layer to its state at a revision (or time) by appending the differences."""
    services, access, layer = await document_and_layer(request)
    body = json_object(await read_json(request, services))
    upto, _ = await resolve_revision(services, body)
    if upto is None:
        raise ApiError(400, "give the 'revision' or 'at' to restore the layer to")
    commands = await services.run(layer_revert_commands, services.read_model,
                                  access.row.document_id, layer, upto)
    revision = await write_all(request, services, commands) if commands else 0
    return json_response({"data": {"changed": len(commands)}, "revision": revision or None},
                         revision=revision)
