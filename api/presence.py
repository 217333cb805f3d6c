"""Presence: which clients are connected to a layer, across the processes of a cluster
(announced to each other on a PostgreSQL NOTIFY channel)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Mapping
from typing import Any, Protocol

import orjson
from ulid import ULID

log = logging.getLogger(__name__)


class Feed(Protocol):
    """A layer's feed, as presence sees it (``api.hub.Feed``)."""

    document_id: str
    layer: str
    live: set[Any]  # its connected subscribers (truthy when any)

    def local_clients(self) -> list[dict[str, Any]]: ...


class Hub(Protocol):
    """What presence asks of the hub that made it (``api.hub.Hub``)."""

    services: Any

    @property
    def feeds(self) -> Mapping[tuple[str, str], Feed]: ...

    def spawn(self, coroutine: Coroutine[Any, Any, None]) -> None: ...

    def show_clients(self, feed: Any) -> None: ...


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

    def elsewhere(self, feed: Feed) -> list[dict[str, Any]]:
        now = time.monotonic()
        return [client for expires, clients in
                self.remote.get((feed.document_id, feed.layer), {}).values()
                if expires > now for client in clients]

    def announce(self, feed: Feed, *, ask: bool = False) -> None:
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
