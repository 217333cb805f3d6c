"""Annotation routes of the seed API, for the default layer and under /layers/:layer_name/."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from functools import partial
from typing import Any, TypeVar

import orjson
from aiohttp import web

from api.auth import client_of
from api.bodies import read_json
from api.clients import Client
from api.context import (
    DocumentAccess,
    as_client,
    create_command,
    document_and_layer,
    materialise,
    shown_layer,
    update_command,
)
from api.errors import ApiError, request_id, status_of
from api.parsing import (
    AnnotationInput,
    Batch,
    failing_path,
    if_match,
    json_object,
    parse_batch,
    parse_delete_ids,
    parse_item,
    whole_number,
)
from api.responses import (
    NDJSON,
    empty_response,
    encode_with_list,
    json_bytes_response,
    json_response,
)
from api.services import Services
from api.uploads import AnnotationRequest, annotation_request
from eventstore.commands import (
    Accepted,
    DeleteAnnotation,
    NewAttachment,
    Outcome,
    Rejected,
)
from eventstore.domain import DEFAULT_LAYER
from eventstore.errors import ForbiddenError, StaleVersionError
from eventstore.validation import ContentError

T = TypeVar("T")
JSON_LIMIT = 1000
NDJSON_PAGE = 1000


DETAILS = {
    ("created", "success"): "All the provided annotations were successfully created.",
    ("created", "partial_failure"): "Some of the provided annotations could not be created.",
    ("created", "failure"): "None of the provided annotations could be created.",
    ("updated", "success"): "All the provided annotations were successfully updated.",
    ("updated", "partial_failure"): "Some of the provided annotations could not be updated.",
    ("updated", "failure"): "None of the provided annotations could be updated.",
}


async def _batch_response(request: web.Request, services: Services, verb: str, batch: Batch,
                          outcomes: list[Outcome], revision: int) -> web.Response:
    body = await per_item(services, len(batch.items), _batch_body, verb, batch, outcomes,
                          revision, client_of(request), request_id(request))
    return json_bytes_response(body, revision=revision)


def _batch_body(verb: str, batch: Batch, outcomes: list[Outcome], revision: int,
                client: Client | None, request_id: str) -> bytes:
    data, failing = [], list(batch.failing)
    for (index, _), outcome in zip(batch.items, outcomes, strict=True):
        if isinstance(outcome, Accepted):
            data.append(client.decorate(outcome.result) if client else outcome.result)
        else:
            failing.append(failing_path(index, str(outcome.error)))
            if isinstance(outcome.error, StaleVersionError):
                failing[-1]["current"] = outcome.error.current
    failing.sort(key=lambda f: int(f["path"][len("$.annotations["):-1]))
    result = "success" if not failing else "partial_failure" if data else "failure"
    return encode_with_list("data", data, {
        "details": DETAILS[(verb, result)],
        "failing_paths": failing,
        "request_id": request_id,
        "result": result,
        "status": 200,
        "revision": revision or None,
    })


OFF_LOOP_ITEMS = 200  # per-item work of larger batches runs in a thread


async def per_item(services: Services, count: int, function: Callable[..., T], *args: Any
                   ) -> T:
    """Work done for each item of a batch: in a thread when there are many, which shares
    the interpreter lock every few milliseconds, so the event loop keeps serving (on the
    loop, 40,000 items held it for a quarter of a second)."""
    if count > OFF_LOOP_ITEMS:
        return await services.run(function, *args)
    return function(*args)


async def _parse_batch(request: web.Request, services: Services, body: dict[str, Any],
                       access: DocumentAccess, *, id_required: bool) -> Batch:
    items = body.get("annotations")
    return await per_item(services, len(items) if isinstance(items, list) else 0,
                          _checked_batch, body, access.page_count, id_required,
                          services.settings.max_batch, client_of(request))


def _checked_batch(body: dict[str, Any], page_count: int | None, id_required: bool,
                   max_batch: int, client: Client | None) -> Batch:
    batch = parse_batch(body, page_count=page_count, id_required=id_required,
                        max_batch=max_batch)
    return batch if client is None else _for_client(client, batch, creating=not id_required)


def _for_client(client: Client, batch: Batch, *, creating: bool) -> Batch:
    """Items as a JWT caller may send them; the others become failing paths."""
    allowed = Batch(failing=list(batch.failing))
    for index, item in batch.items:
        try:
            allowed.items.append((index, as_client(client, item, creating=creating)))
        except ForbiddenError as error:
            allowed.fail(index, str(error))
    return allowed


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


async def create_annotations(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request, creating=True)
    await materialise(request, services, access, layer)
    async with annotation_request(request, services) as sent:
        body = json_object(sent.body)
        if "annotations" not in body:
            if "content" not in body:
                raise ApiError(422, 'the body must be {"annotations": [...]} or one '
                                    'annotation {"content": {...}}')
            return await _create_one(request, services, access, layer, body, sent)
        written = await _write_batch(request, services, access, layer, body, sent,
                                     create_command)
    return await _batch_response(request, services, "created", *written)


async def _write_batch(request: web.Request, services: Services, access: DocumentAccess,
                       layer: str, body: dict[str, Any], sent: AnnotationRequest,
                       make: Callable[..., Any]) -> tuple[Batch, list[Outcome], int]:
    """Check a batch, bring the attachments its good items name, and write their commands
    (``make`` builds one: a create or an update)."""
    batch = await _parse_batch(request, services, body, access,
                               id_required=make is update_command)
    brought = await _bring_attachments(services, sent, [i for _, i in batch.items])
    commands = await per_item(services, len(batch.items), _commands, make,
                              access.row.document_id, layer, batch, brought,
                              client_of(request))
    outcomes, revision = await services.write(commands, request_id(request))
    return batch, outcomes, revision


def _commands(make: Callable[..., Any], document_id: str, layer: str, batch: Batch,
              brought: dict[str, NewAttachment], client: Client | None) -> list[Any]:
    return [make(document_id, layer, item, client, brought) for _, item in batch.items]


async def _create_one(request: web.Request, services: Services, access: DocumentAccess,
                      layer: str, body: dict[str, Any], sent: AnnotationRequest
                      ) -> web.Response:
    client = client_of(request)
    item = parse_item(body, page_count=access.page_count, id_required=False)
    if client is not None:
        item = as_client(client, item, creating=True)
    brought = await _bring_attachments(services, sent, [item])
    command = create_command(access.row.document_id, layer, item, client, brought)
    _, revision = await _write_one(services, command, request)
    return json_response({"data": {"annotation_id": item.annotation_id}, "revision": revision},
                         revision=revision)


async def _write_one(services: Services, command: Any,
                     request: web.Request) -> tuple[Accepted, int]:
    outcomes, revision = await services.write([command], request_id(request))
    outcome = outcomes[0]
    if isinstance(outcome, Rejected):
        raise ApiError(status_of(outcome.error), str(outcome.error),
                       current=getattr(outcome.error, "current", None))
    return outcome, revision


async def update_annotations(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request)
    await materialise(request, services, access, layer)
    async with annotation_request(request, services) as sent:
        body = json_object(sent.body)
        written = await _write_batch(request, services, access, layer, body, sent,
                                     update_command)
    return await _batch_response(request, services, "updated", *written)


async def update_annotation(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request)
    await materialise(request, services, access, layer)
    async with annotation_request(request, services) as sent:
        body = json_object(sent.body)
        try:
            item = parse_item(body, page_count=access.page_count, id_required=True,
                              path_id=request.match_info["annotation_id"])
        except ContentError as error:
            raise ApiError(422, str(error)) from None
        client = client_of(request)
        if client is not None:
            item = as_client(client, item, creating=False)
        base = if_match(request.headers.get("If-Match"))
        if base is not None:
            item = replace(item, base_version=base)
        brought = await _bring_attachments(services, sent, [item])
        command = update_command(access.row.document_id, layer, item, client, brought)
        outcome, revision = await _write_one(services, command, request)
    result = client.decorate(outcome.result) if client else outcome.result
    response = json_response({"data": result, "revision": revision or None}, revision=revision)
    response.headers["ETag"] = f'"{outcome.version}"'
    return response


async def delete_annotations(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request)
    await materialise(request, services, access, layer)
    ids = parse_delete_ids(await read_json(request, services), services.settings.max_batch)
    document_id = access.row.document_id
    client = client_of(request)
    everything = ids is None
    if everything:  # "all": what the read model holds once it shows every committed write
        await services.caught_up()
        ids = await services.run(services.read_model.live_annotation_ids, document_id, layer)
    assert ids is not None  # parse_delete_ids gives None only for "all"
    guard = client.delete_guard() if client else None
    commands = [DeleteAnnotation(document_id, layer, annotation_id, missing_ok=True,
                                 guard=guard) for annotation_id in ids]
    # A JWT caller's "all" is all it may delete; its explicit ids are all or nothing.
    atomic = client is not None and not everything
    outcomes, revision = await services.write(commands, request_id(request), atomic=atomic)
    if atomic:
        forbidden = [o.error for o in outcomes
                     if isinstance(o, Rejected) and isinstance(o.error, ForbiddenError)]
        if forbidden:
            raise ApiError(403, f"{forbidden[0]}; nothing was deleted")
    return empty_response(revision)


async def delete_annotation(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request)
    await materialise(request, services, access, layer)
    client = client_of(request)
    command = DeleteAnnotation(access.row.document_id, layer,
                               request.match_info["annotation_id"],
                               guard=client.delete_guard() if client else None,
                               base_version=if_match(request.headers.get("If-Match")))
    _, revision = await _write_one(services, command, request)
    return empty_response(revision)


async def get_annotation(request: web.Request) -> web.Response:
    services, access, layer = await document_and_layer(request)
    annotation_id = request.match_info["annotation_id"]
    shown, upto = await shown_layer(services, access, layer, None)
    found = await services.run(services.read_model.annotation_version,
                               access.row.document_id, shown, annotation_id, upto)
    record, version = found if found else (None, 0)
    client = client_of(request)
    if record is not None and client is not None:
        visible = _for_client_records(client, [record.decode()])
        record = visible[0] if visible else None
    if record is None:
        raise ApiError(404, f"no annotation with id {annotation_id!r} in this layer")
    return web.Response(body=record, content_type="application/json",
                        headers={"ETag": f'"{version}"'})


def _for_client_records(client: Client, records: list[str]) -> list[bytes]:
    """The records a JWT caller may view, with its isEditable/isDeletable/canSetGroup."""
    parsed = (orjson.loads(r) for r in records)
    return [orjson.dumps(client.decorate(r)) for r in parsed if client.sees(r)]


async def list_annotations(request: web.Request) -> web.StreamResponse:
    services, access, layer = await document_and_layer(request)
    return await _respond_with_records(request, services, access, layer, page_index=None)


async def list_page_annotations(request: web.Request) -> web.StreamResponse:
    services, access, layer = await document_and_layer(request)
    raw = request.match_info["page_index"]
    page_count = access.page_count
    page_index = whole_number(raw, "'page_index'", status=404)
    if page_count is not None and page_index >= page_count:
        raise ApiError(404, "Parameter 'page_index' is invalid or out of bounds.")
    return await _respond_with_records(request, services, access, layer, page_index=page_index)


def wants_ndjson(request: web.Request) -> bool:
    return NDJSON in request.headers.get("Accept", "")


async def _respond_with_records(request: web.Request, services: Services,
                                access: DocumentAccess, layer: str,
                                page_index: int | None) -> web.StreamResponse:
    client = client_of(request)
    shown, base = await shown_layer(services, access, layer, None)
    if shown != layer:  # a named layer never written: the base layer's records
        return await _respond_with_base(request, services, access, base, page_index, client)
    if not wants_ndjson(request):
        question, generation = services.answer_key(access.row, "list", layer, page_index)
        cached = services.answers.get(question, generation) if client is None else None
        if cached is not None:
            return web.Response(body=cached, content_type="application/json")
        records: list[bytes] = []
        async for page in _pages(services, access, layer, page_index, client, inline=True):
            records.extend(page)
            if len(records) > JSON_LIMIT:
                break
        body = _json_list(records)
        if client is None:
            services.answers.put(question, generation, body)
        return web.Response(body=body, content_type="application/json")
    response = web.StreamResponse(headers={"Content-Type": NDJSON})
    await response.prepare(request)
    async for page in _pages(services, access, layer, page_index, client):
        if page:
            await response.write(b"\n".join(page) + b"\n")
    await response.write_eof()
    return response


def _json_list(records: list[bytes]) -> bytes:
    """The JSON answer of a list: the first 1,000 records, and whether more were left."""
    truncated = b"true" if len(records) > JSON_LIMIT else b"false"
    return (b'{"data":{"annotations":[' + b",".join(records[:JSON_LIMIT])
            + b'],"truncated":' + truncated + b"}}")


async def _respond_with_base(request: web.Request, services: Services, access: DocumentAccess,
                             base: int | None, page_index: int | None,
                             client: Client | None) -> web.Response:
    """The base layer's records (the default layer at revision ``base``), as a list answers
    them; a base is the PDF's own annotations, so it is read whole."""
    rows = await services.run(services.read_model.layer_state, access.row.document_id,
                              DEFAULT_LAYER, base)
    if page_index is not None:
        rows = [r for r in rows if orjson.loads(r)["content"].get("pageIndex") == page_index]
    records = [r.encode() for r in rows] if client is None else _for_client_records(client,
                                                                                  rows)
    if wants_ndjson(request):
        return web.Response(body=b"".join(r + b"\n" for r in records),
                            headers={"Content-Type": NDJSON})
    return web.Response(body=_json_list(records), content_type="application/json")


async def _pages(services: Services, access: DocumentAccess, layer: str,
                 page_index: int | None, client: Client | None, *, inline: bool = False
                 ) -> AsyncIterator[list[bytes]]:
    """The layer's records page by page from the read model, as a caller may see them.
    ``inline`` reads on the event loop: right for a JSON answer (a page or two of at most
    1,000 indexed rows, 30 µs for 50), where a hop to a reader thread costs more than the
    query and makes the loop wait for the GIL; a stream of any length uses the threads."""
    after = 0
    while True:
        fetch = partial(services.read_model.annotation_page, access.row.document_id, layer,
                        after=after, limit=NDJSON_PAGE, page_index=page_index)
        rows = fetch() if inline else await services.run(fetch)
        if not rows:
            return
        records = [r[1] for r in rows]
        yield ([r.encode() for r in records] if client is None
               else _for_client_records(client, records))
        if len(rows) < NDJSON_PAGE:
            return  # the last page: no query to learn that nothing follows
        after = rows[-1][0]
