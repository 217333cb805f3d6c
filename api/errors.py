"""Errors as HTTP answers: domain errors mapped to statuses, and every refusal (an ``ApiError``
raised where an HTTP-level problem is found, with its status) rendered as the seed's body."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable

import orjson
from aiohttp import web
from ulid import ULID

from eventstore.errors import (
    AnnotationExistsError,
    AnnotationNotFoundError,
    AttachmentNotFoundError,
    CommentExistsError,
    CommentNotFoundError,
    ConflictError,
    DataDirLockedError,
    DocumentExistsError,
    DocumentNotFoundError,
    DomainError,
    ForbiddenError,
    LayerExistsError,
    LayerNotFoundError,
    LogUnavailableError,
    NotAThreadRootError,
    StaleVersionError,
    UnstorableError,
)
from eventstore.validation import ContentError
from projections.pdfs import NotAPdfError, PdfPasswordError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
REQUEST_ID = web.RequestKey("request_id", str)
REQUEST_ID_PATTERN = re.compile(r"[\x21-\x7e]{1,200}")


class ApiError(Exception):
    """Raised by handlers for a request the API refuses; carries its status and reason."""

    def __init__(self, status: int, reason: str, *, text: bool = False,
                 records: list[dict[str, str]] | None = None,
                 current: dict | None = None, close: bool = False,
                 description: str | None = None, body: dict | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.description = description  # beside a reason that is a code, as some routes use
        self.text = text
        self.close = close  # the connection cannot be reused (a body was left half read)
        self.records = records  # per-record reasons, e.g. of a refused Instant JSON import
        self.current = current  # the record as it is now, for a refused stale change
        self.body = body  # the whole JSON body, where the engine's answer has its own shape


STATUS_OF: dict[type[Exception], int] = {
    DocumentNotFoundError: 404,
    AnnotationNotFoundError: 404,
    ForbiddenError: 403,
    StaleVersionError: 412,
    LayerNotFoundError: 404,
    LayerExistsError: 409,
    AttachmentNotFoundError: 404,
    DocumentExistsError: 409,
    ConflictError: 409,
    AnnotationExistsError: 409,
    CommentNotFoundError: 404,
    CommentExistsError: 409,
    NotAThreadRootError: 400,
    ContentError: 422,
    NotAPdfError: 422,
    UnstorableError: 422,
    LogUnavailableError: 503,
    DataDirLockedError: 503,
}


def status_of(error: Exception) -> int:
    for kind in type(error).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 500


def error_response(status: int, reason: str, records: list[dict[str, str]] | None = None,
                   current: dict | None = None, description: str | None = None
                   ) -> web.Response:
    error: dict[str, object] = {"reason": reason}
    if description is not None:
        error["description"] = description
    if records is not None:
        error["records"] = records
    if current is not None:
        error["current"] = current
    return web.Response(status=status, body=orjson.dumps({"error": error}),
                        content_type="application/json")


def request_id(request: web.Request) -> str:
    return request[REQUEST_ID]


@web.middleware
async def request_id_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    request[REQUEST_ID] = given if REQUEST_ID_PATTERN.fullmatch(given) else str(ULID())
    response = await handler(request)
    if not response.prepared:
        response.headers["X-Request-Id"] = request[REQUEST_ID]
    return response


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except Exception as error:
        if request.writer.output_size > 0:
            return _break_answer(request, error)
        return _error_answer(request, error)


def _break_answer(request: web.Request, error: Exception) -> web.StreamResponse:
    """A failure after the answer began (a stream, a socket): a status line now would land
    inside the body, so the connection is cut instead and the client sees a broken
    stream, never an error page inside a 200."""
    if isinstance(error, ConnectionError):
        log.info("%s %s: the client went away mid-answer", request.method, request.path)
    else:
        log.error("%s %s failed mid-answer (request %s); connection cut: %s",
                  request.method, request.path, request.get(REQUEST_ID), error,
                  exc_info=error)
    if request.transport is not None:
        request.transport.close()
    return web.Response()  # never sent: aiohttp finds the transport closing


def _error_answer(request: web.Request, error: Exception) -> web.StreamResponse:
    """The error body for an exception raised before any byte of the answer was sent."""
    if isinstance(error, ApiError):
        if error.text:
            response = web.Response(status=error.status, text=error.reason)
        elif error.body is not None:
            response = web.Response(status=error.status, body=orjson.dumps(error.body),
                                    content_type="application/json")
        else:
            response = error_response(error.status, error.reason, error.records,
                                      error.current, error.description)
        if error.close:
            response.force_close()
        return response
    if isinstance(error, PdfPasswordError):
        return web.Response(status=403, text=str(error))
    if isinstance(error, (DomainError, ContentError, NotAPdfError)):
        return error_response(status_of(error), str(error),
                              current=getattr(error, "current", None))
    if isinstance(error, web.HTTPRequestEntityTooLarge):
        return error_response(413, f"the request body is larger than the limit: {error.text}")
    if isinstance(error, web.HTTPException):
        if error.status >= 400 and error.content_type != "application/json":
            default = f"{error.status}: {error.reason}"  # aiohttp's text when none is given
            said = error.text if error.text and error.text != default else error.reason
            return error_response(error.status, said)
        raise error
    if isinstance(error, RecursionError):  # only input nested past every bound gets here
        log.warning("%s %s: input nested too deeply (request %s)", request.method,
                    request.path, request.get(REQUEST_ID))
        return error_response(422, "the request nests objects or arrays too deeply")
    log.error("unexpected error in %s %s (request %s)", request.method, request.path,
              request.get(REQUEST_ID), exc_info=error)
    return error_response(500, "internal error; the server log has details under request "
                               f"id {request.get(REQUEST_ID)}")
