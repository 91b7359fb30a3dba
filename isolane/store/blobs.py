"""Code blobs, content-addressed by SHA-256.

`BlobStore` is the interface; `FileBlobStore` keeps blobs under the data dir (written to a
temporary file, synced, then renamed, so a crash never leaves half a blob), owner-only:
directories 0700, files 0600 (the temporary file's mode, kept by the rename). Temporary
files a killed process left behind are removed at the next start. Every blob read is
checked against its digest: a blob changed, truncated or replaced on disk is never used.
An S3 store fills the same interface.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import tempfile
import time
from pathlib import Path
from typing import Protocol

from isolane.store.permissions import private_dir


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class BlobStore(Protocol):
    async def put(self, data: bytes) -> str:
        """Store `data`; returns its SHA-256 hex digest (the key)."""
        ...

    async def get(self, digest: str) -> bytes: ...

    def location(self, digest: str) -> str:
        """Where the blob lives, for people: a path relative to the data dir, or a URL."""
        ...


log = logging.getLogger(__name__)

INCOMING_PREFIX = ".incoming-"
STALE_INCOMING_SECONDS = 600  # older temporary files are a killed writer's, never finished


class BlobMissing(Exception):
    pass


class BlobDamaged(Exception):
    """The blob's bytes no longer have its digest."""


class FileBlobStore:
    def __init__(self, data_dir: Path) -> None:
        self._data_dir = data_dir
        self._root = data_dir / "blobs" / "sha256"
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        for directory in (data_dir, self._root.parent, self._root):
            private_dir(directory)
        self.remove_stale_incoming()

    def remove_stale_incoming(self, older_than: float = STALE_INCOMING_SECONDS) -> int:
        """Remove temporary files of writes that never finished (the writer was killed);
        recent ones may be another instance's, still writing."""
        removed = 0
        cutoff = time.time() - older_than
        for temporary in self._root.glob(f"*/{INCOMING_PREFIX}*"):
            try:
                if temporary.stat().st_mtime < cutoff:
                    temporary.unlink()
                    removed += 1
            except FileNotFoundError:
                continue
        if removed:
            log.warning("removed %d temporary blob files left by an interrupted write", removed)
        return removed

    def _path(self, digest: str) -> Path:
        if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise BlobMissing(digest)
        return self._root / digest[:2] / digest

    def location(self, digest: str) -> str:
        return str(self._path(digest).relative_to(self._data_dir))

    async def put(self, data: bytes) -> str:
        digest = digest_of(data)
        await asyncio.to_thread(self._write, self._path(digest), data)
        return digest

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        if path.exists():
            return
        private_dir(path.parent)
        fd, temp = tempfile.mkstemp(dir=path.parent, prefix=INCOMING_PREFIX)  # mode 0600
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temp, path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    async def get(self, digest: str) -> bytes:
        path = self._path(digest)
        try:
            return await asyncio.to_thread(_read_checked, path, digest)
        except FileNotFoundError as exc:
            raise BlobMissing(digest) from exc


def _read_checked(path: Path, digest: str) -> bytes:
    data = path.read_bytes()
    if digest_of(data) != digest:
        raise BlobDamaged(digest)
    return data
