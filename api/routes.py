"""One table of routes: registered with aiohttp and described in the OpenAPI document."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from api import annotations as annotation_routes  # "annotations" is also a __future__ name
from api import comments, confirmations, documents, downloads, history, instant_json, layers, sync
from api.auth import PUBLIC_PATHS, client_of
from api.context import PASSWORD_HEADER
from api.errors import ApiError
from api.instant_json import BASE_REVISION_HEADER
from api.openapi import (
    ANY_FILTER,
    MULTIPART,
    NOT_BOTH,
    ONE_SIDE,
    SOURCE_ALONE,
    build_openapi,
)
from api.parsing import whole_number
from api.services import SERVICES

DOC = "/api/documents/{document_id}"
LAYER = DOC + "/layers/{layer_name}"






@dataclass(frozen=True)
class Route:
    """A route, and what the OpenAPI document says of it: its request body (a name in
    ``api.openapi.JSON_BODIES``, or "pdf"), its 200 body (a schema or answer name), its
    query and header parameters, and the statuses beyond those its shape implies."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    summary: str
    answer: str | None = None
    body: str | None = None
    query: tuple[str, ...] = ()
    query_rule: dict[str, Any] | None = None  # a JSON Schema rule over the query as a whole
    headers: tuple[str, ...] = ()
    also: tuple[int, ...] = ()  # statuses its shape does not imply (409, 412, ...)
    extension: bool = False
    jwt: str | None = None  # the permission a client JWT needs here; None: server token only
    source_jwt: str | None = None  # the permission ``?source=true`` needs instead

    @property
    def authenticated(self) -> bool:
        return self.path not in PUBLIC_PATHS

    @property
    def statuses(self) -> tuple[int, ...]:
        """Every status this route can answer, derived from its shape."""
        found = {101 if self.path.endswith("/sync") else 200, *self.also}
        if self.authenticated:  # the token; Annolog-Min-Revision (400, 409, 503)
            found |= {400, 401, 409, 503}
        if "{document_id}" in self.path:
            found |= {403, 404}  # a JWT's scope or a PDF password; no such document
        if self.body is not None:
            found |= {408, 413, 422} | ({400} if self.body in MULTIPART else {415})
        return tuple(sorted(found))


def _both_layers(method: str, suffix: str, handler: Callable, summary: str,
                 **options: Any) -> list[Route]:
    """A route on the default layer and its twin under /layers/:layer_name/."""
    return [
        Route(method, DOC + suffix, handler, summary, **options),
        Route(method, LAYER + suffix, handler, summary + " (named layer)", **options),
    ]


async def healthcheck(request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(build_openapi(ROUTES))


MIN_REVISION_HEADER = "Annolog-Min-Revision"
ANY_ROUTE = (MIN_REVISION_HEADER,)  # headers every route takes
DOCUMENT_ROUTE = (PASSWORD_HEADER, MIN_REVISION_HEADER)  # and routes of a document
ROUTES: list[Route] = [
    Route("GET", "/healthcheck", healthcheck, "200 once the server is ready", "Health"),
    Route("GET", "/api/openapi.json", openapi_document, "This OpenAPI 3.1 document",
          "OpenApi"),
    Route("POST", "/api/documents", documents.upload_document,
          "Upload a PDF (application/pdf body, or multipart with file, document_id, title)",
          "Uploaded", body="pdf", headers=DOCUMENT_ROUTE, also=(403, 409, 415)),
    Route("POST", "/api/revoke", documents.revoke_tokens,
          "Revoke client JWTs by jti: {\"jwts\": [...]}", "Revoked", body="revoke",
          headers=ANY_ROUTE),
    Route("POST", "/api/copy_document", documents.copy_document,
          "Copy a document: the same PDF and the state of every layer, with its provenance",
          "Copied", body="copy", headers=ANY_ROUTE, also=(404, 409)),
    Route("GET", "/api/documents", documents.list_documents,
          "List documents (page_size, cursor, title, order_by, order_direction)",
          "DocumentList", query=("page_size", "cursor", "title", "order_by",
                                 "order_direction"), headers=ANY_ROUTE),
    Route("DELETE", "/api/documents", documents.delete_documents,
          "Delete every document the filters match (title, document_id, start_date, end_date; "
          "at least one)", "BulkDeleted",
          query=("title", "document_id", "start_date", "end_date"), query_rule=ANY_FILTER,
          headers=ANY_ROUTE),
    Route("GET", DOC + "/properties", documents.document_properties, "Document properties",
          "PropertiesAnswer", headers=DOCUMENT_ROUTE, jwt="read-document"),
    Route("GET", "/documents/{document_id}/cover", documents.cover_image,
          "The first page as PNG, 'width' or 'height' pixels (1..1024); no /api prefix",
          answer="png", query=("width", "height", "jwt"), query_rule=ONE_SIDE,
          headers=DOCUMENT_ROUTE,
          jwt="cover-image"),
    Route("DELETE", DOC, documents.delete_document,
          "Delete a document, its layers and annotations", headers=DOCUMENT_ROUTE),
    *_both_layers("GET", "/document_info", documents.document_info,
                  "Page count and page sizes", answer="DocumentInfo", headers=DOCUMENT_ROUTE,
                  jwt="read-document"),
    *_both_layers("GET", "/pdf", downloads.download_pdf,
                  "The PDF with the layer's annotations written in (at a revision or time), "
                  "flattened or not; or the original upload (source=true)", answer="pdf",
                  query=("source", "flatten", "annotations", "comments", "type", "revision",
                         "at"), query_rule={"allOf": [NOT_BOTH, SOURCE_ALONE]},
                  headers=DOCUMENT_ROUTE, jwt="download", source_jwt="read-document"),
    *_both_layers("GET", "/document.xfdf", downloads.export_xfdf,
                  "The layer's annotations as XFDF 3.0 (at a revision or time)", answer="xfdf",
                  query=("revision", "at"), query_rule=NOT_BOTH, headers=DOCUMENT_ROUTE,
                  jwt="read-document"),
    *_both_layers("POST", "/pdf", downloads.download_pdf_posted,
                  "The PDF as GET …/pdf gives it, the options in a JSON body", answer="pdf",
                  body="pdf-options", headers=DOCUMENT_ROUTE, jwt="download"),
    *_both_layers("POST", "/copy_with_instant_json", documents.copy_with_instant_json,
                  "A copy of the document with an Instant JSON document applied to the "
                  "layer (all or nothing); a JSON body makes a plain copy",
                  answer="CopiedWithInstantJson", body="copy-instant-json",
                  headers=DOCUMENT_ROUTE,
                  also=(409,)),
    *_both_layers("POST", "/pdf_with_instant_json", downloads.pdf_with_instant_json,
                  "The layer's PDF with an Instant JSON document applied; nothing is stored",
                  answer="pdf", body="instant-json", headers=DOCUMENT_ROUTE, jwt="download"),
    Route("GET", DOC + "/layers", documents.list_layers, "Names of the named layers", "Names",
          headers=DOCUMENT_ROUTE),
    Route("POST", DOC + "/layers", layers.create_layer,
          "Create a layer, from a source layer (at a revision or time: a snapshot) and/or "
          "an instant.json part", "LayerCreated", body="layer", headers=DOCUMENT_ROUTE,
          also=(409,)),
    Route("DELETE", LAYER, layers.delete_layer, "Delete a named layer and its annotations",
          headers=DOCUMENT_ROUTE),
    Route("GET", DOC + "/attachments/{attachment_id}", documents.get_attachment,
          "The bytes of an attachment the document holds", "attachment", headers=DOCUMENT_ROUTE,
          jwt="read-document"),
    *_both_layers("POST", "/annotations", annotation_routes.create_annotations,
                  "Create annotations (batch {annotations: [...]} or one {content})",
                  answer="CreatedOrBatch", body="annotations", headers=DOCUMENT_ROUTE,
                  also=(409,), jwt="write"),
    *_both_layers("PUT", "/annotations", annotation_routes.update_annotations,
                  "Update annotations (batch)", answer="Batch", body="updates",
                  headers=DOCUMENT_ROUTE, jwt="write"),
    *_both_layers("DELETE", "/annotations", annotation_routes.delete_annotations,
                  "Delete annotations by id, or \"all\"", body="ids", headers=DOCUMENT_ROUTE,
                  jwt="write"),
    *_both_layers("GET", "/annotations", annotation_routes.list_annotations,
                  "List annotations: JSON (first 1,000) or NDJSON (all, streamed)",
                  answer="records", headers=DOCUMENT_ROUTE, jwt="read-document"),
    *_both_layers("GET", "/pages/{page_index}/annotations",
                  annotation_routes.list_page_annotations, "List the annotations of one page",
                  answer="records", headers=DOCUMENT_ROUTE, jwt="read-document"),
    *_both_layers("GET", "/annotations/{annotation_id}", annotation_routes.get_annotation,
                  "One annotation", answer="Record", headers=DOCUMENT_ROUTE, jwt="read-document"),
    *_both_layers("PUT", "/annotations/{annotation_id}", annotation_routes.update_annotation,
                  "Update one annotation", answer="RecordWritten", body="update",
                  headers=(*DOCUMENT_ROUTE, "If-Match"), also=(412,), jwt="write"),
    *_both_layers("DELETE", "/annotations/{annotation_id}", annotation_routes.delete_annotation,
                  "Delete one annotation", headers=(*DOCUMENT_ROUTE, "If-Match"), also=(412,),
                  jwt="write"),
    *_both_layers("GET", "/annotations/{annotation_id}/comments", comments.list_comments,
                  "The comments of a root annotation (markup or comment marker), oldest first",
                  answer="CommentList", headers=DOCUMENT_ROUTE, jwt="read-document"),
    *_both_layers("POST", "/annotations/{annotation_id}/comments", comments.post_comments,
                  "Reply to a root annotation's thread: every comment of the request or none",
                  answer="CommentsPosted", body="comments", headers=DOCUMENT_ROUTE,
                  also=(409,), jwt="write"),
    *_both_layers("POST", "/comments", comments.create_thread,
                  "A root annotation with its first comments, in one write",
                  answer="ThreadCreated", body="thread", headers=DOCUMENT_ROUTE, also=(409,),
                  jwt="write"),
    *_both_layers("PUT", "/annotations/{annotation_id}/comments/{comment_id}",
                  comments.update_comment, "Change one comment's text (or group)",
                  answer="CommentWritten", body="comment", headers=DOCUMENT_ROUTE,
                  extension=True, jwt="write"),
    *_both_layers("DELETE", "/annotations/{annotation_id}/comments/{comment_id}",
                  comments.delete_comment, "Delete one comment (a comment marker goes with "
                  "its last comment)", answer="CommentDeleted", headers=DOCUMENT_ROUTE,
                  extension=True, jwt="write"),
    *_both_layers("GET", "/annotations/{annotation_id}/comments/{comment_id}/history",
                  comments.comment_history, "Every version of a comment: who, when, what",
                  answer="History", headers=DOCUMENT_ROUTE, extension=True,
                  jwt="read-document"),
    *_both_layers("GET", "/document.json", instant_json.export_instant_json,
                  "Instant JSON export (extensions: revision=N, at=<ISO 8601>)",
                  answer="InstantJson", query=("revision", "at", "annotation_version"),
                  query_rule=NOT_BOTH, headers=DOCUMENT_ROUTE, jwt="read-document"),
    *_both_layers("PUT", "/document.json", instant_json.save_instant_json,
                  "Save the layer whole (a viewer's export): only the difference is recorded, "
                  "merged with others' writes since Annolog-Base-Revision",
                  answer="Saved", body="instant-json",
                  headers=(*DOCUMENT_ROUTE, BASE_REVISION_HEADER), also=(409,),
                  extension=True, jwt="write"),
    *_both_layers("POST", "/apply_instant_json", instant_json.apply_instant_json,
                  "Apply an Instant JSON document (part instant.json) in one transaction",
                  answer="Imported", body="instant-json", headers=DOCUMENT_ROUTE),
    *_both_layers("GET", "/annotations/{annotation_id}/history",
                  history.annotation_history, "Every version of an annotation",
                  answer="History", headers=DOCUMENT_ROUTE, extension=True, jwt="read-document"),
    *_both_layers("GET", "/changes", history.layer_changes,
                  "The layer's changes after revision 'since', as NDJSON", answer="changes",
                  query=("since",), headers=DOCUMENT_ROUTE, extension=True, jwt="read-document"),
    *_both_layers("POST", "/annotations/{annotation_id}/restore",
                  history.restore_annotation, "Undelete an annotation (appends events)",
                  answer="RecordWritten", headers=DOCUMENT_ROUTE, also=(409,), extension=True),
    *_both_layers("GET", "/sync", sync.sync_layer,
                  "Live sync over WebSocket: changes after 'revision', then live; send "
                  "changes, get confirmations", query=("revision",), headers=DOCUMENT_ROUTE,
                  extension=True, jwt="read-document"),
    *_both_layers("POST", "/confirmations", confirmations.confirm,
                  "Wait until changes accepted before the call are persisted; return the "
                  "latest persisted records", answer="Confirmations", body="confirm",
                  headers=DOCUMENT_ROUTE, extension=True, jwt="read-document"),
    *_both_layers("POST", "/restore", history.restore_layer,
                  "Revert the layer to a revision or time (appends events)",
                  answer="Restored", body="restore", headers=DOCUMENT_ROUTE, extension=True),
]


def paths_of(route: Route) -> tuple[str, str]:
    """A route's path, and the same with a trailing slash: Document Engine's router ignores
    empty path segments and clients use both (``GET …/layers/``). Both are served, with no
    redirect, since clients POST and DELETE too."""
    return route.path, route.path + "/"


def setup_routes(app: web.Application) -> None:
    # aiohttp tries the resources under /api/documents one by one in the order they were
    # added (26 µs of a read's CPU when a busy route came late): the annotation routes,
    # which carry nearly all traffic, go first, and the trailing-slash twins last.
    busy_first = sorted(ROUTES, key=lambda route: "/annotations" not in route.path)
    # The methods of one path added one after another share one resource (aiohttp makes a
    # new one otherwise), which a CORS preflight needs to find every method of the path.
    place: dict[str, int] = {}
    for route in busy_first:
        place.setdefault(route.path, len(place))
    grouped = sorted(busy_first, key=lambda route: place[route.path])
    for slash in (False, True):
        for route in grouped:
            app.router.add_route(route.method, paths_of(route)[slash], route.handler)


ROUTE_OF = {(route.method, path): route for route in ROUTES for path in paths_of(route)}


@web.middleware
async def client_scope_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """A client JWT reaches only its document and layer, through the routes its permissions
    open, and never once revoked. Every caller's query names only what the route takes."""
    client = client_of(request)
    if client is None and not request.query_string:
        return await handler(request)
    resource = request.match_info.route.resource
    route = ROUTE_OF.get((request.method, resource.canonical)) if resource else None
    if route is None:
        return await handler(request)  # an unknown path: the router's own 404 or 405
    check_query_names(request, route)
    if client is None:
        return await handler(request)
    needed = route.jwt
    if route.source_jwt is not None and request.query.get("source") == "true":
        needed = route.source_jwt  # the PDF a viewer displays, not a download of the layer
    if needed is None:
        raise ApiError(403, f"{request.method} {route.path} needs the server token; a client "
                            "JWT cannot use it")
    if needed not in client.permissions:
        raise ApiError(403, f"the JWT lacks the '{needed}' permission this route needs")
    if request.match_info.get("document_id") != client.document_id:
        raise ApiError(403, "the JWT is for another document (its `document_id` claim)")
    layer = request.match_info.get("layer_name", "")
    if layer != client.layer:
        pinned = f"layer {client.layer!r}" if client.layer else "the default layer"
        raise ApiError(403, f"the JWT is pinned to {pinned} (its `layer` claim)")
    if await request.app[SERVICES].is_revoked(client.jti):
        raise ApiError(401, "this JWT has been revoked")
    return await handler(request)


EVERY_ROUTE_QUERY = ("jwt", "min_revision")  # a client JWT; Annolog-Min-Revision's twin


def check_query_names(request: web.Request, route: Route) -> None:
    """An unknown query parameter is refused rather than ignored: a misspelt
    ``revison=3`` would otherwise show the current state as if it were revision 3."""
    for name in request.query:
        if name not in route.query and name not in EVERY_ROUTE_QUERY:
            known = ", ".join(route.query) or "none"
            raise ApiError(400, f"unknown query parameter {name[:40]!r} (this route takes: "
                                f"{known})")


@web.middleware
async def min_revision_middleware(request: web.Request, handler: Any
                                  ) -> web.StreamResponse:
    """Read your writes through any process: ``Annolog-Min-Revision: N`` (or
    ``?min_revision=N``) waits until this process's read model holds revision N."""
    wanted = request.headers.get(MIN_REVISION_HEADER, request.query.get("min_revision"))
    if wanted is not None:  # present but empty is malformed (400), not absent
        revision = whole_number(wanted, MIN_REVISION_HEADER)
        services = request.app[SERVICES]
        if revision > services.waiter.position:
            latest = await services.run(services.log.max_revision)
            if revision > latest:  # it may never come: say so now rather than wait
                raise ApiError(409, f"{MIN_REVISION_HEADER} {revision} is beyond the log's "
                                    f"current revision {latest}")
        if not await services.waiter.wait_for(revision, services.settings.write_timeout):
            raise ApiError(503, f"this process's read model is at revision "
                                f"{services.waiter.position}, behind {wanted}; retry")
    return await handler(request)
