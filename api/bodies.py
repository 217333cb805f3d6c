"""Request bodies: read within limits of size and time, parsed as JSON without stalling the
event loop (strict JSON first; the seed's relaxed syntax for small bodies only)."""

from __future__ import annotations

import asyncio
import math
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson
import pyjson5
from aiohttp import web

from api.errors import ApiError
from api.offload import LARGE, Offload, assemble, release_memory, split_json
from api.settings import Settings
from eventstore.blobs import BlobStore

T = TypeVar("T")


class Services(Protocol):
    """What reading a body needs of the services: limits, scratch files, threads and the
    child process (``api.services.Services`` has them)."""

    settings: Settings
    blobs: BlobStore
    offload: Offload

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T: ...

# The seed's own examples use unquoted keys and trailing commas; they are tiny. Above this
# only strict JSON is read (pyjson5 is fast, but a relaxed body is a courtesy, not a format).
RELAXED_JSON_LIMIT = 64 * 1024
READ_CHUNK = 256 * 1024


async def within(seconds: float, step: Awaitable[T]) -> T:
    """One read of a body: a client that sends nothing for ``seconds`` is answered 408 and
    its connection closed, so slow senders cannot hold connections and memory."""
    try:
        async with asyncio.timeout(seconds):
            return await step
    except TimeoutError:
        raise ApiError(408, f"the request body stopped arriving: nothing for {seconds:g} s "
                            "(ANNOLOG_BODY_TIMEOUT)", close=True) from None


async def read_body(request: web.Request, services: Services) -> bytes:
    """The whole body, at most ANNOLOG_MAX_JSON_BYTES."""
    limit = services.settings.max_json_bytes
    if request.content_length is not None and request.content_length > limit:
        raise _too_large(limit)
    body = bytearray()
    async for chunk in body_chunks(request, services):
        body += chunk
        if len(body) > limit:
            raise _too_large(limit)
    return bytes(body)


async def body_chunks(request: web.Request, services: Services) -> AsyncIterator[bytes]:
    idle = services.settings.body_timeout
    while chunk := await within(idle, request.content.read(READ_CHUNK)):
        yield chunk


def _too_large(limit: int) -> ApiError:
    return ApiError(413, f"the request body is larger than {limit} bytes "
                         "(ANNOLOG_MAX_JSON_BYTES)")


async def read_json(request: web.Request, services: Services) -> Any:
    if request.content_type.startswith("multipart/"):
        raise ApiError(415, "this route takes a JSON body, not multipart/form-data")
    return await parse_json(await read_body(request, services), services)


async def parse_json(body: bytes, services: Services) -> Any:
    """A body parsed as JSON: large ones in the child process (see ``api.offload``), and the
    heap their request used is given back once it is answered (a 60 MB body otherwise left
    the server some 500 MB larger for good)."""
    if len(body) <= LARGE:
        return parse_json_bytes(body)
    task = asyncio.current_task()  # aiohttp's task for this request: it ends once answered
    if task is not None:
        task.add_done_callback(
            lambda done: done.get_loop().run_in_executor(None, release_memory))
    body_path, items_path = await services.run(_scratch_files, services, body)
    try:
        error, rest, counts = await services.offload.run(split_json, str(body_path),
                                                         str(items_path))
        if error is not None:
            await services.run(utf8_text, body)
            raise ApiError(422, f"the request body is not valid JSON: {error}")
        lines = await services.run(lambda: items_path.read_bytes().splitlines())
        return await assemble(rest, counts, lines)
    except BrokenProcessPool:
        raise ApiError(503, "the process that parses large bodies failed twice; nothing was "
                            "stored, try again") from None
    finally:
        await services.run(_remove, body_path, items_path)


def _remove(*paths: Path) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def _scratch_files(services: Services, body: bytes) -> tuple[Path, Path]:
    """The body in a temporary file, and another for the child's answer."""
    fd, body_path = services.blobs.temporary()
    with os.fdopen(fd, "wb") as f:
        f.write(body)
    fd, items_path = services.blobs.temporary()
    os.close(fd)
    return body_path, items_path


def parse_json_bytes(body: bytes) -> Any:
    """Strict JSON first; small bodies may use the relaxed syntax the seed's own examples
    use (unquoted keys, trailing commas). Nesting is bounded by both parsers (1,024 and 32
    levels), so no body can exhaust the stack."""
    if not body.strip():
        raise ApiError(422, "the request body is empty; send a JSON object")
    try:
        return orjson.loads(body)  # reads UTF-8 and refuses anything else
    except orjson.JSONDecodeError as strict_error:
        text = utf8_text(body)  # not UTF-8 at all: 400, whatever the syntax
        if len(body) > RELAXED_JSON_LIMIT:
            raise ApiError(422, f"the request body is not valid JSON: {strict_error}") from None
        return _relaxed(text, strict_error)


def utf8_text(data: bytes, what: str = "the request body") -> str:
    """``data`` read as strict UTF-8 (no lone surrogates, no overlong forms): JSON text is
    UTF-8 (RFC 8259), and text read any other way is stored corrupted without a sound."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ApiError(400, f"{what} is not valid UTF-8: byte 0x{data[error.start]:02x} at "
                            f"offset {error.start} ({error.reason}); send text encoded as "
                            "UTF-8. Nothing was stored") from None


def _relaxed(text: str, strict_error: Exception) -> Any:
    try:
        value = pyjson5.decode(text)  # a str: decode_buffer would read bytes as Latin-1
    except pyjson5.Json5NestingTooDeep:
        raise ApiError(422, "the request body nests objects and arrays too deeply for the "
                            "relaxed syntax (32 levels); send strict JSON") from None
    except (pyjson5.Json5Exception, ValueError):
        raise ApiError(422, f"the request body is not valid JSON: {strict_error}") from None
    if _has_non_finite(value):
        raise ApiError(422, "the request body holds NaN or Infinity, which JSON cannot carry")
    return value


def _has_non_finite(value: Any) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, dict):
        return any(_has_non_finite(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(v) for v in value)
    return False
