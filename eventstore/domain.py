"""Aggregates and their events: documents, layers and annotations.

Event classes are a stored contract (their topics are written into every row): never rename
or move one; change a shape with ``class_version`` and an upcaster.

Every event carries the complete state it produces, so the last event of a stream *is* the
stream's state. The writer relies on this to decide a batch of commands from one batched
read of stream heads instead of replaying every stream.
"""

from __future__ import annotations

from functools import lru_cache
from hashlib import sha1
from typing import TYPE_CHECKING, Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.domain import Aggregate

NAMESPACE = uuid5(NAMESPACE_URL, "urn:annolog")
DEFAULT_LAYER = ""


class StreamId(UUID):
    """A stream's UUID with its hash computed once: the writer looks each stream id up in
    dicts some twenty times per command, and ``UUID.__hash__`` is Python code."""

    __slots__ = ("_hash",)
    _hash: int

    def __hash__(self) -> int:
        return self._hash


def _stream_id(kind: str, *parts: str) -> StreamId:
    """``uuid5(NAMESPACE, name)``, as a ``StreamId``. Length prefixes keep the name
    unambiguous whatever characters client-chosen parts hold."""
    name = kind + "".join(f"|{len(p)}:{p}" for p in parts)
    stream_id = StreamId(bytes=sha1(NAMESPACE.bytes + name.encode()).digest()[:16], version=5)
    object.__setattr__(stream_id, "_hash", hash(stream_id.int))
    return stream_id


@lru_cache(maxsize=4096)
def document_stream_id(document_id: str) -> UUID:
    return _stream_id("document", document_id)


@lru_cache(maxsize=4096)
def layer_stream_id(instance: str, layer: str) -> UUID:
    return _stream_id("layer", instance, layer)


@lru_cache(maxsize=4096)
def attachment_stream_id(instance: str, attachment_id: str) -> UUID:
    return _stream_id("attachment", instance, attachment_id)


@lru_cache(maxsize=65536)
def annotation_stream_id(instance: str, layer: str, annotation_id: str) -> UUID:
    return _stream_id("annotation", instance, layer, annotation_id)


@lru_cache(maxsize=16384)
def comment_stream_id(instance: str, layer: str, comment_id: str) -> UUID:
    return _stream_id("comment", instance, layer, comment_id)


@lru_cache(maxsize=16384)
def thread_stream_id(instance: str, layer: str, root_id: str) -> UUID:
    return _stream_id("thread", instance, layer, root_id)


BASE_FIELDS = frozenset({"originator_id", "originator_version", "timestamp", "originator_topic"})


def carry(event: Any, aggregate: Any, **extra: Any) -> None:
    """Events carry the full state they produce: copy it onto the aggregate."""
    for name, value in vars(event).items():
        if name not in BASE_FIELDS:
            setattr(aggregate, name, value)
    for name, value in extra.items():
        setattr(aggregate, name, value)


class Document(Aggregate):
    """An uploaded PDF. ``instance`` changes when a deleted id is uploaded again, so the
    annotation streams of the old incarnation can never leak into the new one."""

    class Event(Aggregate.Event):
        document_id: str
        instance: str

    class Stored(Event):
        """Shared shape of the two events that (re)create a document."""

        title: str | None
        sha256: str
        byte_size: int
        password_protected: bool
        pages: list[dict[str, Any]] | None
        request_id: str

        def apply(self, aggregate: Any) -> None:
            carry(self, aggregate, deleted=False)

    class Uploaded(Stored, Aggregate.Created):
        pass

    class Reuploaded(Stored):
        pass

    class Deleted(Event):
        request_id: str

        def apply(self, aggregate: Any) -> None:
            aggregate.deleted = True

    class Copied(Event):
        """Right after Uploaded: this document began as a copy of that one, at that
        revision (its layers' records follow as copies, in the same write)."""

        source_document_id: str
        source_instance: str
        source_revision: int
        request_id: str

        def apply(self, aggregate: Any) -> None:
            pass

    def __init__(self) -> None:
        """State is set by the events' ``apply``."""


class Layer(Aggregate):
    """A named layer of one document instance; created on its first write."""

    class Event(Aggregate.Event):
        document_id: str
        instance: str
        name: str

        def apply(self, aggregate: Any) -> None:
            carry(self, aggregate, deleted=False)

    class Created(Event, Aggregate.Created):
        pass

    class Recreated(Event):
        """Written into (or created) again after it was deleted."""

    class Deleted(Event):
        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.deleted = True

    def __init__(self) -> None:
        """State is set by the events' ``apply``."""


@lru_cache(maxsize=4096)
def sections_stream_id(instance: str, layer: str) -> UUID:
    return _stream_id("sections", instance, layer)


SECTIONS = ("comments", "bookmarks", "formFields", "formFieldValues")
# what identifies a record within its section: a later record with the same key replaces it
SECTION_KEYS = {"comments": "id", "bookmarks": "id", "formFields": "id",
                "formFieldValues": "name"}


class LayerSections(Aggregate):
    """The Instant JSON sections of a layer besides annotations and attachments (comments,
    bookmarks, form fields and form field values), held whole in each event: they are few
    per layer, arrive together in imports, and are read together in exports."""

    class Event(Aggregate.Event):
        document_id: str
        instance: str
        layer: str
        sections: dict[str, list[dict[str, Any]]]  # only the non-empty ones
        request_id: str

        def apply(self, aggregate: Any) -> None:
            carry(self, aggregate)

    class Started(Event, Aggregate.Created):
        pass

    class Changed(Event):
        pass

    def __init__(self) -> None:
        """State is set by the events' ``apply``."""


def token_stream_id(jti: str) -> UUID:
    return _stream_id("token", jti)


class Token(Aggregate):
    """A client JWT id that has been revoked."""

    class Revoked(Aggregate.Created):
        jti: str
        expires: int | None

        def apply(self, aggregate: Any) -> None:
            carry(self, aggregate)

    def __init__(self) -> None:
        """State is set by the events' ``apply``."""


class Attachment(Aggregate):
    """A binary (image, PDF) a document holds; the bytes live in the blob store by SHA-256."""

    class Attached(Aggregate.Created):
        document_id: str
        instance: str
        attachment_id: str  # the id records use; SHA-256 hex for uploads, opaque on import
        sha256: str  # where the bytes are in the blob store
        content_type: str
        byte_size: int

        def apply(self, aggregate: Any) -> None:
            carry(self, aggregate)

    def __init__(self) -> None:
        """State is set by the events' ``apply``."""


class Annotation(Aggregate):
    """One annotation of one layer; every event holds the full record."""

    if TYPE_CHECKING:  # set by the events' ``apply`` (see ``carry``)
        document_id: str
        instance: str
        layer: str
        annotation_id: str
        content: dict[str, Any]
        group: str | None
        created_by: str | None
        updated_by: str | None
        deleted: bool

    class Event(Aggregate.Event):
        document_id: str
        instance: str
        layer: str
        annotation_id: str
        content: dict[str, Any]
        group: str | None
        created_by: str | None
        updated_by: str | None
        request_id: str

        def apply(self, aggregate: Any) -> None:
            carry(self, aggregate, deleted=False)

    class Created(Event, Aggregate.Created):
        pass

    class Updated(Event):
        pass

    class Recreated(Event):
        """Created again with an id whose annotation had been deleted."""

    class Deleted(Event):
        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.deleted = True

    def __init__(self) -> None:
        """State is set by the events' ``apply``."""

    def record(self) -> dict[str, Any]:
        return annotation_record(self.annotation_id, self.content, self.created_by,
                                 self.updated_by, self.group)

    def _change(self, event_class: type[Annotation.Event], **changes: Any) -> None:
        fields = {
            "document_id": self.document_id,
            "instance": self.instance,
            "layer": self.layer,
            "annotation_id": self.annotation_id,
            "content": self.content,
            "group": self.group,
            "created_by": self.created_by,
            "updated_by": self.updated_by,
        }
        fields.update(changes)
        self.trigger_event(event_class, **fields)

    def update(self, *, content: dict, group: str | None, user_id: str | None,
               request_id: str) -> None:
        self._change(self.Updated, content=content, group=group, updated_by=user_id,
                     request_id=request_id)

    def recreate(self, *, content: dict, group: str | None, created_by: str | None,
                 updated_by: str | None, request_id: str) -> None:
        self._change(self.Recreated, content=content, group=group, created_by=created_by,
                     updated_by=updated_by, request_id=request_id)

    def delete(self, *, user_id: str | None, request_id: str) -> None:
        self._change(self.Deleted, updated_by=user_id, request_id=request_id)


class Comment(Annotation):
    """One comment of a thread: a record like an annotation, in a stream of its own (its id
    in ``annotation_id``; its content an Instant JSON comment without the id, ``rootId``
    naming the thread's root annotation). Comments that 0.7 and 0.8 kept in a layer's
    ``LayerSections`` become comment streams at the first write to their layer's comments."""


class Thread(Aggregate):
    """The live comments of one root annotation, so that one write can delete them with
    their root, or the root (a comment marker) with its last comment, and never race a
    comment posted at the same moment."""

    class Event(Aggregate.Event):
        document_id: str
        instance: str
        layer: str
        root_id: str
        comment_ids: list[str]  # live, in the order they were posted
        request_id: str

        def apply(self, aggregate: Any) -> None:
            carry(self, aggregate)

    class Started(Event, Aggregate.Created):
        pass

    class Changed(Event):
        pass

    def __init__(self) -> None:
        """State is set by the events' ``apply``."""


def annotation_record(annotation_id: str, content: dict[str, Any], created_by: str | None,
                      updated_by: str | None, group: str | None) -> dict[str, Any]:
    """A record in the shape the API serves it (the bulk rebuild writes the same shape in
    SQL: ``projections.rebuild.SELECT_CHANGES``)."""
    return {"id": annotation_id, "content": content, "createdBy": created_by,
            "updatedBy": updated_by, "group": group}


def aggregate_from_head(event: Aggregate.Event) -> Any:
    """Rebuild an aggregate from its stream's last event alone (events carry full state)."""
    if isinstance(event, Aggregate.Created):
        return event.mutate(None)
    aggregate_class = next(cls for base, cls in HEAD_CLASSES if isinstance(event, base))
    aggregate = aggregate_class.__new__(aggregate_class)
    aggregate.__base_init__(event.originator_id, event.originator_version, event.timestamp)
    event.apply(aggregate)
    return aggregate


HEAD_CLASSES = ((Comment.Event, Comment), (Annotation.Event, Annotation),
                (Thread.Event, Thread), (Document.Event, Document), (Layer.Event, Layer),
                (LayerSections.Event, LayerSections))


def same_json(a: Any, b: Any) -> bool:
    """Equal as JSON text: ``1`` is not ``1.0`` and ``true`` is not ``1``, as Python's ``==``
    would have them."""
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == \
        orjson.dumps(b, option=orjson.OPT_SORT_KEYS)
