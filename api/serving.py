"""Serving the app: aiohttp's runner with limits on what a slow or greedy client may hold.

- A connection must deliver a request's headers (and, between requests, the next one)
  within ``header_timeout`` seconds, or it is closed: aiohttp's keep-alive timer runs from
  the moment the connection opens and after every answer, and it closes a connection whose
  next request has not fully arrived, however slowly its bytes trickle in.
- Request bodies have their own idle timeout (``api.bodies``).
- At most ``max_connections`` connections are open at once; one more is answered 503 and
  closed before it is read, so sockets held open cannot exhaust the process.
"""

from __future__ import annotations

import asyncio
import logging
import resource
import signal
import time
from typing import Any

import orjson
from aiohttp import web

from api.settings import Settings

log = logging.getLogger(__name__)
REFUSAL_BODY = orjson.dumps({"error": {"reason": "too many open connections; retry later "
                                                 "(ANNOLOG_MAX_CONNECTIONS)"}})
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 1\r\n"
           b"Content-Type: application/json\r\nContent-Length: "
           + str(len(REFUSAL_BODY)).encode() + b"\r\n\r\n" + REFUSAL_BODY)


class Refusal(asyncio.Protocol):
    """Answers a connection over the cap with a 503 and closes it, reading nothing."""

    def connection_made(self, transport: Any) -> None:  # uvloop's is no asyncio.Transport
        transport.write(REFUSAL)
        transport.close()


class CappedSite(web.TCPSite):
    """A TCP site that refuses connections beyond ``max_connections``."""

    def __init__(self, runner: web.AppRunner, host: str, port: int,
                 max_connections: int) -> None:
        super().__init__(runner, host, port)
        self.max_connections = max_connections
        self._last_warning = 0.0

    async def start(self) -> None:
        await web.BaseSite.start(self)  # registers the site; TCPSite.start would listen
        server = self._runner.server
        assert server is not None
        self._server = await asyncio.get_running_loop().create_server(
            lambda: self._protocol(server), self._host, self._port, backlog=self._backlog,
            reuse_address=self._reuse_address, reuse_port=self._reuse_port)

    def _protocol(self, server: Any) -> asyncio.BaseProtocol:
        if len(server.connections) < self.max_connections:
            return server()
        if time.monotonic() - self._last_warning > 10:
            self._last_warning = time.monotonic()
            log.warning("%d connections are open (ANNOLOG_MAX_CONNECTIONS); refusing more",
                        self.max_connections)
        return Refusal()


FILES_BESIDE_CONNECTIONS = 100  # the log, the read model, uploads in flight, the pool


def connection_cap(wanted: int) -> int:
    """``wanted``, or less when the process may not open that many files: the open-file
    limit is raised to its hard ceiling first, as servers do."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    ceiling = 1 << 16 if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < ceiling:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (ceiling, hard))
            soft = ceiling
        except (ValueError, OSError):
            pass
    if soft == resource.RLIM_INFINITY:
        return wanted
    allowed = max(1, soft - FILES_BESIDE_CONNECTIONS)
    if allowed < wanted:
        log.warning("the open-file limit (%d) allows %d connections, not the %d of "
                    "ANNOLOG_MAX_CONNECTIONS", soft, allowed, wanted)
    return min(wanted, allowed)


async def serve(app: web.Application, settings: Settings, access_log: Any) -> None:
    """Serve until SIGINT or SIGTERM, then shut down gracefully."""
    runner = web.AppRunner(app, access_log=access_log, handle_signals=False,
                           keepalive_timeout=settings.header_timeout)
    await runner.setup()
    try:
        site = CappedSite(runner, settings.host, settings.port,
                          connection_cap(settings.max_connections))
        await site.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for number in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(number, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
