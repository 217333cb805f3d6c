"""Cross-origin requests (CORS), for a viewer served from another origin than annolog (a
Web SDK page on its own site): allowed origins only, from ``ANNOLOG_CORS_ORIGINS``. The
headers are aiohttp-cors's; a preflight reaches it without a token (a browser sends none)."""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import aiohttp_cors
from aiohttp import web

# What a cross-origin page may read of an answer besides the CORS-safelisted headers: the
# revision a write was saved at or a read shows, a record's version, what a PDF left out,
# the request's id in the logs.
EXPOSED = ("Annolog-Revision", "ETag", "Annolog-Skipped", "X-Request-Id")
MAX_AGE = 600  # seconds a browser may keep a preflight's answer


def parse_origins(text: str) -> tuple[str, ...]:
    """``ANNOLOG_CORS_ORIGINS``: origins separated by commas (``https://app.example``,
    ``http://localhost:8080``), or ``*`` for any. SystemExit names a malformed one."""
    origins = tuple(part.strip().rstrip("/") for part in text.split(",") if part.strip())
    for origin in origins:
        if origin == "*":
            continue
        parts = urlsplit(origin)
        if parts.scheme not in ("http", "https") or not parts.netloc or parts.path \
                or parts.query or parts.fragment:
            raise SystemExit(f"ANNOLOG_CORS_ORIGINS: {origin!r} is not an origin such as "
                             "https://app.example or http://localhost:8080")
    return origins


def is_preflight(request: web.Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def allow_origins(app: web.Application, origins: tuple[str, ...],
                  routes: Iterable[web.AbstractRoute]) -> None:
    """Answer preflights for ``routes`` and mark their answers readable by ``origins``.
    No credentials: annolog's tokens travel in the Authorization header, never cookies."""
    options = aiohttp_cors.ResourceOptions(allow_headers="*", expose_headers=EXPOSED,
                                           max_age=MAX_AGE)
    cors = aiohttp_cors.setup(app, defaults=dict.fromkeys(origins, options))
    for route in routes:
        cors.add(route)
