"""Domain errors: raised or returned by the writer; mapped to HTTP statuses only in api/."""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error a command can meet; ``str(error)`` is a reason a person can act on."""


class DocumentNotFoundError(DomainError):
    """Raised when a document does not exist (or was deleted)."""


class DocumentExistsError(DomainError):
    """Raised when a document id is uploaded again without overwrite."""


class AnnotationNotFoundError(DomainError):
    """Raised when an annotation does not exist in the layer (or was deleted)."""


class AnnotationExistsError(DomainError):
    """Raised when creating an annotation whose id is already live in the layer."""


class CommentNotFoundError(DomainError):
    """Raised when a comment does not exist in the layer (or was deleted)."""


class CommentExistsError(DomainError):
    """Raised when creating a comment whose id is already live in the layer."""


class NotAThreadRootError(DomainError):
    """Raised when a comment names a root that cannot hold a thread (a route's rule), or
    that is not a live annotation of the layer."""


class ConflictError(DomainError):
    """Raised when concurrent writers kept changing the same records (PostgreSQL)."""


class StaleVersionError(DomainError):
    """Raised when a change was based on a version the record has moved past."""

    def __init__(self, message: str, current: dict) -> None:
        super().__init__(message)
        self.current = current  # the record as it is now, with its version


class ForbiddenError(DomainError):
    """Raised when the caller's permissions do not allow a change to a record."""


class LayerNotFoundError(DomainError):
    """Raised when a named layer does not exist (or was deleted)."""


class LayerExistsError(DomainError):
    """Raised when creating a layer that already exists."""


class NotAppliedError(DomainError):
    """Raised for the other commands of an all-or-nothing request when one of them failed."""


class AttachmentNotFoundError(DomainError):
    """Raised when content names an attachment neither sent nor held by the document."""


class UnstorableError(DomainError):
    """Raised when a command's events cannot be encoded for the log (its data, not the disk)."""


class EncodingError(TypeError):
    """Raised by the log's transcoder for data JSON cannot carry (e.g. a 70-bit integer)."""


class LogUnavailableError(DomainError):
    """Raised when the event log could not be written; nothing of the batch was stored."""


class AppendOutcomeUnknownError(LogUnavailableError):
    """Raised when an append failed and the log could not say whether it was stored."""


class DataDirLockedError(DomainError):
    """Raised when another process already serves the same embedded data directory."""
