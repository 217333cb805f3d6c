"""The composition root: the log, its writer, the projector and the read model of a process."""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from api.answers import AnswerCache
from api.errors import ApiError
from api.offload import LARGE, Offload
from api.settings import SETTINGS, Settings
from eventstore.blobs import BlobStore
from eventstore.commands import Accepted, Command, Outcome
from eventstore.log import EventLog, open_log
from eventstore.postgres_store import HeadsPostgresRecorder, LogListener
from eventstore.sqlite_store import Checkpointer, DataDirLock
from eventstore.writer import Writer
from projections.covers import CoverCache
from projections.projector import Projector
from projections.queries import DocumentRow, ReadModel
from projections.rebuild import replay
from projections.waiting import RevisionWaiter

log = logging.getLogger(__name__)
T = TypeVar("T")
WRITE_PART = 2000  # commands per append of a large batch that need not be all or nothing


@dataclass
class Services:
    settings: Settings
    log: EventLog
    writer: Writer
    projector: Projector
    read_model: ReadModel
    waiter: RevisionWaiter
    blobs: BlobStore
    executor: ThreadPoolExecutor
    opened: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    documents: dict[str, DocumentRow | None] = field(default_factory=dict)
    documents_generation: int = -1
    revoked: frozenset[str] = frozenset()
    revoked_generation: int = -1
    listener: LogListener | None = None  # with PostgreSQL: other processes' news
    offload: Offload = field(default_factory=Offload)  # large bodies and PDFs, off the loop
    covers: CoverCache = field(default_factory=CoverCache)
    bases: dict[tuple[str, str], int] = field(default_factory=dict)  # see base_revision
    answers: AnswerCache = field(default_factory=AnswerCache)  # see api.answers

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking work (read-model queries, fsync, PDF parsing) off the event loop."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, partial(function, *args, **kwargs))

    async def read_pdf(self, function: Callable[..., T], path: Path, *args: Any) -> T:
        """``function(path, ...)`` reading a PDF: in the child process when the file is
        large (qpdf's memory then never swells this one), else in a thread."""
        if path.stat().st_size > LARGE:
            return await self.offload.run(function, path, *args)
        return await self.run(function, path, *args)

    async def write(self, commands: Sequence[Command], request_id: str, *,
                    atomic: bool = False) -> tuple[list[Outcome], int]:
        """Hand commands to the writer; answer once the read model shows them. A large
        batch that need not be all or nothing is written a part at a time, so other
        requests' writes take turns with it and the writer and projector hold one part in
        memory, not all of it."""
        parts = [commands] if atomic else [commands[start:start + WRITE_PART]
                                           for start in range(0, len(commands), WRITE_PART)
                                           ] or [commands]
        outcomes: list[Outcome] = []
        for part in parts:
            written: list[Outcome] = await asyncio.wrap_future(
                self.writer.submit(part, request_id, atomic=atomic))
            outcomes += written
        revision = max((o.revision for o in outcomes if isinstance(o, Accepted)), default=0)
        if revision and not await self.waiter.wait_for(revision, self.settings.write_timeout):
            raise ApiError(503, f"saved at revision {revision}, but the read model did not "
                                "catch up in time; reads may not show it yet")
        return outcomes, revision

    def answer_key(self, row: DocumentRow, *parts: object
                   ) -> tuple[tuple[object, ...], tuple[int, int]]:
        """A question about a document's records and the document's generation, the key of
        a cached answer (see ``api.answers``): read before the query it caches."""
        return ((row.document_id, row.instance, *parts),
                self.projector.writer.generation(row.document_id))

    async def document(self, document_id: str) -> DocumentRow | None:
        """A live document's row. Rows change only with document events, so they are cached
        until the projector applies the next one."""
        generation = self.projector.writer.documents_changed
        if generation != self.documents_generation:
            self.documents.clear()
            self.documents_generation = generation
        if document_id in self.documents:
            return self.documents[document_id]
        row = await self.run(self.read_model.document, document_id)
        if generation == self.projector.writer.documents_changed and len(self.documents) < 10_000:
            self.documents[document_id] = row
        return row

    async def is_revoked(self, jti: str | None) -> bool:
        """Whether a client JWT id was revoked; the set is reloaded only when it changes."""
        generation = self.projector.writer.revocations_changed
        if generation != self.revoked_generation:
            self.revoked = await self.run(self.read_model.revoked)
            self.revoked_generation = generation
        return jti is not None and jti in self.revoked

    async def base_revision(self, row: DocumentRow) -> int:
        """The end of the write that uploaded the document: its default layer then is the
        base layer (the PDF's own annotations, or what the upload's attachment made of
        them), which never changes for one incarnation."""
        key = (row.document_id, row.instance)
        if key not in self.bases:
            if len(self.bases) > 4096:
                self.bases.clear()
            self.bases[key] = await self.run(self.log.write_end, row.revision)
        return self.bases[key]

    async def caught_up(self) -> int:
        """Wait until the read model shows every write committed so far (by any process);
        returns that revision. The log, not this process's writer, knows the latest."""
        latest = await self.run(self.log.max_revision)
        if not await self.waiter.wait_for(latest, self.settings.write_timeout):
            raise ApiError(503, f"this process's read model is at revision "
                                f"{self.waiter.position}, behind the log's {latest}; retry")
        return latest


SERVICES = web.AppKey("services", Services)


def progress_logger(total: int, every_seconds: float = 5.0) -> Callable[[int], None]:
    """A progress callback for long start-up work that logs at most every few seconds."""
    last = time.monotonic()

    def report(position: int) -> None:
        nonlocal last
        if time.monotonic() - last >= every_seconds:
            last = time.monotonic()
            log.info("building the read model: revision %d of %d", position, total)
    return report


async def services_context(app: web.Application) -> AsyncIterator[None]:
    """Open the data directory, catch the read model up, then start writing and following."""
    settings = app[SETTINGS]
    lock = DataDirLock(settings.data_dir)
    event_log = open_log(settings.data_dir, settings.database_url,
                         background_checkpoints=True)
    blobs = BlobStore(settings.blobs_path)
    # A shared blob directory may hold other processes' uploads in flight: spare young ones.
    shared = settings.database_url is not None or settings.blob_dir is not None
    blobs.remove_stale_temporaries(min_age_seconds=3600 if shared else 0)
    loop = asyncio.get_running_loop()
    waiter = RevisionWaiter(loop)
    read_model_path = settings.data_dir / "readmodel.sqlite"
    # A first start (or a new read-model schema) builds the read model in bulk, far faster
    # than the projector's small batches; otherwise this catches up what the log added.
    await loop.run_in_executor(None, replay, event_log, read_model_path, None,
                               progress_logger(event_log.max_revision()))
    # With PostgreSQL other processes append too: their commits wake the projector (LISTEN),
    # and it polls often as well, in case notifications are lost.
    projector = Projector(event_log, read_model_path,
                          on_advance=waiter.advanced,
                          poll_seconds=0.25 if settings.database_url else 1.0,
                          background_checkpoints=True)
    # No commit of the writer or the projector pays for a checkpoint: a thread does them.
    source = event_log.sqlite_source()
    checkpointer = Checkpointer([read_model_path] + ([source[0]] if source else []))
    checkpointer.start()
    position = await loop.run_in_executor(None, projector.catch_up)
    waiter.position = position
    log.info("read model at revision %d", position)
    projector.start()
    listener = None
    if isinstance(event_log.recorder, HeadsPostgresRecorder):
        listener = LogListener(event_log.recorder, projector.poke)
        listener.start()
        # Serve once other processes can be heard (presence questions need the answers);
        # if the database refuses LISTEN, start anyway and follow by polling.
        if not await loop.run_in_executor(None, listener.listening.wait, 10.0):
            log.warning("not yet listening for other processes' commits; following by polling")
    writer = Writer(event_log, on_commit=projector.apply_committed)
    writer.start()
    executor = ThreadPoolExecutor(4, thread_name_prefix="annolog-read")
    read_model = ReadModel(projector.path)
    gc.freeze()  # start-up objects live forever: keep them out of every collection
    app[SERVICES] = Services(settings, event_log, writer, projector, read_model, waiter, blobs,
                             executor, listener=listener)
    try:
        yield
    finally:
        app[SERVICES].offload.close()
        writer.stop()
        if listener is not None:
            listener.stop()
        projector.stop()
        checkpointer.stop()
        executor.shutdown(wait=True)
        event_log.close()
        lock.release()

