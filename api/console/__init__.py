"""The browser console and the client library, served as static files under /console/.

The files load without a token (the page asks for one); every API call the page makes
carries it. A strict Content-Security-Policy allows nothing but this server: no inline
script or style, no other origin, WebAssembly only for pdf.js's image decoders."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

STATIC = Path(__file__).parent / "static"
PREFIX = "/console"
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'none'",
    "script-src 'self' 'wasm-unsafe-eval'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "font-src 'self'",
    "connect-src 'self'",  # 'self' covers ws: and wss: to this host (CSP level 3)
    "worker-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])
CONTENT_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".wasm": "application/wasm",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".ttf": "font/ttf",
    ".pfb": "application/octet-stream",
    ".json": "application/json",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-cache",  # revalidated by ETag: a new release is seen at once
}


def file_of(tail: str) -> Path | None:
    """The static file a path names, or None: only files under STATIC with a known type."""
    if tail in ("", "index.html"):
        tail = "index.html"
    if any(part in ("", ".", "..") or part.startswith(".") for part in tail.split("/")):
        return None
    path = (STATIC / tail).resolve()
    if not path.is_relative_to(STATIC.resolve()) or not path.is_file():
        return None
    return path if path.suffix in CONTENT_TYPES else None


async def console_file(request: web.Request) -> web.StreamResponse:
    path = file_of(request.match_info["tail"])
    if path is None:
        raise web.HTTPNotFound(text="no such console file", headers=SECURITY_HEADERS)
    headers = {**SECURITY_HEADERS, "Content-Type": CONTENT_TYPES[path.suffix]}
    return web.FileResponse(path, headers=headers)


async def console_root(request: web.Request) -> web.StreamResponse:
    raise web.HTTPPermanentRedirect(PREFIX + "/")


def setup_console(app: web.Application) -> None:
    app.router.add_get(PREFIX, console_root)
    app.router.add_get(PREFIX + "/{tail:.*}", console_file)
