"""The hub of a process: one feed per layer with connected sync clients.

When the projector advances (for this process's writes and, on PostgreSQL, everyone's) a
layer's feed reads its new changes from the read model once and hands them to every client
it serves. A client first catches up from the revision it had, with its own cursor, and joins
the feed only when its cursor has reached the feed's: nothing is missed, and a change at or
below a client's cursor is never sent again. A client's queue is bounded; one that falls too
far behind is disconnected with the revision to resume from, so it never slows the writer or
the others.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from ulid import ULID

from api.clients import LEEWAY_SECONDS, Client
from api.presence import Presence
from api.services import SERVICES, Services
from projections.queries import content_type_of

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
    content_type: str  # what a JWT's collaboration permissions judge it as


def encode_changes(rows: list[dict[str, Any]]) -> list[Change]:
    return [Change(r["revision"], r["record"], orjson.dumps({"type": "change", **r}),
                   content_type_of(r)) for r in rows]


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
            if self.client is None or self.client.sees(change.record, change.content_type):
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
