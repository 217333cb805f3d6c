"""Commands handed to the writer, and the outcome it reports for each."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eventstore.errors import DomainError


@dataclass(frozen=True)
class NewAttachment:
    """Bytes already in the blob store, sent with the request that references them."""

    attachment_id: str  # the SHA-256 hex of the bytes
    content_type: str
    byte_size: int


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


@dataclass(frozen=True)
class DeleteAnnotation:
    document_id: str
    layer: str
    annotation_id: str
    user_id: str | None = None
    missing_ok: bool = False


@dataclass(frozen=True)
class UploadDocument:
    document_id: str
    title: str | None
    sha256: str
    byte_size: int
    password_protected: bool
    pages: list[dict[str, Any]] | None
    overwrite: bool = False


@dataclass(frozen=True)
class DeleteDocument:
    document_id: str


Command = CreateAnnotation | UpdateAnnotation | DeleteAnnotation | UploadDocument | DeleteDocument


@dataclass(frozen=True)
class Accepted:
    """The command's events are durable at ``revision`` (0 when it needed no event)."""

    result: dict[str, Any] | None
    revision: int


@dataclass(frozen=True)
class Rejected:
    error: DomainError


Outcome = Accepted | Rejected
