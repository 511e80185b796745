"""The archive's two content digests, computed together in one pass: SHA-256 (what platforms declare and
BagIt manifests carry) and SM3 (GB/T 32905-2016, the national hash the archive records beside it).

Every place that fingerprints file content uses this module, so both digests always come from the same
bytes and an OpenSSL without SM3 fails the same way everywhere."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import IO, Any, Protocol


@dataclass(frozen=True)
class Digests:
    sha256: str
    sm3: str
    size: int


class DigestStream:
    """Feed chunks with `update`; `digests()` gives both digests of everything fed."""

    def __init__(self) -> None:
        self._sha256 = hashlib.sha256()
        self._sm3 = _sm3()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        self._sha256.update(chunk)
        self._sm3.update(chunk)
        self.size += len(chunk)

    def digests(self) -> Digests:
        return Digests(self._sha256.hexdigest(), self._sm3.hexdigest(), self.size)


class Sink(Protocol):
    """Where a stream is written: a binary file, or a DigestWriter around one."""

    def write(self, chunk: bytes, /) -> int: ...


class DigestWriter:
    """A write-only file that digests what passes through it: wraps `out` (a file opened for binary
    writing), so a stream is stored and fingerprinted in the same pass without holding it in memory.
    Hand it to anything that writes chunks (minio's download loop, tarfile, shutil.copyfileobj)."""

    def __init__(self, out: IO[bytes]) -> None:
        self._out = out
        self._stream = DigestStream()

    def write(self, chunk: bytes) -> int:
        self._stream.update(chunk)
        return self._out.write(chunk)

    def tell(self) -> int:  # tarfile asks where it is; bytes written so far, the same as the digest's size
        return self._stream.size

    def flush(self) -> None:
        self._out.flush()

    def digests(self) -> Digests:
        return self._stream.digests()


def digests_of(data: bytes) -> Digests:
    stream = DigestStream()
    stream.update(data)
    return stream.digests()


def sm3_hex(data: bytes) -> str:
    hasher = _sm3()
    hasher.update(data)
    return hasher.hexdigest()


def _sm3() -> Any:
    try:
        return hashlib.new("sm3")
    except ValueError as exc:  # an OpenSSL build without SM3
        raise RuntimeError("this Python's OpenSSL has no SM3: install an OpenSSL 1.1.1+/3.x build with SM3") from exc
