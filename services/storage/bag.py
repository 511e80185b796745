"""The package as bytes: an uncompressed POSIX (pax, UTF-8 names) tar of the BagIt bag with one
top-level directory, and reading it back (pure; tarfile is the standard library's).

Uncompressed so that every member's bytes sit contiguously in the object: a single file can be
served with one ranged GET at the offset the index records, and a damaged region spoils only the
members it covers. Deterministic (fixed owner, modes, mtime) so that the same case gives the same tar.

A payload file may be bytes or a local file: a file is streamed into the tar (tarfile copies it in
chunks), so a package of a 1 GiB material is built without holding it; the bytes are the same either way
(tests/unit/test_storage_streaming.py). A package is read back from bytes or from a local file the same
way: only the tag files are read into memory, the payload stays where it is.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from services.common.digests import Sink
from services.storage import domain
from services.storage.preservation import PreservationEvent, parse_events

# Tag files first (a reader that only wants the metadata can stop early), payload after.
_TAG_ORDER = (
    "bagit.txt",
    "bag-info.txt",
    "manifest-sha256.txt",
    "tagmanifest-sha256.txt",
    domain.RECORD_TAG_FILE,
    domain.EEP_TAG_FILE,
    domain.EVENTS_TAG_FILE,
)


class PackageUnreadable(ValueError):
    """The bytes are not a package of this archive (not a tar, no bag, no record)."""


CHUNK = 1024 * 1024  # what verifying or digesting a member reads at a time


def write_tar(
    out: Sink, name: str, tag_files: Mapping[str, bytes], payload: Mapping[str, bytes | Path], mtime: datetime
) -> None:
    """Write the package tar to `out`: the tag files first, then each payload file, bytes or streamed
    from its local file."""
    ordered = sorted(tag_files, key=lambda n: (_TAG_ORDER.index(n) if n in _TAG_ORDER else len(_TAG_ORDER), n))
    fileobj: Any = out  # tarfile's stubs want a full file; writing needs only write and tell
    with tarfile.open(fileobj=fileobj, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for path, content in [*((n, tag_files[n]) for n in ordered), *payload.items()]:
            info = tarfile.TarInfo(f"{name}/{path}")
            info.mtime = int(mtime.timestamp())
            info.mode = 0o444
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if isinstance(content, Path):
                info.size = os.path.getsize(content)
                with content.open("rb") as source:
                    tar.addfile(info, source)
            else:
                info.size = len(content)
                tar.addfile(info, io.BytesIO(content))


def build_tar(name: str, tag_files: Mapping[str, bytes], payload: Mapping[str, bytes], mtime: datetime) -> bytes:
    """write_tar into memory: for small packages (tests, the disposition register)."""
    buffer = io.BytesIO()
    write_tar(buffer, name, tag_files, dict(payload), mtime)
    return buffer.getvalue()


@dataclass(frozen=True)
class Member:
    path: str  # relative to the bag root
    offset: int  # of the member's data in the tar object
    size: int


@dataclass(frozen=True)
class Package:
    """A package read back: where each member is, the tag files, and the object's own digest. Its bytes
    are `data` or the local file `path` (then a member is read from the file when asked for)."""

    name: str
    members: dict[str, Member]
    tag_files: dict[str, bytes]
    sha256: str
    size: int
    data: bytes | None = field(default=None, repr=False)
    path: Path | None = None

    @property
    def record(self) -> dict[str, Any]:
        return json.loads(self.tag_files[domain.RECORD_TAG_FILE])

    @property
    def events(self) -> list[PreservationEvent]:
        return parse_events(self.tag_files[domain.EVENTS_TAG_FILE]) if domain.EVENTS_TAG_FILE in self.tag_files else []

    def member_bytes(self, path: str) -> bytes:
        return b"".join(self.member_chunks(path))

    def member_chunks(self, path: str) -> Iterator[bytes]:
        """A member's bytes in chunks of at most CHUNK (a payload file is never read whole from a file)."""
        m = self.members[path]
        if self.data is not None:
            for start in range(m.offset, m.offset + m.size, CHUNK):
                yield self.data[start : min(start + CHUNK, m.offset + m.size)]
            return
        assert self.path is not None
        with self.path.open("rb") as source:
            source.seek(m.offset)
            left = m.size
            while left > 0:
                chunk = source.read(min(CHUNK, left))
                if not chunk:
                    raise PackageUnreadable(f"member {path!r} runs past the end of the file (truncated)")
                left -= len(chunk)
                yield chunk


def read_package(source: bytes | Path, *, sha256: str | None = None) -> Package:
    """Parse a package (its bytes, or a local file of them); raises PackageUnreadable with the reason when
    it is not one. From a file, only the tar headers and the tag files are read into memory. `sha256`: the
    file's digest, computed as it was written (DigestWriter), so it is not read a second time for it."""
    if isinstance(source, Path):
        with source.open("rb") as file:
            return _read(file, os.path.getsize(source), local=source, sha256=sha256)
    return _read(io.BytesIO(source), len(source), data=source, sha256=sha256)


def _read(
    file: IO[bytes], size: int, *, data: bytes | None = None, local: Path | None = None, sha256: str | None = None
) -> Package:
    try:
        with tarfile.open(fileobj=file, mode="r:") as tar:
            infos = tar.getmembers()
    except (tarfile.TarError, EOFError, UnicodeDecodeError) as exc:
        raise PackageUnreadable(f"not a readable tar: {exc}") from exc
    files = [i for i in infos if i.isfile()]
    tops = {i.name.split("/", 1)[0] for i in infos}
    if len(tops) != 1 or not files:
        raise PackageUnreadable(f"a package has exactly one top-level directory, found {sorted(tops)[:5]}")
    [name] = tops
    members: dict[str, Member] = {}
    for info in files:
        path = info.name.split("/", 1)[1] if "/" in info.name else ""
        if not path or path.startswith("/") or ".." in path.split("/"):
            raise PackageUnreadable(f"unsafe member path {info.name!r}")
        if info.offset_data + info.size > size:
            raise PackageUnreadable(f"member {path!r} runs past the end of the object (truncated)")
        members[path] = Member(path, info.offset_data, info.size)
    tag_files = {}
    for p, m in members.items():
        if not p.startswith("data/"):
            file.seek(m.offset)
            tag_files[p] = file.read(m.size)
    for required in ("bagit.txt", "manifest-sha256.txt", domain.RECORD_TAG_FILE):
        if required not in tag_files:
            raise PackageUnreadable(f"{required} is missing from the bag")
    if sha256 is not None:
        digest = sha256
    elif data is not None:
        digest = hashlib.sha256(data).hexdigest()
    else:
        file.seek(0)
        digest = hashlib.file_digest(file, "sha256").hexdigest()  # type: ignore[arg-type]  # any binary file works
    return Package(name, members, tag_files, digest, size, data, local)


def _sha256_of_member(package: Package, path: str) -> str:
    hasher = hashlib.sha256()
    for chunk in package.member_chunks(path):
        hasher.update(chunk)
    return hasher.hexdigest()


def verify(package: Package) -> list[str]:
    """Problems found by recomputing every digest in the bag's manifests (empty list: intact)."""
    problems: list[str] = []
    payload = {p for p in package.members if p.startswith("data/")}
    listed = domain.parse_manifest(package.tag_files["manifest-sha256.txt"])
    for path, digest in sorted(listed.items()):
        if path not in package.members:
            problems.append(f"{path}: listed in manifest-sha256.txt but missing")
        elif _sha256_of_member(package, path) != digest:
            problems.append(f"{path}: SHA-256 differs from manifest-sha256.txt")
    for path in sorted(payload - set(listed)):
        problems.append(f"{path}: in the payload but not in manifest-sha256.txt")
    if "tagmanifest-sha256.txt" in package.tag_files:
        for path, digest in sorted(domain.parse_manifest(package.tag_files["tagmanifest-sha256.txt"]).items()):
            if path not in package.tag_files:
                problems.append(f"{path}: listed in tagmanifest-sha256.txt but missing")
            elif hashlib.sha256(package.tag_files[path]).hexdigest() != digest:
                problems.append(f"{path}: SHA-256 differs from tagmanifest-sha256.txt")
    return problems


def failed_paths(problems: list[str]) -> list[str]:
    return [p.split(":", 1)[0] for p in problems]
