"""The archive's two content digests, computed together in one pass: SHA-256 (what platforms declare and
BagIt manifests carry) and SM3 (GB/T 32905-2016, the national hash the archive records beside it).

Every place that fingerprints file content uses this module, so both digests always come from the same
bytes and an OpenSSL without SM3 fails the same way everywhere."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any


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
