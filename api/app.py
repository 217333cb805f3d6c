"""The aiohttp application factory."""

from __future__ import annotations

import logging

from aiohttp import web

from api.auth import JWT_CONFIG, auth_middleware
from api.clients import JwtConfig
from api.console import setup_console
from api.cors import allow_origins
from api.errors import error_middleware, request_id_middleware
from api.hub import hub_context
from api.routes import client_scope_middleware, min_revision_middleware, setup_routes
from api.services import services_context
from api.settings import LOOPBACK, SETTINGS, Settings

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> web.Application:
    if settings.token_is_default and settings.host == LOOPBACK:
        log.warning("API_AUTH_TOKEN is not set: the development token 'secret' grants FULL "
                    "access, so the server listens on %s only. Set API_AUTH_TOKEN (and HOST) "
                    "to serve other machines.", LOOPBACK)
    elif settings.token_is_default:
        log.warning("API_AUTH_TOKEN is not set and HOST is %s: ANYONE WHO CAN REACH THIS "
                    "SERVER HAS FULL ACCESS with the development token 'secret'. Set "
                    "API_AUTH_TOKEN.", settings.host)
    app = web.Application(
        client_max_size=settings.max_json_bytes,
        middlewares=[request_id_middleware, error_middleware, auth_middleware,
                     client_scope_middleware, min_revision_middleware],
    )
    if settings.cors_origins:
        log.info("cross-origin requests allowed from %s", ", ".join(settings.cors_origins))
    app[SETTINGS] = settings
    app[JWT_CONFIG] = JwtConfig.load(settings.jwt_public_key, settings.jwt_algorithm)
    app.cleanup_ctx.append(services_context)
    app.cleanup_ctx.append(hub_context)
    setup_routes(app)
    setup_console(app)
    if settings.cors_origins:  # the API and the console's files (the client modules)
        allow_origins(app, settings.cors_origins, list(app.router.routes()))
    return app
