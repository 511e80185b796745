"""The package as bytes: an uncompressed POSIX (pax, UTF-8 names) tar of the BagIt bag with one
top-level directory, and reading it back (pure; tarfile is the standard library's).

Uncompressed so that every member's bytes sit contiguously in the object: a single file can be
served with one ranged GET at the offset the index records, and a damaged region spoils only the
members it covers. Deterministic (fixed owner, modes, mtime) so that the same case gives the same tar.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

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


def build_tar(name: str, tag_files: Mapping[str, bytes], payload: Mapping[str, bytes], mtime: datetime) -> bytes:
    buffer = io.BytesIO()
    ordered = sorted(tag_files, key=lambda n: (_TAG_ORDER.index(n) if n in _TAG_ORDER else len(_TAG_ORDER), n))
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8") as tar:
        for path, content in [*((n, tag_files[n]) for n in ordered), *payload.items()]:
            info = tarfile.TarInfo(f"{name}/{path}")
            info.size = len(content)
            info.mtime = int(mtime.timestamp())
            info.mode = 0o444
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


@dataclass(frozen=True)
class Member:
    path: str  # relative to the bag root
    offset: int  # of the member's data in the tar object
    size: int


@dataclass(frozen=True)
class Package:
    """A package read back: where each member is, the tag files, and the object's own digest."""

    name: str
    members: dict[str, Member]
    tag_files: dict[str, bytes]
    sha256: str
    size: int
    data: bytes = field(repr=False)

    @property
    def record(self) -> dict[str, Any]:
        return json.loads(self.tag_files[domain.RECORD_TAG_FILE])

    @property
    def events(self) -> list[PreservationEvent]:
        return parse_events(self.tag_files[domain.EVENTS_TAG_FILE]) if domain.EVENTS_TAG_FILE in self.tag_files else []

    def member_bytes(self, path: str) -> bytes:
        m = self.members[path]
        return self.data[m.offset : m.offset + m.size]


def read_package(data: bytes) -> Package:
    """Parse a package; raises PackageUnreadable with the reason when it is not one."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
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
        if info.offset_data + info.size > len(data):
            raise PackageUnreadable(f"member {path!r} runs past the end of the object (truncated)")
        members[path] = Member(path, info.offset_data, info.size)
    tag_files = {p: data[m.offset : m.offset + m.size] for p, m in members.items() if not p.startswith("data/")}
    for required in ("bagit.txt", "manifest-sha256.txt", domain.RECORD_TAG_FILE):
        if required not in tag_files:
            raise PackageUnreadable(f"{required} is missing from the bag")
    return Package(name, members, tag_files, hashlib.sha256(data).hexdigest(), len(data), data)


def verify(package: Package) -> list[str]:
    """Problems found by recomputing every digest in the bag's manifests (empty list: intact)."""
    problems: list[str] = []
    payload = {p for p in package.members if p.startswith("data/")}
    listed = domain.parse_manifest(package.tag_files["manifest-sha256.txt"])
    for path, digest in sorted(listed.items()):
        if path not in package.members:
            problems.append(f"{path}: listed in manifest-sha256.txt but missing")
        elif hashlib.sha256(package.member_bytes(path)).hexdigest() != digest:
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
