"""A bounded disk cache of page images, keyed by the file's SHA-256, page and width.

The key is the content's digest, so an entry can never be stale: the same bytes give the same image,
whichever case holds them. The cache only ever holds images rendered from bytes that verified against
that digest (the route renders after a verified read). When the cache grows past its size, the entries
used least recently (file modification time, touched on every hit) are removed first. Several replicas
may each keep a cache of their own; nothing is lost when one is deleted.
"""

from __future__ import annotations

import asyncio
import os
import re
import tempfile
from pathlib import Path

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


class PreviewCache:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes

    def _path(self, sha256: str, page: int, width: int) -> Path:
        if not _DIGEST.match(sha256):  # the name is built from it: nothing else may reach the file system
            raise ValueError(f"not a SHA-256 digest: {sha256[:80]!r}")
        return self.directory / sha256[:2] / f"{sha256}-p{page}-w{width}.img"

    def _pages_path(self, sha256: str) -> Path:
        return self.directory / sha256[:2] / f"{sha256}.pages"

    async def get(self, sha256: str, page: int, width: int) -> tuple[bytes, int] | None:
        """(image, page count) when cached."""
        return await asyncio.to_thread(self._get, sha256, page, width)

    async def put(self, sha256: str, page: int, width: int, image: bytes, pages: int) -> None:
        await asyncio.to_thread(self._put, sha256, page, width, image, pages)

    def _get(self, sha256: str, page: int, width: int) -> tuple[bytes, int] | None:
        path, pages_path = self._path(sha256, page, width), self._pages_path(sha256)
        try:
            image = path.read_bytes()
            pages = int(pages_path.read_text())
        except (OSError, ValueError):
            return None
        try:
            os.utime(path)  # recently used: evicted last
        except OSError:
            pass
        return image, pages

    def _put(self, sha256: str, page: int, width: int, image: bytes, pages: int) -> None:
        path = self._path(sha256, page, width)
        path.parent.mkdir(parents=True, exist_ok=True)
        for target, content in ((self._pages_path(sha256), str(pages).encode()), (path, image)):
            # Written aside and renamed: a reader never sees half an image, two writers never mix theirs.
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            with os.fdopen(handle, "wb") as out:
                out.write(content)
            os.replace(temporary, target)
        self._evict()

    def _evict(self) -> None:
        entries = []
        for file in self.directory.glob("*/*.img"):
            try:
                stat = file.stat()
            except OSError:
                continue
            entries.append((stat.st_mtime, stat.st_size, file))
        total = sum(size for _, size, _ in entries)
        for _, size, file in sorted(entries):
            if total <= self.max_bytes:
                break
            file.unlink(missing_ok=True)
            total -= size

    def size(self) -> int:
        return sum(f.stat().st_size for f in self.directory.glob("*/*.img"))
