"""Streaming request bodies to the blob store's temporary directory, hashing as they arrive.

Nothing becomes visible until a complete, verified file is renamed into the store, so an
oversized, truncated or killed upload leaves no partial blob behind.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from api.bodies import Services, parse_json, read_body, utf8_text, within
from api.errors import ApiError
from eventstore.blobs import sniff_content_type

CHUNK = 256 * 1024
ATTACHMENT_NAME = re.compile(r"[0-9a-fA-F]{64}")
JSON_PARTS = ("annotation", "annotations")
class Budget:
    """Bytes a whole request may still carry (MAX_UPLOAD_SIZE_BYTES); 413 past it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0

    def spend(self, count: int) -> None:
        self.used += count
        if self.used > self.limit:
            raise ApiError(413, f"the request is larger than MAX_UPLOAD_SIZE_BYTES "
                                f"({self.limit} bytes); nothing was stored")


@dataclass(frozen=True)
class Received:
    """A complete body part in a temporary file."""

    path: Path
    sha256: str
    size: int
    head: bytes


async def receive(chunks: AsyncIterator[bytes], services: Services, budget: Budget,
                  part_limit: int | None = None, what: str = "the upload") -> Received:
    """Stream chunks to a temporary file; 413 past a limit, and the file is gone."""
    fd, path = services.blobs.temporary()
    digest, size, head = hashlib.sha256(), 0, b""
    try:
        with os.fdopen(fd, "wb") as f:
            async for chunk in chunks:
                size += len(chunk)
                budget.spend(len(chunk))
                if part_limit is not None and size > part_limit:
                    raise ApiError(413, f"{what} is larger than the {part_limit}-byte limit "
                                        "per attachment (ANNOLOG_MAX_ATTACHMENT_BYTES)")
                if len(head) < 16:
                    head += chunk[:16 - len(head)]
                digest.update(chunk)
                f.write(chunk)
            f.flush()
            await services.run(os.fsync, f.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Received(path, digest.hexdigest(), size, head)


# What aiohttp's multipart reader raises for a body it cannot read: a bad boundary or part
# header (HttpProcessingError: InvalidHeader, LineTooLong, ...), an unknown charset or
# encoding (LookupError, ValueError), a cut-off body (ClientPayloadError).
MALFORMED = (ValueError, LookupError, AssertionError, aiohttp.ClientPayloadError,
             HttpProcessingError)


@contextmanager
def malformed_is_400() -> Iterator[None]:
    try:
        yield
    except MALFORMED as error:
        raise ApiError(400, f"malformed or truncated multipart body: {error}",
                       close=True) from None


async def part_chunks(part: aiohttp.BodyPartReader, services: Services
                      ) -> AsyncIterator[bytes]:
    idle = services.settings.body_timeout
    while True:
        with malformed_is_400():
            chunk = await within(idle, part.read_chunk(CHUNK))
        if not chunk:
            return
        yield chunk


def check_declared_length(request: web.Request, budget: Budget) -> None:
    """Refuse at once what announces itself as too large: read no further."""
    if request.content_length is not None and request.content_length > budget.limit:
        raise ApiError(413, f"the request is larger than MAX_UPLOAD_SIZE_BYTES "
                            f"({budget.limit} bytes); nothing was stored")


async def multipart_parts(request: web.Request, services: Services
                          ) -> AsyncIterator[aiohttp.BodyPartReader]:
    """The parts of a multipart body; a malformed or cut-off body is a 400."""
    with malformed_is_400():
        reader = await request.multipart()
    while True:
        with malformed_is_400():
            part = await within(services.settings.body_timeout, reader.next())
            if isinstance(part, aiohttp.BodyPartReader):
                _ = part.name  # parses Content-Disposition: a bad one is malformed, not a 500
        if part is None:
            return
        if not isinstance(part, aiohttp.BodyPartReader):
            raise ApiError(400, "nested multipart bodies are not supported", close=True)
        yield part


async def read_small_part(part: aiohttp.BodyPartReader, limit: int, budget: Budget,
                          services: Services) -> bytes:
    data = bytearray()
    async for chunk in part_chunks(part, services):
        data += chunk
        budget.spend(len(chunk))
        if len(data) > limit:
            raise ApiError(413, f"the '{part.name}' part is larger than {limit} bytes")
    return bytes(data)


async def small_form(request: web.Request, services: Services, json_part: str,
                     text_parts: tuple[str, ...] = ()) -> dict[str, Any]:
    """The parts of a small multipart form: ``json_part`` parsed as JSON, ``text_parts`` as
    text (a layer's name, its source); any other part is refused, so a misspelt name never
    passes unnoticed."""
    budget = Budget(services.settings.max_upload_bytes)
    check_declared_length(request, budget)
    fields: dict[str, Any] = {}
    async for part in multipart_parts(request, services):
        data = await read_small_part(part, services.settings.max_json_bytes, budget,
                                     services)
        if part.name == json_part:
            fields[json_part] = await parse_json(data, services)
        elif part.name in text_parts:
            fields[part.name] = utf8_text(data, f"the {part.name[:64]!r} part")
        else:
            known = ", ".join(map(repr, (json_part, *text_parts)))
            raise ApiError(422, f"unexpected part {(part.name or '')[:64]!r}: this form "
                                f"takes {known}")
    return fields


@dataclass
class AnnotationRequest:
    """The body of an annotation write, and the attachments it carried (in temp files)."""

    body: Any = None
    attachments: dict[str, tuple[Received, str]] = field(default_factory=dict)

    def discard(self) -> None:
        for received, _ in self.attachments.values():
            received.path.unlink(missing_ok=True)


async def _receive_attachment_part(part: aiohttp.BodyPartReader, services: Services,
                                   budget: Budget, request_body: AnnotationRequest) -> None:
    name = (part.name or "").lower()
    if name in request_body.attachments:
        raise ApiError(422, f"attachment part {name!r} is sent twice")
    received = await receive(part_chunks(part, services), services, budget,
                             services.settings.max_attachment_bytes,
                             what=f"attachment part {name[:16]}…")
    request_body.attachments[name] = (received, "")


def _verify_attachments(request_body: AnnotationRequest) -> None:
    """Only once the whole body has arrived: every part's bytes hash to its name, and are a
    PNG, JPEG or PDF by their own signature."""
    for name, (received, _) in request_body.attachments.items():
        if received.sha256 != name:
            raise ApiError(422, f"attachment part {name!r} holds bytes whose SHA-256 is "
                                f"{received.sha256}; name each attachment part by the "
                                "SHA-256 hex of its bytes. Nothing was stored")
        content_type = sniff_content_type(received.head)
        if content_type is None:
            raise ApiError(422, f"attachment part {name!r} is not a PNG, JPEG or PDF (judged "
                                "by its bytes, not its Content-Type). Nothing was stored")
        request_body.attachments[name] = (received, content_type)


async def _read_multipart_request(request: web.Request, services: Services,
                                  request_body: AnnotationRequest) -> None:
    budget = Budget(services.settings.max_upload_bytes)
    check_declared_length(request, budget)
    json_part = None
    async for part in multipart_parts(request, services):
        name = part.name or ""
        if name in JSON_PARTS:
            if json_part is not None:
                raise ApiError(422, "send one 'annotation' part holding the JSON body")
            json_part = await read_small_part(part, services.settings.max_json_bytes, budget,
                                              services)
        elif ATTACHMENT_NAME.fullmatch(name):
            await _receive_attachment_part(part, services, budget, request_body)
        else:
            raise ApiError(422, f"unexpected part {name!r}: send an 'annotation' part with "
                                "the JSON body and one part per attachment named by its "
                                "SHA-256 hex")
    if json_part is None:
        raise ApiError(422, "the multipart body has no 'annotation' part holding the JSON body")
    _verify_attachments(request_body)
    request_body.body = await parse_json(json_part, services)


@asynccontextmanager
async def annotation_request(request: web.Request, services: Services
                             ) -> AsyncIterator[AnnotationRequest]:
    """Read a JSON or multipart annotation write; temporary files are gone on exit."""
    request_body = AnnotationRequest()
    try:
        if request.content_type.startswith("multipart/"):
            await _read_multipart_request(request, services, request_body)
        else:
            request_body.body = await parse_json(await read_body(request, services),
                                                 services)
        yield request_body
    finally:
        request_body.discard()
