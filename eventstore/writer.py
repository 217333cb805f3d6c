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
from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic
from ulid import ULID

from eventstore.commands import (
    HIDDEN,
    Accepted,
    Command,
    CopyAnnotation,
    CreateAnnotation,
    CreateLayer,
    DeleteAnnotation,
    DeleteDocument,
    DeleteLayer,
    Outcome,
    PutAnnotation,
    Rejected,
    RevokeToken,
    SetSections,
    UpdateAnnotation,
    UploadDocument,
)
from eventstore.domain import (
    DEFAULT_LAYER,
    SECTION_KEYS,
    SECTIONS,
    Annotation,
    Attachment,
    Document,
    Layer,
    LayerSections,
    Token,
    aggregate_from_head,
    annotation_stream_id,
    attachment_stream_id,
    document_stream_id,
    layer_stream_id,
    sections_stream_id,
    token_stream_id,
)
from eventstore.errors import (
    AnnotationExistsError,
    AnnotationNotFoundError,
    AppendOutcomeUnknownError,
    AttachmentNotFoundError,
    ConflictError,
    DocumentExistsError,
    DocumentNotFoundError,
    DomainError,
    EncodingError,
    ForbiddenError,
    LayerExistsError,
    LayerNotFoundError,
    LogUnavailableError,
    NotAppliedError,
    StaleVersionError,
    UnstorableError,
)
from eventstore.log import EventLog, LoggedEvent

log = logging.getLogger(__name__)
UNSTORABLE = EncodingError  # data JSON cannot carry; any other error is the disk's or a bug



@dataclass
class _Request:
    commands: Sequence[Command]
    request_id: str
    atomic: bool = False  # all commands are applied, or none
    future: Future[list[Outcome]] = field(default_factory=Future)


class HeadCache:
    """Last event per stream, for the streams the writer touched recently (LRU), bounded by
    count and by the bytes the events take in the log: heads hold whole records, and a count
    alone let 20,000 large ink drawings hold gigabytes."""

    def __init__(self, maxsize: int, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.maxsize = maxsize
        self.max_bytes = max_bytes
        self.bytes = 0
        self._heads: OrderedDict[UUID, tuple[Aggregate.Event, int]] = OrderedDict()

    def get(self, stream_id: UUID) -> tuple[Aggregate.Event, int] | None:
        """The head and its size, or None."""
        head = self._heads.get(stream_id)
        if head is not None:
            self._heads.move_to_end(stream_id)
        return head

    def put_all(self, heads: dict[UUID, tuple[Aggregate.Event, int]]) -> None:
        for stream_id, head in heads.items():
            previous = self._heads.pop(stream_id, None)
            if previous is not None:
                self.bytes -= previous[1]
            self._heads[stream_id] = head
            self.bytes += head[1]
        while self._heads and (len(self._heads) > self.maxsize or
                               self.bytes > self.max_bytes):
            self.bytes -= self._heads.popitem(last=False)[1][1]

    def clear(self) -> None:
        self._heads.clear()
        self.bytes = 0


MISSING = object()
ANNOTATION_TOPIC = get_topic(Annotation)


class Decider:
    """Decides one batch of commands against the log's current state plus its own events."""

    def __init__(self, log: EventLog, cache: HeadCache) -> None:
        self.log = log
        self.cache = cache
        self.heads: dict[UUID, Aggregate.Event | None] = {}
        self.sizes: dict[UUID, int] = {}  # of the heads, as stored in the log
        self.events: list[Aggregate.Event] = []
        self._undo: list[tuple[UUID, Any]] = []
        self._fresh_instances: set[str] = set()  # documents uploaded in this batch

    def preload(self, commands: Sequence[Command]) -> None:
        """Read every head the batch needs with a few batched queries."""
        commands = [c for c in commands if hasattr(c, "document_id")]
        self._load(document_stream_id(c.document_id) for c in commands)
        streams: list[UUID] = []
        for command in commands:
            document = self._live_document(command.document_id)
            if document is not None:
                streams.extend(_streams_of(command, document.instance))
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
                self.heads[stream_id], self.sizes[stream_id] = cached
        found = self.log.heads(missing)
        for stream_id in missing:
            head, size = found.get(stream_id, (None, 0))
            self.heads[stream_id] = head
            self.sizes[stream_id] = size

    def _head(self, stream_id: UUID, instance: str | None = None) -> Aggregate.Event | None:
        if stream_id not in self.heads:
            if instance in self._fresh_instances:  # a new instance has no streams yet
                self.heads[stream_id] = None
            else:
                self._load([stream_id])
        return self.heads[stream_id]

    def _live_document(self, document_id: str) -> Any:
        head = self._head(document_stream_id(document_id))
        if head is None or isinstance(head, Document.Deleted):
            return None
        return head

    def _emit(self, events: Sequence[Aggregate.Event]) -> None:
        for event in events:
            self._undo.append((event.originator_id,
                               self.heads.get(event.originator_id, MISSING)))
            self.heads[event.originator_id] = event
        self.events.extend(events)

    def checkpoint(self) -> tuple[int, int]:
        return len(self.events), len(self._undo)

    def rollback(self, checkpoint: tuple[int, int]) -> None:
        """Forget every event decided since ``checkpoint`` (an all-or-nothing request)."""
        events, undo = checkpoint
        del self.events[events:]
        while len(self._undo) > undo:
            stream_id, previous = self._undo.pop()
            if previous is MISSING:
                self.heads.pop(stream_id, None)
            else:
                self.heads[stream_id] = previous

    def decide(self, command: Command, request_id: str) -> tuple[dict[str, Any] | None, int]:
        """Append the command's events to the batch; returns (result, event count)."""
        before = len(self.events)
        handler = getattr(self, DECISIONS[type(command)])
        result = handler(command, request_id)
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
        self._fresh_instances.add(fields["instance"])
        self._emit(document.collect_events())
        return {"document_id": command.document_id, "instance": fields["instance"]}

    def _delete_document(self, command: DeleteDocument, request_id: str) -> dict[str, Any]:
        head = self._document(command.document_id)
        document = aggregate_from_head(head)
        document.trigger_event(
            Document.Deleted, document_id=command.document_id, instance=head.instance,
            request_id=request_id,
        )
        self._emit(document.collect_events())
        return {"document_id": command.document_id}

    def _document(self, document_id: str) -> Any:
        document = self._live_document(document_id)
        if document is None:
            raise DocumentNotFoundError(f"document {document_id!r} not found")
        return document

    def _annotation_head(self, document: Any, layer: str, annotation_id: str
                         ) -> tuple[UUID, Aggregate.Event | None, bool]:
        stream_id = annotation_stream_id(document.instance, layer, annotation_id)
        head = self._head(stream_id, document.instance)
        return stream_id, head, head is not None and not isinstance(head, Annotation.Deleted)

    def _create_annotation(self, command: CreateAnnotation, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id, head, live = self._annotation_head(document, command.layer,
                                                      command.annotation_id)
        if live:
            visible = command.guard is None or command.guard(
                aggregate_from_head(head).record()) != HIDDEN
            raise AnnotationExistsError(
                f"an annotation with id {command.annotation_id!r} already exists "
                f"in {_layer_phrase(command.layer)}" if visible else
                f"the id {command.annotation_id!r} is not available; choose another")
        self._ensure_attachments(document, command)
        self._ensure_layer(document, command.layer)
        return self._new(document, stream_id, head, command, command.user_id, command.user_id,
                         request_id)

    def _copy_annotation(self, command: CopyAnnotation, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id, head, live = self._annotation_head(document, command.layer,
                                                      command.annotation_id)
        if live:
            raise AnnotationExistsError(
                f"an annotation with id {command.annotation_id!r} already exists "
                f"in {_layer_phrase(command.layer)}")
        self._ensure_layer(document, command.layer)
        return self._new(document, stream_id, head, command, command.created_by,
                         command.updated_by, request_id)

    def _put_annotation(self, command: PutAnnotation, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id, head, live = self._annotation_head(document, command.layer,
                                                      command.annotation_id)
        self._ensure_attachments(document, command)
        if not live:
            self._ensure_layer(document, command.layer)
            return self._new(document, stream_id, head, command, command.user_id,
                             command.user_id, request_id)
        annotation = aggregate_from_head(head)
        annotation.update(content=command.content, group=command.group,
                          user_id=command.user_id, request_id=request_id)
        self._emit(annotation.collect_events())
        return annotation.record()

    def _live_annotation(self, command: Any) -> tuple[Any, Any]:
        document = self._document(command.document_id)
        _, head, live = self._annotation_head(document, command.layer, command.annotation_id)
        not_found = AnnotationNotFoundError(
            f"no annotation with id {command.annotation_id!r} in {_layer_phrase(command.layer)}")
        if not live:
            raise not_found
        annotation = aggregate_from_head(head)
        verdict = command.guard(annotation.record()) if command.guard is not None else None
        if verdict == HIDDEN:
            raise not_found  # the same answer as for a missing record: nothing leaks
        if verdict is not None:
            raise ForbiddenError(verdict)
        base = getattr(command, "base_version", None)
        if base is not None and base != annotation.version:
            raise StaleVersionError(
                f"annotation {command.annotation_id!r} is at version {annotation.version}, "
                f"not {base}: it changed since; nothing was saved",
                {**annotation.record(), "version": annotation.version})
        return document, annotation

    def _update_annotation(self, command: UpdateAnnotation, request_id: str) -> dict[str, Any]:
        document, annotation = self._live_annotation(command)
        self._ensure_attachments(document, command)
        group = annotation.group if command.keep_group else command.group
        annotation.update(content=command.content, group=group, user_id=command.user_id,
                          request_id=request_id)
        self._emit(annotation.collect_events())
        return annotation.record()

    def _delete_annotation(self, command: DeleteAnnotation, request_id: str
                           ) -> dict[str, Any] | None:
        try:
            _, annotation = self._live_annotation(command)
        except AnnotationNotFoundError:
            if command.missing_ok:
                return None
            raise
        annotation.delete(user_id=command.user_id, request_id=request_id)
        self._emit(annotation.collect_events())
        return annotation.record()

    def _new(self, document: Any, stream_id: UUID, head: Aggregate.Event | None, command: Any,
             created_by: str | None, updated_by: str | None, request_id: str
             ) -> dict[str, Any]:
        fields = dict(content=command.content, group=command.group, created_by=created_by,
                      updated_by=updated_by, request_id=request_id)
        if head is not None:  # the id was used before and deleted
            annotation = aggregate_from_head(head)
            annotation.recreate(**fields)
            self._emit(annotation.collect_events())
            return annotation.record()
        # The hot path of bulk creates: the event itself, without an aggregate object.
        created = Annotation.Created(
            originator_id=stream_id, originator_version=1,
            timestamp=Annotation.Created.create_timestamp(), originator_topic=ANNOTATION_TOPIC,
            document_id=command.document_id, instance=document.instance, layer=command.layer,
            annotation_id=command.annotation_id, **fields)
        self._emit([created])
        return {"id": command.annotation_id, "content": command.content,
                "createdBy": created_by, "updatedBy": updated_by, "group": command.group}

    def _create_layer(self, command: CreateLayer, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        head = self._head(layer_stream_id(document.instance, command.layer), document.instance)
        if head is not None and not isinstance(head, Layer.Deleted):
            raise LayerExistsError(f"layer {command.layer!r} already exists")
        self._ensure_layer(document, command.layer)
        return {"name": command.layer}

    def _delete_layer(self, command: DeleteLayer, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        head = self._head(layer_stream_id(document.instance, command.layer), document.instance)
        if head is None or isinstance(head, Layer.Deleted):
            raise LayerNotFoundError(f"layer {command.layer!r} not found")
        layer = aggregate_from_head(head)
        layer.trigger_event(Layer.Deleted, document_id=document.document_id,
                            instance=document.instance, name=command.layer)
        self._emit(layer.collect_events())
        return {"name": command.layer}

    def _revoke_token(self, command: RevokeToken, request_id: str) -> dict[str, Any]:
        stream_id = token_stream_id(command.jti)
        if self._head(stream_id) is None:
            self._emit(Token._create(Token.Revoked, id=stream_id, jti=command.jti,
                                     expires=command.expires).collect_events())
        return {"jti": command.jti}

    def _ensure_attachments(self, document: Any, command: Any) -> None:
        """Every referenced attachment is sent now or already held; record the new ones."""
        if not command.references:
            return
        sent = {a.attachment_id: a for a in command.attachments}
        missing = [a for a in command.references if a not in sent and self._head(
            attachment_stream_id(document.instance, a), document.instance) is None]
        if missing:
            raise AttachmentNotFoundError(
                f"attachment {missing[0]!r} is neither sent with this request nor held by "
                f"document {document.document_id!r}; send it as a multipart part named by "
                "its SHA-256")
        for attachment_id in command.references:
            stream_id = attachment_stream_id(document.instance, attachment_id)
            if self._head(stream_id, document.instance) is None:
                new = sent[attachment_id]
                self._emit([Attachment._create(
                    Attachment.Attached, id=stream_id, document_id=document.document_id,
                    instance=document.instance, attachment_id=attachment_id,
                    sha256=new.blob, content_type=new.content_type,
                    byte_size=new.byte_size).collect_events()[0]])

    def _ensure_layer(self, document: Any, layer: str) -> None:
        if layer == DEFAULT_LAYER:
            return
        stream_id = layer_stream_id(document.instance, layer)
        head = self._head(stream_id, document.instance)
        fields = dict(document_id=document.document_id, instance=document.instance, name=layer)
        if head is None:
            self._emit(Layer._create(Layer.Created, id=stream_id, **fields).collect_events())
        elif isinstance(head, Layer.Deleted):
            aggregate = aggregate_from_head(head)
            aggregate.trigger_event(Layer.Recreated, **fields)
            self._emit(aggregate.collect_events())

    def _set_sections(self, command: SetSections, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id = sections_stream_id(document.instance, command.layer)
        head = self._head(stream_id, document.instance)
        before = {} if head is None else head.sections
        sections = merge_sections({} if command.replace else before, command.sections)
        result = {"sections": {name: len(records) for name, records in sections.items()}}
        if sections == before:
            return result
        if sections:
            self._ensure_layer(document, command.layer)
        fields = dict(document_id=document.document_id, instance=document.instance,
                      layer=command.layer, sections=sections, request_id=request_id)
        if head is None:
            self._emit(LayerSections._create(LayerSections.Started, id=stream_id,
                                             **fields).collect_events())
        else:
            aggregate = aggregate_from_head(head)
            aggregate.trigger_event(LayerSections.Changed, **fields)
            self._emit(aggregate.collect_events())
        return result


def merge_sections(current: dict[str, list[dict[str, Any]]],
                   changes: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Records of ``changes`` replace those of ``current`` with the same key, or are added;
    empty sections are left out."""
    merged = {}
    for name in SECTIONS:
        key = SECTION_KEYS[name]
        records = {record.get(key): record for record in current.get(name, ())}
        records.update((record.get(key), record) for record in changes.get(name, ()))
        if records:
            merged[name] = list(records.values())
    return merged


DECISIONS = {
    UploadDocument: "_upload",
    DeleteDocument: "_delete_document",
    CreateAnnotation: "_create_annotation",
    CopyAnnotation: "_copy_annotation",
    PutAnnotation: "_put_annotation",
    UpdateAnnotation: "_update_annotation",
    DeleteAnnotation: "_delete_annotation",
    CreateLayer: "_create_layer",
    DeleteLayer: "_delete_layer",
    RevokeToken: "_revoke_token",
    SetSections: "_set_sections",
}
LAYERED = (CreateAnnotation, CopyAnnotation, PutAnnotation, UpdateAnnotation, DeleteAnnotation)


def _streams_of(command: Command, instance: str) -> list[UUID]:
    """The streams a command will look at, so the batch can read them in one go."""
    streams: list[UUID] = []
    layer = getattr(command, "layer", DEFAULT_LAYER)
    if layer != DEFAULT_LAYER:
        streams.append(layer_stream_id(instance, layer))
    if isinstance(command, LAYERED):
        streams.append(annotation_stream_id(instance, layer, command.annotation_id))
        streams.extend(attachment_stream_id(instance, a)
                       for a in getattr(command, "references", ()))
    return streams


def _unstorable(error: Exception) -> Rejected:
    log.warning("command refused: its events could not be encoded: %s", error)
    return Rejected(UnstorableError(f"this item could not be stored: {error}"))


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

    def submit(self, commands: Sequence[Command], request_id: str, *,
               atomic: bool = False) -> Future[list[Outcome]]:
        """Queue commands; with ``atomic`` they are all applied or none is."""
        request = _Request(commands, request_id, atomic)
        self._queue.put(request)
        return request.future

    def execute(self, commands: Sequence[Command], request_id: str | None = None, *,
                atomic: bool = False) -> list[Outcome]:
        """Submit and wait: for tools and tests that have no event loop. Each call is a
        write of its own (a fresh request id: consecutive events sharing one are one write
        to time travel, see ``EventLog.whole_revision``)."""
        return self.submit(commands, request_id or str(ULID()), atomic=atomic).result()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch, stopping = self._drain(first)
            self._write(batch)
            del first, batch  # not kept alive while waiting for the next
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
        except UNSTORABLE as error:  # one command (or atomic request) that cannot be encoded
            [request] = live
            request.future.set_result([_unstorable(error)] * len(request.commands))
            return
        except AppendOutcomeUnknownError as error:
            log.exception("append failed and its outcome is unknown; %d requests answered "
                          "with 503", len(live))
            failure = LogUnavailableError(
                f"the event log failed while saving this request and could not be asked "
                f"whether it was stored ({error}); read the records before writing again")
            for request in live:
                request.future.set_exception(failure)
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
        for request, outcomes in zip(live, results, strict=True):
            request.future.set_result(outcomes)

    def _commit(self, batch: list[_Request], retried: bool = False) -> list[list[Outcome]]:
        """Append the batch in one transaction. If that fails, nothing of it was stored:
        retry each request alone, then each command alone, so a command whose events
        cannot be stored fails by itself and never its neighbours."""
        try:
            outcomes, committed = self._decide_and_append(batch)
        except IntegrityError:
            # Another process appended to a stream this batch decided on (the store's
            # unique stream/version key said so): decide again on fresh state, once.
            self.cache.clear()
            if not retried:
                return self._commit(batch, retried=True)
            if len(batch) > 1:
                return [self._commit([request])[0] for request in batch]
            conflict = ConflictError("another writer changed these records at the same "
                                     "time, twice in a row; nothing was saved, try again")
            return [[Rejected(conflict)] * len(batch[0].commands)]
        except AppendOutcomeUnknownError:
            self.cache.clear()
            raise  # deciding again could store the batch twice
        except Exception:
            self.cache.clear()
            if len(batch) > 1:
                return [self._commit([request])[0] for request in batch]
            request = batch[0]
            if len(request.commands) > 1 and not request.atomic:
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
            return _unstorable(error)
        return outcome

    def _decide_and_append(self, batch: list[_Request]
                           ) -> tuple[list[list[Outcome]], list[LoggedEvent]]:
        decider = Decider(self.log, self.cache)
        decider.preload([c for r in batch for c in r.commands])
        pending: list[list[tuple[Any, int, DomainError | None]]] = []
        for request in batch:
            checkpoint = decider.checkpoint()
            decided = [self._decide_one(decider, c, request.request_id)
                       for c in request.commands]
            if request.atomic and any(error for _, _, error in decided):
                decider.rollback(checkpoint)
                decided = [(None, 0, error or NotAppliedError(
                    "not applied: another record of this all-or-nothing request failed"))
                    for _, _, error in decided]
            pending.append(decided)
        revisions, sizes = self._append(decider.events)
        # the last event of a stream wins
        for event, size in zip(decider.events, sizes, strict=True):
            decider.sizes[event.originator_id] = size
        self.cache.put_all({k: (v, decider.sizes[k]) for k, v in decider.heads.items()
                            if v is not None})
        outcomes, position = [], 0
        for decided in pending:
            request_outcomes: list[Outcome] = []
            for result, count, error in decided:
                if error is not None:
                    request_outcomes.append(Rejected(error))
                    continue
                position += count
                revision = revisions[position - 1] if count else 0
                version = decider.events[position - 1].originator_version if count else 0
                request_outcomes.append(Accepted(result, revision, version))
            outcomes.append(request_outcomes)
        return outcomes, [LoggedEvent(r, e) for r, e in zip(revisions, decider.events, strict=True)]

    @staticmethod
    def _decide_one(decider: Decider, command: Command,
                    request_id: str) -> tuple[Any, int, DomainError | None]:
        try:
            result, count = decider.decide(command, request_id)
        except DomainError as error:
            return None, 0, error
        return result, count, None

    def _append(self, events: list[Aggregate.Event]) -> tuple[list[int], list[int]]:
        """(revision, stored size) of each event."""
        if not events:
            return [], []
        stored = self.log.encode(events)
        return self.log.append_encoded(stored), [len(s.state) for s in stored]
