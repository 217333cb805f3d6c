"""Persistence confirmations (extension): wait until every change accepted before the call
is persisted and projected, then answer each annotation's latest persisted state."""

from __future__ import annotations

from aiohttp import web

from api.auth import client_of
from api.bodies import read_json
from api.context import document_and_layer
from api.errors import ApiError
from api.parsing import json_object, parse_delete_ids
from api.responses import json_response


async def confirm(request: web.Request) -> web.Response:
    """Wait (up to ``timeout`` seconds) until every change accepted before this call is
    persisted and projected, then return the annotations' latest persisted state."""
    services, access, layer = await document_and_layer(request)
    body = json_object(await read_json(request, services))
    ids = parse_delete_ids({"annotationIds": body.get("annotationIds")},
                           services.settings.max_batch)
    if ids is None:
        raise ApiError(422, "'annotationIds' must list the ids to confirm")
    timeout = body.get("timeout", 10)
    if type(timeout) not in (int, float) or not 0 <= timeout <= 300:
        raise ApiError(422, "'timeout' must be a number of seconds from 0 to 300")
    target = await services.run(services.log.max_revision)
    if not await services.waiter.wait_for(target, timeout):
        raise ApiError(503, f"changes up to revision {target} were not projected within "
                            f"{timeout} s; try again")
    rows = await services.run(services.read_model.confirmations, access.row.document_id,
                              layer, ids)
    client = client_of(request)
    found = [r for r in rows if client is None or client.sees(r["record"])]
    missing = sorted(set(ids) - {r["id"] for r in found})
    return json_response({"data": found, "missing": missing, "revision": target})
