"""Decisions: what events each command makes, given the state of the streams it touches.

One ``Decider`` decides one batch of commands: it reads every head the batch needs in a few
queries (or from the writer's cache of recent heads), decides each command against those
heads plus the events decided before it in the batch, and can forget an all-or-nothing
request's events again. It never writes: the writer appends what it decided.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.utils import get_topic
from ulid import ULID

from eventstore.commands import (
    HIDDEN,
    Command,
    CopyAnnotation,
    CopyComment,
    CreateAnnotation,
    CreateComment,
    CreateLayer,
    DeleteAnnotation,
    DeleteComment,
    DeleteDocument,
    DeleteLayer,
    Guard,
    PutAnnotation,
    PutComment,
    RevokeToken,
    SetSections,
    UpdateAnnotation,
    UpdateComment,
    UploadDocument,
)
from eventstore.domain import (
    DEFAULT_LAYER,
    SECTION_KEYS,
    SECTIONS,
    Annotation,
    Attachment,
    Comment,
    Document,
    Layer,
    LayerSections,
    Thread,
    Token,
    aggregate_from_head,
    annotation_record,
    annotation_stream_id,
    attachment_stream_id,
    comment_stream_id,
    document_stream_id,
    layer_stream_id,
    same_json,
    sections_stream_id,
    thread_stream_id,
    token_stream_id,
)
from eventstore.errors import (
    AnnotationExistsError,
    AnnotationNotFoundError,
    AttachmentNotFoundError,
    CommentExistsError,
    CommentNotFoundError,
    DocumentExistsError,
    DocumentNotFoundError,
    ForbiddenError,
    LayerExistsError,
    LayerNotFoundError,
    NotAThreadRootError,
    StaleVersionError,
)
from eventstore.log import EventLog
from eventstore.validation import THREAD_ROOT_TYPES


class HeadCache:
    """Last event per stream, for the streams the writer touched recently (LRU), bounded by
    count and by the bytes the events take in the log: heads hold whole records, and a count
    alone let 20,000 large ink drawings hold gigabytes. A head takes about three times its
    stored size in Python (2.2 KB for the benchmark's 680-byte note or ink): the bytes bound
    keeps the cache near 50 MB, not the 200 MB that 64 MB of stored bytes came to."""

    def __init__(self, maxsize: int, max_bytes: int = 16 * 1024 * 1024) -> None:
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
COMMENT_MARKER = "pspdfkit/comment-marker"  # a root that exists for its thread alone


class Decider:
    """Decides one batch of commands against the log's current state plus its own events."""

    def __init__(self, log: EventLog, cache: HeadCache) -> None:
        self.log = log
        self.cache = cache
        # Heads are the last events of their streams, of many classes whose fields
        # eventsourcing sets at runtime: typed Any, as the aggregates they rebuild.
        self.heads: dict[UUID, Any] = {}
        self.sizes: dict[UUID, int] = {}  # of the heads, as stored in the log
        self.events: list[Aggregate.Event] = []
        self._undo: list[tuple[UUID, Any]] = []
        self._fresh_instances: set[str] = set()  # documents uploaded in this batch
        self._kept_version = 0  # see decide

    def preload(self, commands: Sequence[Command]) -> None:
        """Read every head the batch needs with a few batched queries."""
        documented: list[Any] = [c for c in commands if hasattr(c, "document_id")]
        self._load(document_stream_id(c.document_id) for c in documented)
        streams: list[UUID] = []
        for command in documented:
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

    def _head(self, stream_id: UUID, instance: str | None = None) -> Any:
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

    def _emit(self, events: Sequence[Any]) -> None:
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

    def decide(self, command: Command, request_id: str
               ) -> tuple[dict[str, Any] | None, int, int]:
        """Append the command's events to the batch; returns (result, event count, the
        version of the record a change found already as asked: its write needed no event)."""
        before = len(self.events)
        self._kept_version = 0
        result = DECISIONS[type(command)](self, command, request_id)
        return result, len(self.events) - before, self._kept_version

    def _already(self, record: Any, content: dict[str, Any], group: str | None) -> bool:
        """Whether a record holds ``content`` and ``group`` already: such a change records
        nothing (an identical save must not fill the history)."""
        if record.group != group or not same_json(record.content, content):
            return False
        self._kept_version = record.version
        return True

    def upload(self, command: UploadDocument, request_id: str) -> dict[str, Any]:
        stream_id = document_stream_id(command.document_id)
        head = self._head(stream_id)
        if head is not None and not isinstance(head, Document.Deleted) and not command.overwrite:
            raise DocumentExistsError(
                f"a document with id {command.document_id!r} already exists; "
                "delete it first or upload with overwrite_existing_document=true"
            )
        instance = str(ULID())
        fields = dict(
            document_id=command.document_id, instance=instance, title=command.title,
            sha256=command.sha256, byte_size=command.byte_size,
            password_protected=command.password_protected, pages=command.pages,
            request_id=request_id,
        )
        if head is None:
            document = Document._create(Document.Uploaded, id=stream_id, **fields)
        else:
            document = aggregate_from_head(head)
            document.trigger_event(Document.Reuploaded, **fields)
        source = command.copied_from
        if source is not None:
            document.trigger_event(
                Document.Copied, document_id=command.document_id, instance=instance,
                source_document_id=source.document_id, source_instance=source.instance,
                source_revision=source.revision, request_id=request_id)
        self._fresh_instances.add(instance)
        self._emit(document.collect_events())
        return {"document_id": command.document_id, "instance": instance}

    def delete_document(self, command: DeleteDocument, request_id: str) -> dict[str, Any]:
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
                         ) -> tuple[UUID, Any, bool]:
        stream_id = annotation_stream_id(document.instance, layer, annotation_id)
        head = self._head(stream_id, document.instance)
        return stream_id, head, head is not None and not isinstance(head, Annotation.Deleted)

    def create_annotation(self, command: CreateAnnotation, request_id: str) -> dict[str, Any]:
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

    def copy_annotation(self, command: CopyAnnotation, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id, head, live = self._annotation_head(document, command.layer,
                                                      command.annotation_id)
        if live:
            raise AnnotationExistsError(
                f"an annotation with id {command.annotation_id!r} already exists "
                f"in {_layer_phrase(command.layer)}")
        self._ensure_attachments(document, command)
        self._ensure_layer(document, command.layer)
        return self._new(document, stream_id, head, command, command.created_by,
                         command.updated_by, request_id)

    def put_annotation(self, command: PutAnnotation, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id, head, live = self._annotation_head(document, command.layer,
                                                      command.annotation_id)
        self._ensure_attachments(document, command)
        if not live:
            self._ensure_layer(document, command.layer)
            return self._new(document, stream_id, head, command, command.user_id,
                             command.user_id, request_id)
        annotation = aggregate_from_head(head)
        if self._already(annotation, command.content, command.group):
            return annotation.record()
        self._keep_thread_root(document, command.layer, annotation, command.content,
                               request_id)
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
        _judge(command.guard, annotation, not_found)
        _still_at(getattr(command, "base_version", None), annotation, "annotation")
        return document, annotation

    def update_annotation(self, command: UpdateAnnotation, request_id: str) -> dict[str, Any]:
        document, annotation = self._live_annotation(command)
        group = annotation.group if command.keep_group else command.group
        if self._already(annotation, command.content, group):
            return annotation.record()
        self._ensure_attachments(document, command)
        self._keep_thread_root(document, command.layer, annotation, command.content,
                               request_id)
        annotation.update(content=command.content, group=group, user_id=command.user_id,
                          request_id=request_id)
        self._emit(annotation.collect_events())
        return annotation.record()

    def delete_annotation(self, command: DeleteAnnotation, request_id: str
                           ) -> dict[str, Any] | None:
        try:
            _, annotation = self._live_annotation(command)
        except AnnotationNotFoundError:
            if command.missing_ok:
                return None
            raise
        annotation.delete(user_id=command.user_id, request_id=request_id)
        self._emit(annotation.collect_events())
        document = self._document(command.document_id)
        self._delete_thread(document, command.layer, command.annotation_id, command.user_id,
                            request_id)
        return annotation.record()

    def _new(self, document: Any, stream_id: UUID, head: Any, command: Any,
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
        # Its fields are Annotation.Event's, made a dataclass by eventsourcing at runtime.
        created = Annotation.Created(  # type: ignore[call-arg]
            originator_id=stream_id, originator_version=1,
            timestamp=Annotation.Created.create_timestamp(), originator_topic=ANNOTATION_TOPIC,
            document_id=command.document_id, instance=document.instance, layer=command.layer,
            annotation_id=command.annotation_id, **fields)
        self._emit([created])
        return annotation_record(command.annotation_id, command.content, created_by,
                                 updated_by, command.group)

    def create_layer(self, command: CreateLayer, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        head = self._head(layer_stream_id(document.instance, command.layer), document.instance)
        if head is not None and not isinstance(head, Layer.Deleted):
            raise LayerExistsError(f"layer {command.layer!r} already exists")
        self._ensure_layer(document, command.layer)
        return {"name": command.layer}

    def delete_layer(self, command: DeleteLayer, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        head = self._head(layer_stream_id(document.instance, command.layer), document.instance)
        if head is None or isinstance(head, Layer.Deleted):
            raise LayerNotFoundError(f"layer {command.layer!r} not found")
        layer = aggregate_from_head(head)
        layer.trigger_event(Layer.Deleted, document_id=document.document_id,
                            instance=document.instance, name=command.layer)
        self._emit(layer.collect_events())
        return {"name": command.layer}

    def revoke_token(self, command: RevokeToken, request_id: str) -> dict[str, Any]:
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

    def set_sections(self, command: SetSections, request_id: str) -> dict[str, Any]:
        if "comments" in command.sections:
            raise ValueError("comments are records of their own: use the comment commands")
        document = self._document(command.document_id)
        self._migrate_comments(document, command.layer, request_id)
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


    # Comments: records like annotations, each in a stream of its own, and one thread
    # stream per root listing the live ones.

    def _migrate_comments(self, document: Any, layer: str, request_id: str) -> None:
        """The comments 0.7 and 0.8 kept in the layer's sections become comment streams
        (with no creator, as they were), in the write that first touches the layer's
        comments; idempotent, as the sections head holds none afterwards."""
        stream_id = sections_stream_id(document.instance, layer)
        head = self._head(stream_id, document.instance)
        if head is None or not head.sections.get("comments"):
            return
        for comment in head.sections["comments"]:
            comment_id = comment["id"]
            content = {k: v for k, v in comment.items() if k != "id"}
            comment_stream = comment_stream_id(document.instance, layer, comment_id)
            self._new_comment(document, layer, comment_id, comment_stream,
                              self._head(comment_stream, document.instance), content, None,
                              None, None, request_id)
        sections = {k: v for k, v in head.sections.items() if k != "comments"}
        aggregate = aggregate_from_head(head)
        aggregate.trigger_event(LayerSections.Changed, document_id=document.document_id,
                                instance=document.instance, layer=layer, sections=sections,
                                request_id=request_id)
        self._emit(aggregate.collect_events())

    def _comment_head(self, document: Any, layer: str, comment_id: str, request_id: str
                      ) -> tuple[UUID, Any, bool]:
        self._migrate_comments(document, layer, request_id)
        stream_id = comment_stream_id(document.instance, layer, comment_id)
        head = self._head(stream_id, document.instance)
        return stream_id, head, head is not None and not isinstance(head, Comment.Deleted)

    def _root(self, document: Any, layer: str, content: dict[str, Any],
              guard: Guard | None = None) -> Any:
        """The live annotation a new comment's ``rootId`` names, of a type that holds
        threads (on every path: one comment of another root poisons the document)."""
        root_id = content.get("rootId")
        not_found = AnnotationNotFoundError(
            f"the comment's root {root_id!r} is no annotation of {_layer_phrase(layer)}")
        if not isinstance(root_id, str):
            raise not_found
        _, head, live = self._annotation_head(document, layer, root_id)
        if not live:
            raise not_found
        root = aggregate_from_head(head)
        _judge(guard, root, not_found)
        if root.content.get("type") not in THREAD_ROOT_TYPES:
            raise NotAThreadRootError(
                f"annotation {root_id!r} is a {root.content.get('type')}, which holds no "
                "comments: the root must be a markup annotation (highlight, underline, "
                "squiggly, strikeout) or a pspdfkit/comment-marker")
        return root

    def create_comment(self, command: CreateComment, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id, head, live = self._comment_head(document, command.layer,
                                                   command.comment_id, request_id)
        if live:
            raise CommentExistsError(f"a comment with id {command.comment_id!r} already "
                                     f"exists in {_layer_phrase(command.layer)}")
        self._root(document, command.layer, command.content, command.guard)
        return self._new_comment(document, command.layer, command.comment_id, stream_id, head,
                                 command.content, command.group, command.user_id,
                                 command.user_id, request_id)

    def copy_comment(self, command: CopyComment, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id, head, live = self._comment_head(document, command.layer,
                                                   command.comment_id, request_id)
        if live:
            raise CommentExistsError(f"a comment with id {command.comment_id!r} already "
                                     f"exists in {_layer_phrase(command.layer)}")
        self._root(document, command.layer, command.content)
        return self._new_comment(document, command.layer, command.comment_id, stream_id, head,
                                 command.content, command.group, command.created_by,
                                 command.updated_by, request_id)

    def put_comment(self, command: PutComment, request_id: str) -> dict[str, Any]:
        document = self._document(command.document_id)
        stream_id, head, live = self._comment_head(document, command.layer,
                                                   command.comment_id, request_id)
        if not live:
            self._root(document, command.layer, command.content)
            return self._new_comment(document, command.layer, command.comment_id, stream_id,
                                     head, command.content, command.group, command.user_id,
                                     command.user_id, request_id)
        comment = aggregate_from_head(head)
        _same_root(comment, command.content)
        if self._already(comment, command.content, command.group):
            return comment.record()
        comment.update(content=command.content, group=command.group, user_id=command.user_id,
                       request_id=request_id)
        self._emit(comment.collect_events())
        return comment.record()

    def _live_comment(self, command: Any, request_id: str) -> tuple[Any, Any]:
        document = self._document(command.document_id)
        _, head, live = self._comment_head(document, command.layer, command.comment_id,
                                           request_id)
        not_found = CommentNotFoundError(
            f"no comment with id {command.comment_id!r} in {_layer_phrase(command.layer)}")
        if not live:
            raise not_found
        comment = aggregate_from_head(head)
        _judge(command.guard, comment, not_found)
        _still_at(command.base_version, comment, "comment")
        return document, comment

    def update_comment(self, command: UpdateComment, request_id: str) -> dict[str, Any]:
        _, comment = self._live_comment(command, request_id)
        _same_root(comment, command.content)
        group = comment.group if command.keep_group else command.group
        if self._already(comment, command.content, group):
            return comment.record()
        comment.update(content=command.content, group=group, user_id=command.user_id,
                       request_id=request_id)
        self._emit(comment.collect_events())
        return comment.record()

    def delete_comment(self, command: DeleteComment, request_id: str
                       ) -> dict[str, Any] | None:
        try:
            document, comment = self._live_comment(command, request_id)
        except CommentNotFoundError:
            if command.missing_ok:
                return None
            raise
        comment.delete(user_id=command.user_id, request_id=request_id)
        self._emit(comment.collect_events())
        root_id = comment.content.get("rootId")
        _, thread = self._thread(document, command.layer, root_id)
        left = [i for i in (thread.comment_ids if thread else []) if i != comment.annotation_id]
        self._set_thread(document, command.layer, root_id, left, request_id)
        if not left:  # a comment marker exists for its thread: it goes with the last comment
            _, head, live = self._annotation_head(document, command.layer, root_id)
            if live and head.content.get("type") == COMMENT_MARKER:
                marker = aggregate_from_head(head)
                marker.delete(user_id=command.user_id, request_id=request_id)
                self._emit(marker.collect_events())
        return comment.record()

    def _new_comment(self, document: Any, layer: str, comment_id: str, stream_id: UUID,
                     head: Any, content: dict[str, Any], group: str | None,
                     created_by: str | None, updated_by: str | None, request_id: str
                     ) -> dict[str, Any]:
        fields = dict(content=content, group=group, created_by=created_by,
                      updated_by=updated_by, request_id=request_id)
        if head is not None:  # the id was used before and deleted
            comment = aggregate_from_head(head)
            comment.recreate(**fields)
        else:
            comment = Comment._create(Comment.Created, id=stream_id,
                                      document_id=document.document_id,
                                      instance=document.instance, layer=layer,
                                      annotation_id=comment_id, **fields)
        self._emit(comment.collect_events())
        root_id = content["rootId"]
        _, thread = self._thread(document, layer, root_id)
        self._set_thread(document, layer, root_id,
                         [*(thread.comment_ids if thread else []), comment_id], request_id)
        return comment.record()

    def _thread(self, document: Any, layer: str, root_id: str) -> tuple[UUID, Any]:
        stream_id = thread_stream_id(document.instance, layer, root_id)
        return stream_id, self._head(stream_id, document.instance)

    def _set_thread(self, document: Any, layer: str, root_id: str, comment_ids: list[str],
                    request_id: str) -> None:
        stream_id, head = self._thread(document, layer, root_id)
        fields = dict(document_id=document.document_id, instance=document.instance,
                      layer=layer, root_id=root_id, comment_ids=comment_ids,
                      request_id=request_id)
        if head is None:
            self._emit(Thread._create(Thread.Started, id=stream_id, **fields).collect_events())
            return
        thread = aggregate_from_head(head)
        thread.trigger_event(Thread.Changed, **fields)
        self._emit(thread.collect_events())

    def _keep_thread_root(self, document: Any, layer: str, annotation: Any,
                          content: dict[str, Any], request_id: str) -> None:
        """An annotation holding comments stays a type that can hold them."""
        if content.get("type") in THREAD_ROOT_TYPES or \
                annotation.content.get("type") not in THREAD_ROOT_TYPES:
            return
        self._migrate_comments(document, layer, request_id)
        _, thread = self._thread(document, layer, annotation.annotation_id)
        if thread is not None and thread.comment_ids:
            raise NotAThreadRootError(
                f"annotation {annotation.annotation_id!r} holds comments, so it must stay a "
                "type that holds them (highlight, underline, squiggly, strikeout or "
                "comment marker); delete its comments first")

    def _delete_thread(self, document: Any, layer: str, root_id: str, user_id: str | None,
                       request_id: str) -> None:
        """A deleted annotation's comments go with it."""
        self._migrate_comments(document, layer, request_id)
        _, thread = self._thread(document, layer, root_id)
        if thread is None or not thread.comment_ids:
            return
        for comment_id in thread.comment_ids:
            head = self._head(comment_stream_id(document.instance, layer, comment_id),
                              document.instance)
            if head is not None and not isinstance(head, Comment.Deleted):
                comment = aggregate_from_head(head)
                comment.delete(user_id=user_id, request_id=request_id)
                self._emit(comment.collect_events())
        self._set_thread(document, layer, root_id, [], request_id)


def _judge(guard: Guard | None, aggregate: Any, not_found: Exception) -> None:
    """Run a caller's guard on the record as it is now: a hidden record is answered as a
    missing one (nothing leaks), a forbidden one with the guard's reason."""
    verdict = guard(aggregate.record()) if guard is not None else None
    if verdict == HIDDEN:
        raise not_found
    if verdict is not None:
        raise ForbiddenError(verdict)


def _still_at(base: int | None, record: Any, kind: str) -> None:
    """A change based on a version refuses to land on another."""
    if base is not None and base != record.version:
        raise StaleVersionError(
            f"{kind} {record.annotation_id!r} is at version {record.version}, not {base}: it "
            "changed since; nothing was saved", {**record.record(), "version": record.version})


def _same_root(comment: Any, content: dict[str, Any]) -> None:
    if content.get("rootId") != comment.content.get("rootId"):
        raise NotAThreadRootError(
            f"comment {comment.annotation_id!r} belongs to annotation "
            f"{comment.content.get('rootId')!r}; a comment cannot move to another thread")


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


DECISIONS: dict[type, Callable[[Decider, Any, str], dict[str, Any] | None]] = {
    UploadDocument: Decider.upload,
    DeleteDocument: Decider.delete_document,
    CreateAnnotation: Decider.create_annotation,
    CopyAnnotation: Decider.copy_annotation,
    PutAnnotation: Decider.put_annotation,
    UpdateAnnotation: Decider.update_annotation,
    DeleteAnnotation: Decider.delete_annotation,
    CreateLayer: Decider.create_layer,
    DeleteLayer: Decider.delete_layer,
    RevokeToken: Decider.revoke_token,
    SetSections: Decider.set_sections,
    CreateComment: Decider.create_comment,
    PutComment: Decider.put_comment,
    CopyComment: Decider.copy_comment,
    UpdateComment: Decider.update_comment,
    DeleteComment: Decider.delete_comment,
}
COMMENTED = (CreateComment, PutComment, CopyComment, UpdateComment, DeleteComment)
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
    if isinstance(command, DeleteAnnotation):  # its thread goes with it
        streams.append(thread_stream_id(instance, layer, command.annotation_id))
    if isinstance(command, (*COMMENTED, DeleteAnnotation, SetSections)):
        streams.append(sections_stream_id(instance, layer))  # comments kept there by 0.8
    if isinstance(command, COMMENTED):
        streams.append(comment_stream_id(instance, layer, command.comment_id))
        root = getattr(command, "content", {}).get("rootId")
        if isinstance(root, str):
            streams += [annotation_stream_id(instance, layer, root),
                        thread_stream_id(instance, layer, root)]
    return streams


def _layer_phrase(layer: str) -> str:
    return "the default layer" if layer == DEFAULT_LAYER else f"layer {layer!r}"
