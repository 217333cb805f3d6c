"""One table of routes: registered with aiohttp and described in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from api import annotations, documents, replays, sync
from api.auth import client_of
from api.errors import ApiError
from api.openapi import build_openapi
from api.parsing import whole_number
from api.services import SERVICES

DOC = "/api/documents/{document_id}"
LAYER = DOC + "/layers/{layer_name}"


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    statuses: tuple[int, ...] = (200, 401, 404)
    body: str | None = None  # "json", "annotations" (JSON or multipart) or "pdf"
    streams: bool = False
    extension: bool = False
    jwt: str | None = None  # the permission a client JWT needs here; None: server token only


def _both_layers(method: str, suffix: str, handler: Callable, summary: str,
                 **options: object) -> list[Route]:
    """A route on the default layer and its twin under /layers/:layer_name/."""
    return [
        Route(method, DOC + suffix, handler, summary, **options),
        Route(method, LAYER + suffix, handler, summary + " (named layer)", **options),
    ]


async def healthcheck(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(build_openapi(ROUTES))


WRITE = (200, 401, 403, 404, 413, 415, 422, 503)
ROUTES: list[Route] = [
    Route("GET", "/healthcheck", healthcheck, "200 once the server is ready", (200,)),
    Route("GET", "/api/openapi.json", openapi_document, "This OpenAPI 3.1 document", (200,)),
    Route("POST", "/api/documents", documents.upload_document,
          "Upload a PDF (application/pdf body, or multipart with file, document_id, title)",
          (200, 400, 401, 403, 409, 413, 415, 422, 503), body="pdf"),
    Route("POST", "/api/revoke", documents.revoke_tokens,
          "Revoke client JWTs by jti: {\"jwts\": [...]}", (200, 401, 422, 503), body="json"),
    Route("GET", "/api/documents", documents.list_documents,
          "List documents (page_size, cursor, title, order_by, order_direction)",
          (200, 400, 401)),
    Route("GET", DOC + "/properties", documents.document_properties, "Document properties",
          jwt="read-document"),
    Route("DELETE", DOC, documents.delete_document,
          "Delete a document, its layers and annotations", (200, 401, 403, 404, 503)),
    *_both_layers("GET", "/document_info", documents.document_info,
                  "Page count and page sizes", statuses=(200, 401, 403, 404), jwt="read-document"),
    *_both_layers("GET", "/pdf", documents.download_pdf,
                  "The original PDF (source=true)", statuses=(200, 400, 401, 403, 404),
                  jwt="download"),
    Route("GET", DOC + "/layers", documents.list_layers, "Names of the named layers"),
    Route("POST", DOC + "/layers", replays.create_layer,
          "Create a layer, from a source layer (at a revision or time: a snapshot) and/or "
          "an instant.json part", (200, 400, 401, 403, 404, 409, 413, 422, 503), body="json"),
    Route("DELETE", LAYER, replays.delete_layer, "Delete a named layer and its annotations",
          (200, 400, 401, 403, 404, 503)),
    Route("GET", DOC + "/attachments/{attachment_id}", documents.get_attachment,
          "The bytes of an attachment the document holds", (200, 401, 403, 404),
          jwt="read-document"),
    *_both_layers("POST", "/annotations", annotations.create_annotations,
                  "Create annotations (batch {annotations: [...]} or one {content})",
                  statuses=WRITE, body="annotations", jwt="write"),
    *_both_layers("PUT", "/annotations", annotations.update_annotations,
                  "Update annotations (batch)", statuses=WRITE, body="annotations", jwt="write"),
    *_both_layers("DELETE", "/annotations", annotations.delete_annotations,
                  "Delete annotations by id, or \"all\"", statuses=WRITE, body="json", jwt="write"),
    *_both_layers("GET", "/annotations", annotations.list_annotations,
                  "List annotations: JSON (first 1,000) or NDJSON (all, streamed)",
                  statuses=(200, 401, 403, 404), streams=True, jwt="read-document"),
    *_both_layers("GET", "/pages/{page_index}/annotations",
                  annotations.list_page_annotations, "List the annotations of one page",
                  statuses=(200, 401, 403, 404), streams=True, jwt="read-document"),
    *_both_layers("GET", "/annotations/{annotation_id}", annotations.get_annotation,
                  "One annotation", statuses=(200, 401, 403, 404), jwt="read-document"),
    *_both_layers("PUT", "/annotations/{annotation_id}", annotations.update_annotation,
                  "Update one annotation", statuses=WRITE, body="annotations", jwt="write"),
    *_both_layers("DELETE", "/annotations/{annotation_id}", annotations.delete_annotation,
                  "Delete one annotation", statuses=(200, 401, 403, 404, 503), jwt="write"),
    *_both_layers("GET", "/document.json", replays.export_instant_json,
                  "Instant JSON export (extensions: revision=N, at=<ISO 8601>)",
                  statuses=(200, 400, 401, 403, 404), jwt="read-document"),
    *_both_layers("POST", "/apply_instant_json", replays.apply_instant_json,
                  "Apply an Instant JSON document (part instant.json) in one transaction",
                  statuses=(200, 400, 401, 403, 404, 413, 422, 503), body="json"),
    *_both_layers("GET", "/annotations/{annotation_id}/history",
                  replays.annotation_history, "Every version of an annotation",
                  statuses=(200, 401, 403, 404), extension=True, jwt="read-document"),
    *_both_layers("GET", "/changes", replays.layer_changes,
                  "The layer's changes after revision 'since', as NDJSON",
                  statuses=(200, 400, 401, 403, 404), streams=True, extension=True,
                  jwt="read-document"),
    *_both_layers("POST", "/annotations/{annotation_id}/restore",
                  replays.restore_annotation, "Undelete an annotation (appends events)",
                  statuses=(200, 401, 403, 404, 409, 503), extension=True),
    *_both_layers("GET", "/sync", sync.sync_layer,
                  "Live sync over WebSocket: changes after 'revision', then live; send "
                  "changes, get confirmations", statuses=(101, 400, 401, 403, 404),
                  extension=True, jwt="read-document"),
    *_both_layers("POST", "/confirmations", sync.confirm,
                  "Wait until changes accepted before the call are persisted; return the "
                  "latest persisted records", statuses=(200, 401, 403, 404, 422, 503),
                  body="json", extension=True, jwt="read-document"),
    *_both_layers("POST", "/restore", replays.restore_layer,
                  "Revert the layer to a revision or time (appends events)",
                  statuses=(200, 400, 401, 403, 404, 503), body="json", extension=True),
]


def setup_routes(app: web.Application) -> None:
    for route in ROUTES:
        app.router.add_route(route.method, route.path, route.handler)


ROUTE_OF = {(route.method, route.path): route for route in ROUTES}


@web.middleware
async def client_scope_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """A client JWT reaches only its document and layer, through the routes its permissions
    open, and never once revoked."""
    client = client_of(request)
    if client is None:
        return await handler(request)
    resource = request.match_info.route.resource
    route = ROUTE_OF.get((request.method, resource.canonical)) if resource else None
    if route is None:
        return await handler(request)  # an unknown path: the router's own 404 or 405
    if route.jwt is None:
        raise ApiError(403, f"{request.method} {route.path} needs the server token; a client "
                            "JWT cannot use it")
    if route.jwt not in client.permissions:
        raise ApiError(403, f"the JWT lacks the '{route.jwt}' permission this route needs")
    if request.match_info.get("document_id") != client.document_id:
        raise ApiError(403, "the JWT is for another document (its `document_id` claim)")
    layer = request.match_info.get("layer_name", "")
    if layer != client.layer:
        pinned = f"layer {client.layer!r}" if client.layer else "the default layer"
        raise ApiError(403, f"the JWT is pinned to {pinned} (its `layer` claim)")
    if await request.app[SERVICES].is_revoked(client.jti):
        raise ApiError(401, "this JWT has been revoked")
    return await handler(request)


MIN_REVISION_HEADER = "Annolog-Min-Revision"


@web.middleware
async def min_revision_middleware(request: web.Request, handler: Any
                                  ) -> web.StreamResponse:
    """Read your writes through any process: ``Annolog-Min-Revision: N`` (or
    ``?min_revision=N``) waits until this process's read model holds revision N."""
    wanted = request.headers.get(MIN_REVISION_HEADER) or request.query.get("min_revision")
    if wanted is not None:
        revision = whole_number(wanted, MIN_REVISION_HEADER)
        services = request.app[SERVICES]
        if not await services.waiter.wait_for(revision, services.settings.write_timeout):
            raise ApiError(503, f"this process's read model is at revision "
                                f"{services.waiter.position}, behind {wanted}; retry")
    return await handler(request)
