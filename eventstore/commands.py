"""Commands handed to the writer, and the outcome it reports for each."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eventstore.errors import DomainError

HIDDEN = "hidden"  # a guard's verdict: the caller may not even know the record exists
# A guard sees the record as it is when the command is decided and answers None (allowed),
# HIDDEN, or a reason it is forbidden. The API builds guards from a caller's permissions;
# the writer runs them against the stream head, so the check and the change cannot race.
Guard = Callable[[dict[str, Any]], str | None]


@dataclass(frozen=True)
class NewAttachment:
    """Bytes already in the blob store, sent with the request that references them."""

    attachment_id: str  # the id records name: the SHA-256 hex for uploads
    content_type: str
    byte_size: int
    sha256: str = ""  # the bytes' hash when it differs from the id (Instant JSON imports)

    @property
    def blob(self) -> str:
        return self.sha256 or self.attachment_id


@dataclass(frozen=True)
class CreateAnnotation:
    document_id: str
    layer: str
    annotation_id: str
    content: dict[str, Any]
    group: str | None
    user_id: str | None
    references: tuple[str, ...] = ()  # attachment ids the content names
    attachments: tuple[NewAttachment, ...] = ()  # those of them this request brings
    guard: Guard | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PutAnnotation:
    """Create the annotation, or update it when it is live (Instant JSON imports)."""

    document_id: str
    layer: str
    annotation_id: str
    content: dict[str, Any]
    group: str | None
    user_id: str | None
    references: tuple[str, ...] = ()
    attachments: tuple[NewAttachment, ...] = ()


@dataclass(frozen=True)
class CopyAnnotation:
    """Create an annotation as a copy of a record, keeping its creator and last editor."""

    document_id: str
    layer: str
    annotation_id: str
    content: dict[str, Any]
    group: str | None
    created_by: str | None
    updated_by: str | None
    references: tuple[str, ...] = ()  # into another document: the attachments it names,
    attachments: tuple[NewAttachment, ...] = ()  # which that document comes to hold


@dataclass(frozen=True)
class CreateLayer:
    """Create a named layer that does not exist (or was deleted)."""

    document_id: str
    layer: str


@dataclass(frozen=True)
class DeleteLayer:
    document_id: str
    layer: str


@dataclass(frozen=True)
class UpdateAnnotation:
    document_id: str
    layer: str
    annotation_id: str
    content: dict[str, Any]
    user_id: str | None
    group: str | None = None
    keep_group: bool = True
    references: tuple[str, ...] = ()
    attachments: tuple[NewAttachment, ...] = ()
    guard: Guard | None = field(default=None, compare=False)
    base_version: int | None = None  # refuse unless the record is still at this version


@dataclass(frozen=True)
class DeleteAnnotation:
    document_id: str
    layer: str
    annotation_id: str
    user_id: str | None = None
    missing_ok: bool = False
    guard: Guard | None = field(default=None, compare=False)
    base_version: int | None = None


@dataclass(frozen=True)
class SetSections:
    """Merge records into a layer's other Instant JSON sections (bookmarks and form fields
    by ``id``, form field values by ``name``): a known key is replaced, a new one added.
    With ``replace`` the given sections become the whole content. Comments are records of
    their own (the comment commands); a ``comments`` section here is refused."""

    document_id: str
    layer: str
    sections: dict[str, list[dict[str, Any]]]
    replace: bool = False


@dataclass(frozen=True)
class CreateComment:
    """Add a comment to the thread of a live annotation of the layer (``content["rootId"]``),
    one of the types that hold threads; the guard judges the root: may the caller see it and
    reply to its thread."""

    document_id: str
    layer: str
    comment_id: str
    content: dict[str, Any]  # an Instant JSON comment without its id
    group: str | None
    user_id: str | None
    guard: Guard | None = field(default=None, compare=False)


@dataclass(frozen=True)
class PutComment:
    """Create the comment, or update it when it is live (Instant JSON imports)."""

    document_id: str
    layer: str
    comment_id: str
    content: dict[str, Any]
    group: str | None
    user_id: str | None


@dataclass(frozen=True)
class CopyComment:
    """Create a comment as a copy of a record, keeping its creator and last editor."""

    document_id: str
    layer: str
    comment_id: str
    content: dict[str, Any]
    group: str | None
    created_by: str | None
    updated_by: str | None


@dataclass(frozen=True)
class UpdateComment:
    document_id: str
    layer: str
    comment_id: str
    content: dict[str, Any]
    user_id: str | None
    group: str | None = None
    keep_group: bool = True
    guard: Guard | None = field(default=None, compare=False)
    base_version: int | None = None  # refuse unless the comment is still at this version


@dataclass(frozen=True)
class DeleteComment:
    """Delete a comment; the last comment of a comment marker takes the marker with it."""

    document_id: str
    layer: str
    comment_id: str
    user_id: str | None = None
    missing_ok: bool = False
    guard: Guard | None = field(default=None, compare=False)
    base_version: int | None = None


@dataclass(frozen=True)
class RevokeToken:
    """Refuse every client JWT carrying this ``jti`` from now on."""

    jti: str
    expires: int | None  # the token's exp, after which keeping the jti is pointless


@dataclass(frozen=True)
class UploadDocument:
    document_id: str
    title: str | None
    sha256: str
    byte_size: int
    password_protected: bool
    pages: list[dict[str, Any]] | None
    overwrite: bool = False
    copied_from: Provenance | None = None  # a copy of another document (POST copy_document)


@dataclass(frozen=True)
class Provenance:
    """Which document a copy was made from: its id, incarnation and the revision copied."""

    document_id: str
    instance: str
    revision: int


@dataclass(frozen=True)
class DeleteDocument:
    document_id: str


Command = (CreateAnnotation | UpdateAnnotation | DeleteAnnotation | PutAnnotation
           | CopyAnnotation | CreateLayer | DeleteLayer | UploadDocument | DeleteDocument
           | RevokeToken | SetSections | CreateComment | PutComment | CopyComment
           | UpdateComment | DeleteComment)


@dataclass(frozen=True)
class Accepted:
    """The command's events are durable at ``revision`` (0 when it needed no event)."""

    result: dict[str, Any] | None
    revision: int
    version: int = 0  # the stream version the command's last event produced


@dataclass(frozen=True)
class Rejected:
    error: DomainError


Outcome = Accepted | Rejected
