"""``annolog gc-attachments``: blobs (PDFs and attachments) that no event references."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from eventstore.blobs import BlobStore
from eventstore.domain import Attachment, Document
from eventstore.log import EventLog


@dataclass(frozen=True)
class Orphan:
    path: Path
    size: int
    age_seconds: float


def referenced_blobs(log: EventLog, progress: bool = False) -> set[str]:
    """Every SHA-256 an event names: uploaded PDFs and attachments, deleted documents too
    (the log keeps their history, so their bytes stay replayable). An attachment is named
    by its ``sha256``: its ``attachment_id`` is any key an Instant JSON import chose."""
    kinds = (Document.Uploaded, Document.Reuploaded, Attachment.Attached)
    referenced: set[str] = set()
    for count, logged in enumerate(log.read_all(kinds=kinds), 1):
        referenced.add(logged.event.sha256)  # an attachment's id is not always its hash
        if progress and count % 10_000 == 0:
            print(f"\rscanned {count:,} events", end="", file=sys.stderr)
    if progress:
        print(f"\rscanned the log: {len(referenced):,} referenced blobs", file=sys.stderr)
    return referenced


def stored_blobs(blobs: BlobStore) -> Iterator[Path]:
    for folder in sorted(blobs.root.iterdir()):
        if folder.is_dir() and folder != blobs.tmp:
            yield from sorted(p for p in folder.iterdir() if p.is_file())


def find_orphans(log: EventLog, blobs: BlobStore, min_age_seconds: float,
                 progress: bool = False) -> list[Orphan]:
    """Unreferenced blobs older than ``min_age_seconds``. A blob is stored a moment before
    the event that names it is appended, so young blobs are never orphans yet."""
    referenced = referenced_blobs(log, progress)
    now = time.time()
    orphans = []
    for path in stored_blobs(blobs):
        stat = path.stat()
        age = now - stat.st_mtime
        if path.name not in referenced and age >= min_age_seconds:
            orphans.append(Orphan(path, stat.st_size, age))
    return orphans
