"""The server token: ``Authorization: Token token="<API_AUTH_TOKEN>"`` grants full access."""

from __future__ import annotations

import base64
import binascii
import hmac
import re

from aiohttp import web

from api.clients import CLIENT, Client, JwtConfig, decode_client
from api.cors import is_preflight
from api.errors import ApiError, Handler
from api.settings import SETTINGS

PUBLIC_PATHS = frozenset({"/healthcheck", "/api/openapi.json"})
PUBLIC_PREFIX = "/console"  # the console's static files; the page asks for a token
# A browser cannot set headers on a WebSocket: it offers its Authorization value, base64url
# encoded, as a subprotocol (as Kubernetes does), which keeps the token out of the URL.
SYNC_PROTOCOL = "annolog"
AUTH_PROTOCOL_PREFIX = "annolog.auth."
TOKEN_HEADER = re.compile(r'Token\s+token="?([^"]*)"?\s*', re.IGNORECASE)
JWT_CONFIG = web.AppKey[JwtConfig | None]("jwt_config")


def token_of(header: str | None) -> str:
    if not header:
        raise ApiError(401, 'missing Authorization header; send '
                            'Authorization: Token token="<API_AUTH_TOKEN>", or a client JWT '
                            'as Authorization: Bearer <jwt>')
    match = TOKEN_HEADER.fullmatch(header)
    if match is None:
        raise ApiError(401, 'malformed Authorization header; expected '
                            'Token token="<API_AUTH_TOKEN>"')
    return match.group(1)


def authorization_of(request: web.Request) -> str | None:
    """The Authorization header, or the value a browser's WebSocket offered as a subprotocol."""
    header = request.headers.get("Authorization")
    if header is not None:
        return header
    for protocol in request.headers.get("Sec-WebSocket-Protocol", "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(AUTH_PROTOCOL_PREFIX):
            encoded = protocol[len(AUTH_PROTOCOL_PREFIX):]
            try:
                value = base64.b64decode(encoded + "=" * (-len(encoded) % 4), altchars=b"-_",
                                         validate=True).decode()
            except (binascii.Error, UnicodeDecodeError, ValueError):
                value = ""
            if not value:
                raise ApiError(401, "malformed credentials in the WebSocket subprotocol; offer "
                                    "'annolog.auth.' + base64url(Authorization value)")
            return value
    return None


def is_public(path: str) -> bool:
    """``/healthcheck`` and ``/healthcheck/`` alike (every route takes a trailing slash)."""
    return (path in PUBLIC_PATHS or path.removesuffix("/") in PUBLIC_PATHS
            or path == PUBLIC_PREFIX or path.startswith(PUBLIC_PREFIX + "/"))


def bearer_of(request: web.Request) -> str | None:
    """A client JWT from ``Authorization: Bearer`` or the ``jwt`` query parameter."""
    header = authorization_of(request) or ""
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.query.get("jwt")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The server token grants everything; a client JWT becomes ``request[CLIENT]``."""
    if not is_public(request.path) and not is_preflight(request):  # a browser sends no token
        token = bearer_of(request)
        if token is not None:
            request[CLIENT] = decode_client(token, request.app[JWT_CONFIG])
        else:
            given = token_of(authorization_of(request))
            expected = request.app[SETTINGS].api_token
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise ApiError(401, "invalid API token")
    return await handler(request)


def client_of(request: web.Request) -> Client | None:
    """The client JWT's grant, or None for the server token (full access)."""
    return request.get(CLIENT)
