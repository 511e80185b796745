"""The file being inspected, read through handles, windows and chunks — never whole (issue 18).

The validation step spools each stored file to a temporary file and inspects it from there
(`Source.of_path`); tests and small callers hand bytes (`Source.of_bytes`, which shares the buffer). A
reader that needs the whole structure opens a handle (pypdf, Pillow, zipfile and mutagen all read
from a seekable file object, fetching only what they parse); signature checks read the head and tail
windows; scanners and digests read chunks. Peak memory then depends on what a parser keeps, not on the
file's size.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class Source:
    opener: Callable[[], BinaryIO]  # a fresh handle at offset 0; the caller closes it
    size: int
    path: Path | None = None  # where a tool that wants a file name (ffmpeg) can read it; None for bytes

    @classmethod
    def of_bytes(cls, data: bytes) -> Source:
        return cls(lambda: io.BytesIO(data), len(data))

    @classmethod
    def of_path(cls, path: Path) -> Source:
        return cls(lambda: path.open("rb"), path.stat().st_size, path)

    @classmethod
    def of(cls, data: bytes | Source) -> Source:
        return data if isinstance(data, Source) else cls.of_bytes(data)

    def open(self) -> BinaryIO:
        return self.opener()

    def head(self, n: int) -> bytes:
        with self.open() as fh:
            return fh.read(n)

    def tail(self, n: int) -> bytes:
        with self.open() as fh:
            fh.seek(max(0, self.size - n))
            return fh.read(n)

    def chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        with self.open() as fh:
            while chunk := fh.read(size):
                yield chunk

    def read_all(self, max_bytes: int) -> bytes:
        """The whole file, for a format whose parser needs it — refused above `max_bytes`."""
        if self.size > max_bytes:
            raise ValueError(f"{self.size} bytes is over the {max_bytes} a whole read is allowed")
        with self.open() as fh:
            return fh.read()
