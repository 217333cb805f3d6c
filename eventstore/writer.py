"""The one writer of a process: decides commands against current state and appends the
resulting events of every waiting request in ONE transaction (group commit).

Requests hand it commands through a queue and get a ``concurrent.futures.Future``, so the
event loop never waits on the disk. A command that fails is a ``Rejected`` outcome and never
fails its neighbours; only a failure of the append itself fails the whole batch.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from ulid import ULID

from eventstore.commands import (
    Accepted,
    Command,
    CreateAnnotation,
    DeleteAnnotation,
    DeleteDocument,
    Outcome,
    Rejected,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.domain import (
    DEFAULT_LAYER,
    Annotation,
    Attachment,
    Document,
    Layer,
    aggregate_from_head,
    annotation_stream_id,
    attachment_stream_id,
    document_stream_id,
    layer_stream_id,
)
from eventstore.errors import (
    AnnotationExistsError,
    AnnotationNotFoundError,
    AttachmentNotFoundError,
    DocumentExistsError,
    DocumentNotFoundError,
    DomainError,
    LogUnavailableError,
    UnstorableError,
)
from eventstore.log import EventLog, LoggedEvent

log = logging.getLogger(__name__)
UNSTORABLE = (TypeError, ValueError)  # what encoding raises for data JSON cannot carry

AnnotationCommand = CreateAnnotation | UpdateAnnotation | DeleteAnnotation
ANNOTATION_COMMANDS = (CreateAnnotation, UpdateAnnotation, DeleteAnnotation)


@dataclass
class _Request:
    commands: Sequence[Command]
    request_id: str
    future: Future[list[Outcome]] = field(default_factory=Future)


class HeadCache:
    """Last event per stream, for the streams the writer touched recently (LRU)."""

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._heads: OrderedDict[UUID, Aggregate.Event] = OrderedDict()

    def get(self, stream_id: UUID) -> Aggregate.Event | None:
        head = self._heads.get(stream_id)
        if head is not None:
            self._heads.move_to_end(stream_id)
        return head

    def put_all(self, heads: dict[UUID, Aggregate.Event]) -> None:
        self._heads.update(heads)
        for stream_id in heads:
            self._heads.move_to_end(stream_id)
        while len(self._heads) > self.maxsize:
            self._heads.popitem(last=False)

    def clear(self) -> None:
        self._heads.clear()


class Decider:
    """Decides one batch of commands against the log's current state plus its own events."""

    def __init__(self, log: EventLog, cache: HeadCache) -> None:
        self.log = log
        self.cache = cache
        self.heads: dict[UUID, Aggregate.Event | None] = {}
        self.events: list[Aggregate.Event] = []

    def preload(self, commands: Sequence[Command]) -> None:
        """Read every head the batch needs with a few batched queries."""
        self._load(document_stream_id(c.document_id) for c in commands)
        streams: list[UUID] = []
        for command in commands:
            document = self._live_document(command.document_id)
            if document is not None and isinstance(command, ANNOTATION_COMMANDS):
                if command.layer != DEFAULT_LAYER:
                    streams.append(layer_stream_id(document.instance, command.layer))
                streams.append(
                    annotation_stream_id(document.instance, command.layer, command.annotation_id)
                )
                streams.extend(attachment_stream_id(document.instance, a)
                               for a in getattr(command, "references", ()))
        self._load(streams)

    def _load(self, stream_ids: Any) -> None:
        missing = []
        for stream_id in stream_ids:
            if stream_id in self.heads:
                continue
            cached = self.cache.get(stream_id)
            if cached is None:
                missing.append(stream_id)
            else:
                self.heads[stream_id] = cached
        found = self.log.heads(missing)
        for stream_id in missing:
            self.heads[stream_id] = found.get(stream_id)

    def _head(self, stream_id: UUID) -> Aggregate.Event | None:
        if stream_id not in self.heads:
            self._load([stream_id])
        return self.heads[stream_id]

    def _live_document(self, document_id: str) -> Any:
        head = self._head(document_stream_id(document_id))
        if head is None or isinstance(head, Document.Deleted):
            return None
        return head

    def _emit(self, events: Sequence[Aggregate.Event]) -> None:
        for event in events:
            self.heads[event.originator_id] = event
        self.events.extend(events)

    def decide(self, command: Command, request_id: str) -> tuple[dict[str, Any] | None, int]:
        """Append the command's events to the batch; returns (result, event count)."""
        before = len(self.events)
        match command:
            case UploadDocument():
                result = self._upload(command, request_id)
            case DeleteDocument():
                result = self._delete_document(command, request_id)
            case _:
                result = self._annotation(command, request_id)
        return result, len(self.events) - before

    def _upload(self, command: UploadDocument, request_id: str) -> dict[str, Any]:
        stream_id = document_stream_id(command.document_id)
        head = self._head(stream_id)
        if head is not None and not isinstance(head, Document.Deleted) and not command.overwrite:
            raise DocumentExistsError(
                f"a document with id {command.document_id!r} already exists; "
                "delete it first or upload with overwrite_existing_document=true"
            )
        fields = dict(
            document_id=command.document_id, instance=str(ULID()), title=command.title,
            sha256=command.sha256, byte_size=command.byte_size,
            password_protected=command.password_protected, pages=command.pages,
            request_id=request_id,
        )
        if head is None:
            document = Document._create(Document.Uploaded, id=stream_id, **fields)
        else:
            document = aggregate_from_head(head)
            document.trigger_event(Document.Reuploaded, **fields)
        self._emit(document.collect_events())
        return {"document_id": command.document_id, "instance": fields["instance"]}

    def _delete_document(self, command: DeleteDocument, request_id: str) -> dict[str, Any]:
        head = self._live_document(command.document_id)
        if head is None:
            raise DocumentNotFoundError(f"document {command.document_id!r} not found")
        document = aggregate_from_head(head)
        document.trigger_event(
            Document.Deleted, document_id=command.document_id, instance=head.instance,
            request_id=request_id,
        )
        self._emit(document.collect_events())
        return {"document_id": command.document_id}

    def _annotation(self, command: AnnotationCommand, request_id: str) -> dict[str, Any] | None:
        document = self._live_document(command.document_id)
        if document is None:
            raise DocumentNotFoundError(f"document {command.document_id!r} not found")
        stream_id = annotation_stream_id(document.instance, command.layer, command.annotation_id)
        head = self._head(stream_id)
        live = head is not None and not isinstance(head, Annotation.Deleted)
        if isinstance(command, CreateAnnotation):
            if live:
                raise AnnotationExistsError(
                    f"an annotation with id {command.annotation_id!r} already exists "
                    f"in {_layer_phrase(command.layer)}"
                )
            self._ensure_attachments(document, command)
            self._ensure_layer(document, command.layer)
            annotation = self._create(document, stream_id, head, command, request_id)
        elif not live:
            if isinstance(command, DeleteAnnotation) and command.missing_ok:
                return None
            raise AnnotationNotFoundError(
                f"no annotation with id {command.annotation_id!r} in {_layer_phrase(command.layer)}"
            )
        else:
            annotation = aggregate_from_head(head)
            if isinstance(command, UpdateAnnotation):
                self._ensure_attachments(document, command)
                group = annotation.group if command.keep_group else command.group
                annotation.update(content=command.content, group=group,
                                  user_id=command.user_id, request_id=request_id)
            else:
                annotation.delete(user_id=command.user_id, request_id=request_id)
        self._emit(annotation.collect_events())
        return annotation.record()

    def _create(self, document: Any, stream_id: UUID, head: Aggregate.Event | None,
                command: CreateAnnotation, request_id: str) -> Annotation:
        if head is not None:  # the id was used before and deleted
            annotation = aggregate_from_head(head)
            annotation.recreate(content=command.content, group=command.group,
                                user_id=command.user_id, request_id=request_id)
            return annotation
        return Annotation._create(
            Annotation.Created, id=stream_id, document_id=command.document_id,
            instance=document.instance, layer=command.layer,
            annotation_id=command.annotation_id, content=command.content,
            group=command.group, created_by=command.user_id, updated_by=command.user_id,
            request_id=request_id,
        )

    def _ensure_attachments(self, document: Any,
                            command: CreateAnnotation | UpdateAnnotation) -> None:
        """Every referenced attachment is sent now or already held; record the new ones."""
        sent = {a.attachment_id: a for a in command.attachments}
        missing = [a for a in command.references
                   if a not in sent and self._head(
                       attachment_stream_id(document.instance, a)) is None]
        if missing:
            raise AttachmentNotFoundError(
                f"attachment {missing[0]!r} is neither sent with this request nor held by "
                f"document {document.document_id!r}; send it as a multipart part named by "
                "its SHA-256")
        for attachment_id in command.references:
            stream_id = attachment_stream_id(document.instance, attachment_id)
            if self._head(stream_id) is None:
                new = sent[attachment_id]
                self._emit([Attachment._create(
                    Attachment.Attached, id=stream_id, document_id=document.document_id,
                    instance=document.instance, attachment_id=attachment_id,
                    content_type=new.content_type, byte_size=new.byte_size).collect_events()[0]])

    def _ensure_layer(self, document: Any, layer: str) -> None:
        if layer == DEFAULT_LAYER:
            return
        stream_id = layer_stream_id(document.instance, layer)
        if self._head(stream_id) is None:
            created = Layer.Created(
                originator_id=stream_id, originator_version=1,
                timestamp=Layer.Created.create_timestamp(), originator_topic=LAYER_TOPIC,
                document_id=document.document_id, instance=document.instance, name=layer,
            )
            self._emit([created])


LAYER_TOPIC = get_topic(Layer)


def _layer_phrase(layer: str) -> str:
    return "the default layer" if layer == DEFAULT_LAYER else f"layer {layer!r}"


class Writer:
    """Owns every append of this process. Start it, ``submit`` commands, stop it."""

    def __init__(self, log: EventLog, *, max_batch_commands: int = 50_000,
                 cache_size: int = 20_000,
                 on_commit: Callable[[list[LoggedEvent]], None] | None = None) -> None:
        self.log = log
        self.max_batch_commands = max_batch_commands
        self.cache = HeadCache(cache_size)
        self.on_commit = on_commit
        self.last_revision = log.max_revision()
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="annolog-writer", daemon=True)
        self.batches = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def submit(self, commands: Sequence[Command], request_id: str) -> Future[list[Outcome]]:
        request = _Request(commands, request_id)
        self._queue.put(request)
        return request.future

    def execute(self, commands: Sequence[Command], request_id: str = "cli") -> list[Outcome]:
        """Submit and wait: for tools and tests that have no event loop."""
        return self.submit(commands, request_id).result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._drain(first)
            self._write(batch)
            if stopping:
                return

    def _drain(self, first: _Request) -> tuple[list[_Request], bool]:
        batch, size = [first], len(first.commands)
        while size < self.max_batch_commands:
            try:
                request = self._queue.get_nowait()
            except queue.Empty:
                break
            if request is None:
                return batch, True
            batch.append(request)
            size += len(request.commands)
        return batch, False

    def _write(self, batch: list[_Request]) -> None:
        live = [r for r in batch if r.future.set_running_or_notify_cancel()]
        try:
            results = self._commit(live)
        except UNSTORABLE as error:  # one command whose data cannot be encoded
            [request] = live
            request.future.set_result([Rejected(UnstorableError(
                f"this item could not be stored: {error}"))])
            return
        except Exception as error:  # even alone, the append failed: nothing was stored
            log.exception("append failed; %d requests rejected", len(live))
            failure = LogUnavailableError(
                f"the event log could not be written ({type(error).__name__}: {error}); "
                "nothing of this request was saved"
            )
            for request in live:
                request.future.set_exception(failure)
            return
        for request, outcomes in zip(live, results):
            request.future.set_result(outcomes)

    def _commit(self, batch: list[_Request]) -> list[list[Outcome]]:
        """Append the batch in one transaction. If that fails, nothing of it was stored:
        retry each request alone, then each command alone, so a command whose events
        cannot be stored fails by itself and never its neighbours."""
        try:
            outcomes, committed = self._decide_and_append(batch)
        except Exception:
            self.cache.clear()
            if len(batch) > 1:
                return [self._commit([request])[0] for request in batch]
            request = batch[0]
            if len(request.commands) > 1:
                return [[self._commit_alone(c, request.request_id) for c in request.commands]]
            raise
        self.batches += 1
        if committed:
            self.last_revision = committed[-1].revision
            if self.on_commit is not None:
                self.on_commit(committed)
        return outcomes

    def _commit_alone(self, command: Command, request_id: str) -> Outcome:
        try:
            [[outcome]] = self._commit([_Request([command], request_id)])
        except UNSTORABLE as error:
            log.warning("command refused: its events could not be encoded: %s", error)
            return Rejected(UnstorableError(f"this item could not be stored: {error}"))
        return outcome

    def _decide_and_append(self, batch: list[_Request]
                           ) -> tuple[list[list[Outcome]], list[LoggedEvent]]:
        decider = Decider(self.log, self.cache)
        decider.preload([c for r in batch for c in r.commands])
        pending: list[list[tuple[Any, int, DomainError | None]]] = []
        for request in batch:
            pending.append([self._decide_one(decider, c, request.request_id)
                            for c in request.commands])
        revisions = self._append(decider.events)
        self.cache.put_all({k: v for k, v in decider.heads.items() if v is not None})
        outcomes, position = [], 0
        for decided in pending:
            request_outcomes: list[Outcome] = []
            for result, count, error in decided:
                if error is not None:
                    request_outcomes.append(Rejected(error))
                    continue
                position += count
                revision = revisions[position - 1] if count else 0
                request_outcomes.append(Accepted(result, revision))
            outcomes.append(request_outcomes)
        return outcomes, [LoggedEvent(r, e) for r, e in zip(revisions, decider.events)]

    @staticmethod
    def _decide_one(decider: Decider, command: Command,
                    request_id: str) -> tuple[Any, int, DomainError | None]:
        try:
            result, count = decider.decide(command, request_id)
        except DomainError as error:
            return None, 0, error
        return result, count, None

    def _append(self, events: list[Aggregate.Event]) -> list[int]:
        if not events:
            return []
        return self.log.append(events)
