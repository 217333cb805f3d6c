"""The server token: ``Authorization: Token token="<API_AUTH_TOKEN>"`` grants full access."""

from __future__ import annotations

import hmac
import re

from aiohttp import web

from api.clients import CLIENT, Client, JwtConfig, decode_client
from api.errors import ApiError, Handler
from api.settings import SETTINGS

PUBLIC_PATHS = frozenset({"/healthcheck", "/api/openapi.json"})
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


def bearer_of(request: web.Request) -> str | None:
    """A client JWT from ``Authorization: Bearer`` or the ``jwt`` query parameter."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip()
    return request.query.get("jwt")


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The server token grants everything; a client JWT becomes ``request[CLIENT]``."""
    if request.path not in PUBLIC_PATHS:
        token = bearer_of(request)
        if token is not None:
            request[CLIENT] = decode_client(token, request.app[JWT_CONFIG])
        else:
            given = token_of(request.headers.get("Authorization"))
            expected = request.app[SETTINGS].api_token
            if not hmac.compare_digest(given.encode(), expected.encode()):
                raise ApiError(401, "invalid API token")
    return await handler(request)


def client_of(request: web.Request) -> Client | None:
    """The client JWT's grant, or None for the server token (full access)."""
    return request.get(CLIENT)
