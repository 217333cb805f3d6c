"""The server token: ``Authorization: Token token="<API_AUTH_TOKEN>"`` grants full access."""

from __future__ import annotations

import hmac
import re

from aiohttp import web

from api.errors import ApiError, Handler
from api.settings import Settings

PUBLIC_PATHS = frozenset({"/healthcheck", "/api/openapi.json"})
TOKEN_HEADER = re.compile(r'Token\s+token="?([^"]*)"?\s*', re.IGNORECASE)
SETTINGS = web.AppKey("settings", Settings)


def token_of(header: str | None) -> str:
    if not header:
        raise ApiError(401, 'missing Authorization header; send '
                            'Authorization: Token token="<API_AUTH_TOKEN>"')
    match = TOKEN_HEADER.fullmatch(header)
    if match is None:
        raise ApiError(401, 'malformed Authorization header; expected '
                            'Token token="<API_AUTH_TOKEN>"')
    return match.group(1)


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path not in PUBLIC_PATHS:
        given = token_of(request.headers.get("Authorization"))
        expected = request.app[SETTINGS].api_token
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise ApiError(401, "invalid API token")
    return await handler(request)
