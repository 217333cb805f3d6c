"""Live sync over WebSocket and persistence confirmations (extensions).

Every layer with connected clients has one feed. When the projector advances (for this
process's writes and, on PostgreSQL, everyone's) the feed reads the layer's new changes
from the read model once and hands them to every client it serves. A client first catches
up from the revision it had, with its own cursor, and joins the feed only when its cursor
has reached the feed's: nothing is missed, and a change at or below a client's cursor is
never sent again. A client's queue is bounded; one that falls too far behind is
disconnected with the revision to resume from, so it never slows the writer or the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import WSMsgType, web
from ulid import ULID

from api.auth import client_of
from api.bodies import read_json
from api.clients import LEEWAY_SECONDS, Client
from api.context import as_client, create_command, document_and_layer, update_command
from api.errors import ApiError, request_id
from api.parsing import check_layer_name, json_object, parse_delete_ids, parse_item, whole_number
from api.responses import json_response
from api.services import SERVICES, Services
from eventstore.commands import (
    Accepted,
    Command,
    DeleteAnnotation,
)
from eventstore.errors import DomainError
from eventstore.names import check_annotation_id
from eventstore.validation import ContentError

log = logging.getLogger(__name__)
PAGE = 1000
# WebSocket close codes (the 4000s are the application's)
TOKEN_EXPIRED = 4001  # the client JWT's exp (plus leeway) passed: reconnect with a fresh one
TOKEN_REVOKED = 4003  # the client JWT's jti was revoked (POST /api/revoke)
BEHIND = 4008  # the client fell too far behind
SEND_TIMEOUT = 10.0


@dataclass(frozen=True)
class Change:
    """A change of the layer, encoded once for every client that may see it."""

    revision: int
    record: dict[str, Any]
    frame: bytes


def encode_changes(rows: list[dict[str, Any]]) -> list[Change]:
    return [Change(r["revision"], r["record"], orjson.dumps({"type": "change", **r}))
            for r in rows]


@dataclass(eq=False)
class Subscriber:
    ws: web.WebSocketResponse
    client: Client | None
    cursor: int  # the last layer revision handed to this client (seen or filtered out)
    queue: asyncio.Queue[tuple[int, bytes]]  # (revision of a change or 0, the frame)
    client_id: str = field(default_factory=lambda: str(ULID()))
    sent: int = 0  # the last revision actually written to the socket
    closing: bool = False
    expiry: asyncio.TimerHandle | None = None  # closes the socket when the JWT expires

    @property
    def user_id(self) -> str | None:
        return self.client.user_id if self.client else None

    def _news(self, changes: list[Change]) -> list[tuple[int, bytes]]:
        """The changes after this client's cursor that it may view; moves the cursor."""
        news = []
        for change in changes:
            if change.revision <= self.cursor:
                continue
            self.cursor = change.revision
            if self.client is None or self.client.sees(change.record):
                news.append((change.revision, change.frame))
        return news

    def offer(self, changes: list[Change]) -> None:
        """Live changes: never wait (a full queue drops this client, not the others)."""
        for item in self._news(changes):
            self._put(item)

    async def deliver(self, message: dict[str, Any]) -> None:
        """Catch-up: this client's own history, so it may wait for room in its queue."""
        await self.queue.put((0, orjson.dumps(message)))

    async def catch_up(self, changes: list[Change]) -> None:
        for item in self._news(changes):
            await self.queue.put(item)

    def push(self, message: dict[str, Any]) -> None:
        self._put((0, orjson.dumps(message)))

    def _put(self, item: tuple[int, bytes]) -> None:
        if self.closing:
            return
        try:
            self.queue.put_nowait(item)
        except asyncio.QueueFull:
            self.closing = True  # the sender drains what is queued, then closes

    async def close_behind(self) -> None:
        await self.ws.close(code=BEHIND, message=f"too far behind; reconnect with revision="
                                                 f"{self.sent}".encode())

    async def close_for_token(self, code: int) -> None:
        """The JWT no longer admits this client: no further change reaches it, and it is
        told where to resume once it has a valid token."""
        self.closing = True
        reason = "token expired" if code == TOKEN_EXPIRED else "token revoked"
        await self.ws.close(code=code, message=f"{reason}; reconnect with a valid token and "
                                               f"revision={self.sent}".encode())


@dataclass(eq=False)
class LayerFeed:
    document_id: str
    layer: str
    cursor: int
    live: set[Subscriber] = field(default_factory=set)
    pulling: bool = False
    again: bool = False

    def local_clients(self) -> list[dict[str, Any]]:
        return [{"clientId": s.client_id, "userId": s.user_id} for s in self.live]


class Hub:
    """The feeds of this process, woken whenever the read model advances."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.feeds: dict[tuple[str, str], LayerFeed] = {}
        self.subscribers: set[Subscriber] = set()  # every open socket, caught up or not
        self._revocations_seen = services.projector.writer.revocations_changed
        self._tasks: set[asyncio.Task[Any]] = set()
        services.waiter.listeners.append(self.advanced)
        listener = services.listener
        self.presence = Presence(self, listener) if listener is not None else None

    def feed(self, document_id: str, layer: str) -> LayerFeed:
        key = (document_id, layer)
        if key not in self.feeds:
            self.feeds[key] = LayerFeed(document_id, layer, self.services.waiter.position)
        return self.feeds[key]

    def spawn(self, work: Any) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def advanced(self, position: int) -> None:
        for feed in self.feeds.values():
            if feed.live:
                self.spawn(self.pull(feed))
        revocations = self.services.projector.writer.revocations_changed
        if revocations != self._revocations_seen:  # a revocation reached the read model
            self._revocations_seen = revocations
            self.spawn(self.close_revoked())

    async def close_revoked(self) -> None:
        """Close the sockets of revoked JWTs: the log tells every process of a cluster."""
        for subscriber in list(self.subscribers):
            client = subscriber.client
            if client is not None and await self.services.is_revoked(client.jti):
                await subscriber.close_for_token(TOKEN_REVOKED)

    def open(self, subscriber: Subscriber) -> None:
        self.subscribers.add(subscriber)
        client = subscriber.client
        if client is not None and client.expires is not None:
            delay = client.expires + LEEWAY_SECONDS - time.time()
            subscriber.expiry = asyncio.get_running_loop().call_later(
                max(0.0, delay), lambda: self.spawn(subscriber.close_for_token(TOKEN_EXPIRED)))

    def closed(self, subscriber: Subscriber) -> None:
        self.subscribers.discard(subscriber)
        if subscriber.expiry is not None:
            subscriber.expiry.cancel()

    def show_clients(self, feed: LayerFeed) -> None:
        """Tell the feed's clients who is connected: here, and on the cluster's other
        processes."""
        clients = feed.local_clients()
        if self.presence is not None:
            clients += self.presence.elsewhere(feed)
        for subscriber in feed.live:
            subscriber.push({"type": "clients", "clients": clients})

    def clients_changed(self, feed: LayerFeed, *, first: bool = False) -> None:
        self.show_clients(feed)
        if self.presence is not None:
            self.presence.announce(feed, ask=first)

    async def pull(self, feed: LayerFeed) -> None:
        """Read the feed's new changes once and hand them to every live client."""
        if feed.pulling:
            feed.again = True
            return
        feed.pulling = True
        try:
            while True:
                feed.again = False
                seen = self.services.waiter.position  # the read model holds at least this
                changes = encode_changes(await self.services.run(
                    self.services.read_model.changes_page, feed.document_id, feed.layer,
                    feed.cursor, PAGE))
                if changes:
                    feed.cursor = changes[-1].revision
                    for subscriber in list(feed.live):
                        subscriber.offer(changes)
                if len(changes) < PAGE:  # nothing else of this layer up to ``seen``
                    feed.cursor = max(feed.cursor, seen)
                    if not feed.again:
                        return
        finally:
            feed.pulling = False

    async def join(self, feed: LayerFeed, subscriber: Subscriber) -> None:
        """Catch the client up on its own cursor, then join the feed where they meet."""
        while True:
            seen = self.services.waiter.position
            changes = encode_changes(await self.services.run(
                self.services.read_model.changes_page, feed.document_id, feed.layer,
                subscriber.cursor, PAGE))
            await subscriber.catch_up(changes)
            if len(changes) < PAGE:  # nothing else of this layer up to ``seen``
                subscriber.cursor = max(subscriber.cursor, seen)
                await subscriber.queue.join()  # sent: the live feed finds room
            if len(changes) < PAGE and subscriber.cursor >= feed.cursor:
                feed.live.add(subscriber)  # no await since the check: nothing slips between
                subscriber.push({"type": "caught_up", "revision": subscriber.cursor})
                self.clients_changed(feed, first=len(feed.live) == 1)
                return

    def leave(self, feed: LayerFeed, subscriber: Subscriber) -> None:
        if subscriber in feed.live:
            feed.live.discard(subscriber)
            self.clients_changed(feed)


class Presence:
    """The clients connected to the cluster's other processes, per layer, learnt from their
    announcements on the PostgreSQL presence channel.

    A process announces a layer's clients whenever they change, again every ``HEARTBEAT``
    seconds, and at once when another process asks (it does on its first client of a
    layer). What a process has not repeated for ``EXPIRY`` seconds (it died) is forgotten.
    A long list goes in parts, as NOTIFY payloads are limited."""

    HEARTBEAT = 10.0
    EXPIRY = 30.0
    PART = 60  # clients per message: well under the payload limit with long user ids

    def __init__(self, hub: Hub, listener: Any) -> None:
        self.hub = hub
        self.channel = listener.presence
        self.process = str(ULID())
        # (document, layer) -> process -> (expires at, clients)
        self.remote: dict[tuple[str, str], dict[str, tuple[float, list[dict[str, Any]]]]] = {}
        self._parts: dict[tuple[str, str, str, int], dict[int, list[dict[str, Any]]]] = {}
        self._sequence = 0
        loop = asyncio.get_running_loop()
        listener.on_presence = lambda payload: loop.call_soon_threadsafe(self.received,
                                                                         payload)

    def elsewhere(self, feed: LayerFeed) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [client for expires, clients in
                self.remote.get((feed.document_id, feed.layer), {}).values()
                if expires > now for client in clients]

    def announce(self, feed: LayerFeed, *, ask: bool = False) -> None:
        clients = feed.local_clients()
        self._sequence += 1
        chunks = [clients[i:i + self.PART] for i in range(0, len(clients), self.PART)] or [[]]
        for index, chunk in enumerate(chunks):
            message = {"process": self.process, "document": feed.document_id,
                       "layer": feed.layer, "sequence": self._sequence, "part": index,
                       "parts": len(chunks), "clients": chunk, "ask": ask}
            self.hub.spawn(self._publish(orjson.dumps(message).decode()))

    async def _publish(self, payload: str) -> None:
        try:
            await self.hub.services.run(self.channel.publish, payload)
        except Exception:  # the database is away: the next heartbeat tries again
            log.warning("could not announce presence", exc_info=True)

    def received(self, payload: str) -> None:
        """A message of another process (this runs on the event loop)."""
        try:
            message = orjson.loads(payload)
            process, key = message["process"], (message["document"], message["layer"])
            parts, part, sequence = message["parts"], message["part"], message["sequence"]
        except (orjson.JSONDecodeError, KeyError, TypeError):
            log.warning("ignored a malformed presence message")
            return
        if process == self.process:
            return
        pending = self._parts.setdefault((process, *key, sequence), {})
        pending[part] = message["clients"]
        if len(pending) < parts:
            return
        del self._parts[(process, *key, sequence)]
        clients = [client for index in sorted(pending) for client in pending[index]]
        others = self.remote.setdefault(key, {})
        if clients:
            others[process] = (time.monotonic() + self.EXPIRY, clients)
        else:
            others.pop(process, None)
        feed = self.hub.feeds.get(key)
        if feed is not None and feed.live:
            self.hub.show_clients(feed)
            if message.get("ask"):
                self.announce(feed)

    async def heartbeat(self) -> None:
        """Repeat this process's clients, and forget processes that went quiet."""
        while True:
            await asyncio.sleep(self.HEARTBEAT)
            now = time.monotonic()
            for key, others in self.remote.items():
                expired = [p for p, (expires, _) in others.items() if expires <= now]
                for process in expired:
                    del others[process]
                feed = self.hub.feeds.get(key)
                if expired and feed is not None and feed.live:
                    self.hub.show_clients(feed)
            self._parts.clear()  # parts of a message never completed
            for feed in list(self.hub.feeds.values()):
                if feed.live:
                    self.announce(feed)


HUB = web.AppKey("hub", Hub)


async def hub_context(app: web.Application) -> AsyncIterator[None]:
    """The hub of this process; after the services, which it follows."""
    hub = app[HUB] = Hub(app[SERVICES])
    heartbeat = (asyncio.get_running_loop().create_task(hub.presence.heartbeat())
                 if hub.presence is not None else None)
    yield
    if heartbeat is not None:
        heartbeat.cancel()
    if hub.services.listener is not None:
        hub.services.listener.on_presence = None


async def sync_layer(request: web.Request) -> web.WebSocketResponse:
    services, access, layer = await document_and_layer(request)
    since = whole_number(request.query.get("revision", "0"),
                         "'revision' (the last revision the client has, 0 for all)")
    ws = web.WebSocketResponse(heartbeat=30)
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
            if message.type == WSMsgType.TEXT:
                await _receive(request, services, access.row.document_id, layer, subscriber,
                               message.data)
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


async def _receive(request: web.Request, services: Services, document_id: str, layer: str,
                   subscriber: Subscriber, text: str) -> None:
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
    outcomes, _ = await services.write([c for _, c in commands], request_id(request))
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
