"""Live sync over WebSocket (extension): a client catches up from a revision, then receives
each change of its layer as it is committed, and sends changes that are confirmed or rejected
one by one. The feeds live in the hub (``api.hub``)."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from ulid import ULID

from api.auth import SYNC_PROTOCOL, client_of
from api.clients import Client
from api.context import (
    DocumentAccess,
    as_client,
    create_command,
    document_and_layer,
    materialise,
    update_command,
)
from api.errors import REQUEST_ID_PATTERN, ApiError
from api.hub import HUB, SEND_TIMEOUT, Subscriber
from api.parsing import check_layer_name, parse_item, whole_number
from api.services import Services
from eventstore.commands import (
    Accepted,
    Command,
    DeleteAnnotation,
)
from eventstore.errors import DomainError
from eventstore.names import check_annotation_id
from eventstore.validation import ContentError

log = logging.getLogger(__name__)


async def sync_layer(request: web.Request) -> web.WebSocketResponse:
    services, access, layer = await document_and_layer(request)
    since = whole_number(request.query.get("revision", "0"),
                         "'revision' (the last revision the client has, 0 for all)")
    ws = web.WebSocketResponse(heartbeat=30, protocols=(SYNC_PROTOCOL,))
    await ws.prepare(request)
    hub = request.app[HUB]
    feed = hub.feed(access.row.document_id, layer)
    subscriber = Subscriber(ws, client_of(request), since,
                            asyncio.Queue(services.settings.sync_queue_size))
    await subscriber.deliver({"type": "hello", "clientId": subscriber.client_id})
    loop = asyncio.get_running_loop()
    sender = loop.create_task(_send(subscriber))
    joining = loop.create_task(hub.join(feed, subscriber))
    sender.add_done_callback(lambda _: joining.cancel())  # a gone client stops its catch-up
    hub.open(subscriber)
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT:  # aiohttp closes with 1007 if not UTF-8
                await _receive(request, services, access, layer, subscriber, message.data)
            elif message.type == WSMsgType.BINARY:
                subscriber.push({"type": "error", "reason": "send changes as text frames of "
                                                            "UTF-8 JSON, not binary frames"})
            elif message.type == WSMsgType.ERROR:
                break
    finally:
        joining.cancel()
        hub.leave(feed, subscriber)
        hub.closed(subscriber)
        sender.cancel()
    return ws


async def _send(subscriber: Subscriber) -> None:
    """Write queued messages in order. A client dropped for falling behind first gets what
    was already queued, so the revision its close message names is the last it received."""
    while True:
        if subscriber.closing and subscriber.queue.empty():
            await subscriber.close_behind()
            return
        revision, frame = await subscriber.queue.get()
        try:
            # asyncio.timeout, not wait_for: no task per frame (20,000 frames/s in the bench)
            async with asyncio.timeout(SEND_TIMEOUT):
                await subscriber.ws.send_frame(frame, WSMsgType.TEXT)
        except TimeoutError:  # the client stopped reading: drop it now
            subscriber.closing = True
            await subscriber.close_behind()
            return
        except (ConnectionError, RuntimeError):  # the client is gone
            subscriber.closing = True
            return
        finally:
            subscriber.queue.task_done()
        if revision:
            subscriber.sent = revision


async def _receive(request: web.Request, services: Services, access: DocumentAccess,
                   layer: str, subscriber: Subscriber, text: str) -> None:
    """A batch of client changes: each is confirmed with its persisted record, or rejected
    with a reason (and the current record when it was based on an old version)."""
    try:
        message = orjson.loads(text)
        if not isinstance(message, dict) or message.get("type") != "changes" or \
                not isinstance(message.get("changes"), list):
            raise ContentError('send {"type": "changes", "changes": [...]}')
    except (orjson.JSONDecodeError, ContentError) as error:
        subscriber.push({"type": "error", "reason": str(error)})
        return
    client = subscriber.client
    refusal = await _token_refusal(services, client) if client is not None else None
    if refusal is None and client is not None and "write" not in client.permissions:
        refusal = "the JWT lacks the 'write' permission"
    if refusal is not None:
        for change in message["changes"]:
            subscriber.push({"type": "rejected", "changeId": _change_id(change),
                             "reason": refusal})
        return
    document_id = access.row.document_id
    commands: list[tuple[Any, Any]] = []  # (changeId, a command of one annotation)
    for change in message["changes"]:
        try:
            commands.append((_change_id(change),
                             _command(change, document_id, layer, client)))
        except (ContentError, DomainError, ApiError) as error:
            subscriber.push({"type": "rejected", "changeId": _change_id(change),
                             "reason": getattr(error, "reason", str(error))})
    if not commands:
        return
    # Each message is a write of its own (sharing the socket's request id would make time
    # travel count the socket's consecutive messages as one), named after the socket and the
    # message's own id: every change message it causes carries both, so that a client knows
    # its echoes without guessing.
    write_id = f"sync:{subscriber.client_id}:{_message_id(message)}"
    try:
        await materialise(request, services, access, layer, write_id)
    except ApiError as error:
        for change_id, _ in commands:
            subscriber.push({"type": "rejected", "changeId": change_id,
                             "reason": error.reason})
        return
    outcomes, _ = await services.write([c for _, c in commands], write_id)
    for (change_id, command), outcome in zip(commands, outcomes, strict=True):
        if isinstance(outcome, Accepted):
            subscriber.push({"type": "confirmed", "changeId": change_id,
                             "id": command.annotation_id, "revision": outcome.revision,
                             "version": outcome.version, "record": outcome.result})
        else:
            rejection = {"type": "rejected", "changeId": change_id,
                         "id": command.annotation_id, "reason": str(outcome.error)}
            current = getattr(outcome.error, "current", None)
            if current is not None:
                rejection["current"] = current
            subscriber.push(rejection)


async def _token_refusal(services: Services, client: Client) -> str | None:
    """Why a socket's JWT may no longer write, checked per message: the socket closes as
    soon as its token is revoked or expires, and nothing it sends meanwhile is stored."""
    if client.expired(time.time()):
        return "the JWT has expired; reconnect with a fresh one"
    if await services.is_revoked(client.jti):
        return "the JWT has been revoked"
    return None


def _message_id(message: dict[str, Any]) -> str:
    """The client's id for a message (``requestId``), or a fresh one."""
    given = message.get("requestId")
    if isinstance(given, str) and REQUEST_ID_PATTERN.fullmatch(given):
        return given
    return str(ULID())


def _change_id(change: Any) -> Any:
    return change.get("changeId") if isinstance(change, dict) else None


def _command(change: Any, document_id: str, layer: str, client: Client | None) -> Command:
    if not isinstance(change, dict):
        raise ContentError("each change must be an object")
    op = change.get("op")
    if op == "delete":
        annotation_id = check_annotation_id(change.get("id"), new=False)
        base = change.get("baseVersion")
        return DeleteAnnotation(document_id, layer, annotation_id,
                                guard=client.delete_guard() if client else None,
                                base_version=base if type(base) is int else None)
    if op not in ("create", "update"):
        raise ContentError("'op' must be create, update or delete")
    if op == "create" and layer:
        check_layer_name(layer)  # a create may bring the layer into being
    item = parse_item(change, page_count=None, id_required=op == "update")
    if client is not None:
        item = as_client(client, item, creating=op == "create")
    make = create_command if op == "create" else update_command
    return make(document_id, layer, item, client)
