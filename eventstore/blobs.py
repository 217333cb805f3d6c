"""A content-addressed file store: one immutable file per SHA-256, written atomically."""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path

SIGNATURES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
              (b"%PDF-", "application/pdf"))


def sniff_content_type(head: bytes) -> str | None:
    """The attachment's type from its first bytes; part headers are never trusted."""
    for signature, content_type in SIGNATURES:
        if head.startswith(signature):
            return content_type
    return None


class BlobStore:
    """Files are named by the SHA-256 of their bytes, never overwritten, shared by all users."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.tmp.mkdir(parents=True, exist_ok=True)

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def temporary(self) -> tuple[int, Path]:
        """An open file descriptor and its path, on the same file system as the store."""
        fd, name = tempfile.mkstemp(dir=self.tmp, prefix="upload-")
        return fd, Path(name)

    def commit(self, temporary: Path, sha256: str) -> Path:
        """Move a fully written and fsynced temporary file into place (atomic rename)."""
        target = self.path(sha256)
        if target.exists():
            temporary.unlink(missing_ok=True)
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(temporary, target)
        _fsync_dir(target.parent)
        return target

    def put_bytes(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        if not self.exists(sha256):
            fd, path = self.temporary()
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            self.commit(path, sha256)
        return sha256

    def remove_stale_temporaries(self, min_age_seconds: float = 0) -> int:
        """Drop temporaries left by a crash mid-upload (they were never visible), sparing
        those younger than ``min_age_seconds`` that another process may still be writing."""
        removed, now = 0, time.time()
        for path in self.tmp.iterdir():
            if now - path.stat().st_mtime >= min_age_seconds:
                path.unlink(missing_ok=True)
                removed += 1
        return removed


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
