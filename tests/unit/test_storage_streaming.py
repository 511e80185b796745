"""The streamed package builder and the digesting writer (issue 18: storage in bounded memory).

The package bytes are the archive's record: streaming the payload from files must not change one byte of
what the in-memory builder produced before, so the old builder is kept here, verbatim, as the reference."""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pytest

from services.common.digests import DigestWriter, digests_of
from services.storage import bag, domain

pytestmark = pytest.mark.unit

MTIME = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)


def _reference_build_tar(
    name: str, tag_files: Mapping[str, bytes], payload: Mapping[str, bytes], mtime: datetime
) -> bytes:
    """bag.build_tar as it was before streaming (commit ff5f6f4), every member from bytes in memory."""
    order = bag._TAG_ORDER
    buffer = io.BytesIO()
    ordered = sorted(tag_files, key=lambda n: (order.index(n) if n in order else len(order), n))
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


def _inputs() -> tuple[dict[str, bytes], dict[str, bytes]]:
    payload = {
        "data/application/001-申请表.pdf": os.urandom(70_001),  # not a multiple of the 512-byte block
        "data/result/002-许可证.ofd": b"",  # an empty file
        "data/result/003-a-very-long-name-" + "x" * 120 + ".jpg": os.urandom(3 * 1024 * 1024 + 17),
    }
    tags = {
        "bagit.txt": domain.BAGIT_TXT,
        "bag-info.txt": "Source-Organization: 测试\n".encode(),
        "manifest-sha256.txt": b"".join(f"{hashlib.sha256(d).hexdigest()}  {p}\n".encode() for p, d in payload.items()),
        domain.RECORD_TAG_FILE: b'{"files": []}',
        domain.EEP_TAG_FILE: "<eep>案卷</eep>".encode(),
        domain.EVENTS_TAG_FILE: b"[]",
    }
    tags["tagmanifest-sha256.txt"] = domain.tag_manifest(tags)
    return tags, payload


def test_the_streamed_builder_writes_the_same_bytes_as_the_in_memory_one(tmp_path: Path) -> None:
    tags, payload = _inputs()
    files: dict[str, bytes | Path] = {}
    for n, (path, data) in enumerate(payload.items()):
        (tmp_path / f"p{n}").write_bytes(data)
        files[path] = tmp_path / f"p{n}"
    out = tmp_path / "package.tar"
    with out.open("wb") as sink:
        bag.write_tar(sink, "p_case_r1", tags, files, MTIME)

    reference = _reference_build_tar("p_case_r1", tags, payload, MTIME)
    assert out.read_bytes() == reference
    assert bag.build_tar("p_case_r1", tags, payload, MTIME) == reference


def test_a_package_reads_back_the_same_from_a_file_as_from_bytes(tmp_path: Path) -> None:
    tags, payload = _inputs()
    data = bag.build_tar("p_case_r1", tags, payload, MTIME)
    (tmp_path / "package.tar").write_bytes(data)
    from_bytes, from_file = bag.read_package(data), bag.read_package(tmp_path / "package.tar")

    assert (from_file.members, from_file.tag_files, from_file.sha256, from_file.size) == (
        from_bytes.members,
        from_bytes.tag_files,
        from_bytes.sha256,
        from_bytes.size,
    )
    assert from_file.data is None, "a package read from a file keeps its payload on disk"
    for path, content in payload.items():
        assert from_file.member_bytes(path) == content
        assert all(len(c) <= bag.CHUNK for c in from_file.member_chunks(path))
    assert bag.verify(from_file) == bag.verify(from_bytes) == []


def test_verifying_a_package_file_names_the_altered_member(tmp_path: Path) -> None:
    tags, payload = _inputs()
    data = bytearray(bag.build_tar("p_case_r1", tags, payload, MTIME))
    target = "data/application/001-申请表.pdf"
    data[bag.read_package(bytes(data)).members[target].offset + 100] ^= 0xFF
    (tmp_path / "package.tar").write_bytes(bytes(data))
    assert bag.failed_paths(bag.verify(bag.read_package(tmp_path / "package.tar"))) == [target]


def test_the_digest_writer_stores_and_fingerprints_in_one_pass() -> None:
    content = os.urandom(1_000_003)
    out = io.BytesIO()
    writer = DigestWriter(out)
    for start in range(0, len(content), 65_536):
        writer.write(content[start : start + 65_536])
    assert out.getvalue() == content
    assert writer.digests() == digests_of(content)
    assert writer.digests().sha256 == hashlib.sha256(content).hexdigest()
    assert writer.tell() == len(content)


def test_the_digest_writer_of_nothing_is_the_empty_digests() -> None:
    writer = DigestWriter(io.BytesIO())
    assert writer.digests() == digests_of(b"")
