"""Annotation routes of the seed API, for the default layer and under /layers/:layer_name/."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from api.errors import ApiError, request_id, status_of
from api.responses import empty_response, json_response
from api.parsing import (
    AnnotationInput,
    Batch,
    failing_path,
    json_object,
    layer_name,
    parse_batch,
    parse_delete_ids,
    parse_item,
    read_json,
)
from api.services import SERVICES, DocumentAccess, Services
from api.uploads import AnnotationRequest, annotation_request
from api.validation import ContentError
from eventstore.commands import (
    Accepted,
    CreateAnnotation,
    DeleteAnnotation,
    NewAttachment,
    Outcome,
    Rejected,
    UpdateAnnotation,
)

JSON_LIMIT = 1000
NDJSON_PAGE = 1000
NDJSON = "application/x-ndjson"


async def _document(request: web.Request) -> tuple[Services, DocumentAccess, str]:
    services = request.app[SERVICES]
    layer = layer_name(request)
    access = await services.document_access(request, request.match_info["document_id"])
    return services, access, layer


DETAILS = {
    ("created", "success"): "All the provided annotations were successfully created.",
    ("created", "partial_failure"): "Some of the provided annotations could not be created.",
    ("created", "failure"): "None of the provided annotations could be created.",
    ("updated", "success"): "All the provided annotations were successfully updated.",
    ("updated", "partial_failure"): "Some of the provided annotations could not be updated.",
    ("updated", "failure"): "None of the provided annotations could be updated.",
}


def _batch_response(request: web.Request, verb: str, batch: Batch,
                    outcomes: list[Outcome], revision: int) -> web.Response:
    data, failing = [], list(batch.failing)
    for (index, _), outcome in zip(batch.items, outcomes):
        if isinstance(outcome, Accepted):
            data.append(outcome.result)
        else:
            failing.append(failing_path(index, str(outcome.error)))
    failing.sort(key=lambda f: int(f["path"][len("$.annotations["):-1]))
    result = "success" if not failing else "partial_failure" if data else "failure"
    return json_response({
        "data": data,
        "details": DETAILS[(verb, result)],
        "failing_paths": failing,
        "request_id": request_id(request),
        "result": result,
        "status": 200,
        "revision": revision or None,
    }, revision=revision)


OFF_LOOP_ITEMS = 200  # larger batches are validated in a thread so the loop keeps serving


async def _parse_batch(services: Services, body: dict[str, Any], access: DocumentAccess, *,
                       id_required: bool) -> Batch:
    options = {"page_count": access.page_count, "id_required": id_required,
               "max_batch": services.settings.max_batch}
    items = body.get("annotations")
    if isinstance(items, list) and len(items) > OFF_LOOP_ITEMS:
        return await services.run(parse_batch, body, **options)
    return parse_batch(body, **options)


async def _bring_attachments(services: Services, sent: AnnotationRequest,
                             items: list[AnnotationInput]) -> dict[str, NewAttachment]:
    """Move the sent attachments that valid items reference into the blob store (before
    any event names them); the others are dropped with the request's temporary files."""
    referenced = {r for item in items for r in item.references}
    brought = {}
    for attachment_id in sorted(referenced & sent.attachments.keys()):
        received, content_type = sent.attachments[attachment_id]
        await services.run(services.blobs.commit, received.path, attachment_id)
        brought[attachment_id] = NewAttachment(attachment_id, content_type, received.size)
    return brought


def _attachment_fields(item: AnnotationInput, brought: dict[str, NewAttachment]
                       ) -> dict[str, Any]:
    return {"references": item.references,
            "attachments": tuple(brought[r] for r in item.references if r in brought)}


def _create_command(document_id: str, layer: str, item: AnnotationInput,
                    brought: dict[str, NewAttachment]) -> CreateAnnotation:
    return CreateAnnotation(document_id, layer, item.annotation_id, item.content, item.group,
                            item.user_id, **_attachment_fields(item, brought))


def _update_command(document_id: str, layer: str, item: AnnotationInput,
                    brought: dict[str, NewAttachment]) -> UpdateAnnotation:
    return UpdateAnnotation(document_id, layer, item.annotation_id, item.content, item.user_id,
                            group=item.group, keep_group=not item.has_group,
                            **_attachment_fields(item, brought))


async def create_annotations(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    async with annotation_request(request, services) as sent:
        body = json_object(sent.body)
        if "annotations" not in body:
            if "content" not in body:
                raise ApiError(422, 'the body must be {"annotations": [...]} or one '
                                    'annotation {"content": {...}}')
            return await _create_one(request, services, access, layer, body, sent)
        batch = await _parse_batch(services, body, access, id_required=False)
        brought = await _bring_attachments(services, sent, [i for _, i in batch.items])
        commands = [_create_command(access.row.document_id, layer, item, brought)
                    for _, item in batch.items]
        outcomes, revision = await services.write(commands, request_id(request))
    return _batch_response(request, "created", batch, outcomes, revision)


async def _create_one(request: web.Request, services: Services, access: DocumentAccess,
                      layer: str, body: dict[str, Any], sent: AnnotationRequest
                      ) -> web.Response:
    item = parse_item(body, page_count=access.page_count, id_required=False)
    brought = await _bring_attachments(services, sent, [item])
    command = _create_command(access.row.document_id, layer, item, brought)
    _, revision = await _write_one(services, command, request)
    return json_response({"data": {"annotation_id": item.annotation_id}, "revision": revision},
                         revision=revision)


async def _write_one(services: Services, command: Any,
                     request: web.Request) -> tuple[Accepted, int]:
    outcomes, revision = await services.write([command], request_id(request))
    outcome = outcomes[0]
    if isinstance(outcome, Rejected):
        raise ApiError(status_of(outcome.error), str(outcome.error))
    return outcome, revision


async def update_annotations(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    async with annotation_request(request, services) as sent:
        body = json_object(sent.body)
        batch = await _parse_batch(services, body, access, id_required=True)
        brought = await _bring_attachments(services, sent, [i for _, i in batch.items])
        commands = [_update_command(access.row.document_id, layer, item, brought)
                    for _, item in batch.items]
        outcomes, revision = await services.write(commands, request_id(request))
    return _batch_response(request, "updated", batch, outcomes, revision)


async def update_annotation(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    async with annotation_request(request, services) as sent:
        body = json_object(sent.body)
        try:
            item = parse_item(body, page_count=access.page_count, id_required=True,
                              path_id=request.match_info["annotation_id"])
        except ContentError as error:
            raise ApiError(422, str(error)) from None
        brought = await _bring_attachments(services, sent, [item])
        outcome, revision = await _write_one(
            services, _update_command(access.row.document_id, layer, item, brought), request)
    return json_response({"data": outcome.result, "revision": revision}, revision=revision)


async def delete_annotations(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    ids = parse_delete_ids(await read_json(request), services.settings.max_batch)
    document_id = access.row.document_id
    if ids is None:  # "all": what the read model holds once it shows every committed write
        await services.caught_up()
        ids = await services.run(services.read_model.live_annotation_ids, document_id, layer)
    commands = [DeleteAnnotation(document_id, layer, annotation_id, missing_ok=True)
                for annotation_id in ids]
    _, revision = await services.write(commands, request_id(request))
    return empty_response(revision)


async def delete_annotation(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    command = DeleteAnnotation(access.row.document_id, layer,
                               request.match_info["annotation_id"])
    _, revision = await _write_one(services, command, request)
    return empty_response(revision)


async def get_annotation(request: web.Request) -> web.Response:
    services, access, layer = await _document(request)
    annotation_id = request.match_info["annotation_id"]
    record = await services.run(services.read_model.annotation, access.row.document_id,
                                 layer, annotation_id)
    if record is None:
        raise ApiError(404, f"no annotation with id {annotation_id!r} in this layer")
    return web.Response(body=record, content_type="application/json")


async def list_annotations(request: web.Request) -> web.StreamResponse:
    services, access, layer = await _document(request)
    return await _respond_with_records(request, services, access, layer, page_index=None)


async def list_page_annotations(request: web.Request) -> web.StreamResponse:
    services, access, layer = await _document(request)
    raw = request.match_info["page_index"]
    page_count = access.page_count
    if not raw.isdigit() or (page_count is not None and int(raw) >= page_count):
        raise ApiError(404, "Parameter 'page_index' is invalid or out of bounds.")
    return await _respond_with_records(request, services, access, layer, page_index=int(raw))


def wants_ndjson(request: web.Request) -> bool:
    return NDJSON in request.headers.get("Accept", "")


async def _respond_with_records(request: web.Request, services: Services,
                                access: DocumentAccess, layer: str,
                                page_index: int | None) -> web.StreamResponse:
    query = services.read_model.annotation_page
    document_id = access.row.document_id
    if not wants_ndjson(request):
        rows = await services.run(query, document_id, layer, limit=JSON_LIMIT + 1,
                                   page_index=page_index)
        truncated = b"true" if len(rows) > JSON_LIMIT else b"false"
        body = (b'{"data":{"annotations":[' + ",".join(r[1] for r in rows[:JSON_LIMIT]).encode()
                + b'],"truncated":' + truncated + b"}}")
        return web.Response(body=body, content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": NDJSON})
    await response.prepare(request)
    after = 0
    while rows := await services.run(query, document_id, layer, after=after,
                                      limit=NDJSON_PAGE, page_index=page_index):
        await response.write(("\n".join(r[1] for r in rows) + "\n").encode())
        after = rows[-1][0]
    await response.write_eof()
    return response
