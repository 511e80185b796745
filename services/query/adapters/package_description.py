"""The package's own description (`archive-record.json`, docs/packages.md), read without reading the package.

The package is an uncompressed tar whose tag files come before the payload, so the bytes before the first
payload file's data (its offset is in the index) hold every tag file: one ranged GET of that prefix, and
the description is checked against `tagmanifest-sha256.txt` before it is believed. The record page shows
from it what the index does not keep: every check result of the four-property check, per check and file.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from collections.abc import Sequence
from typing import Any

RECORD_DESCRIPTION = "archive-record.json"
TAG_MANIFEST = "tagmanifest-sha256.txt"
MAX_TAG_BYTES = 16 * 1024 * 1024  # the tag files of a case with thousands of files stay far below this
CHUNK = 256 * 1024


class DescriptionUnavailable(Exception):
    """The description could not be read or did not verify; the message says which and what to do."""


def tag_files(prefix: bytes, wanted: Sequence[str]) -> dict[str, bytes]:
    """The tag files named `wanted` (paths inside the bag) from the first bytes of a package tar."""
    found: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(prefix), mode="r|") as tar:
            for info in tar:
                path = info.name.split("/", 1)[1] if "/" in info.name else info.name
                if path.startswith("data/"):
                    break  # the payload begins: every tag file has been seen
                if info.isfile() and path in wanted:
                    handle = tar.extractfile(info)
                    found[path] = handle.read() if handle else b""
                if len(found) == len(wanted):
                    break
    except (tarfile.TarError, EOFError) as exc:
        if len(found) < len(wanted):
            raise DescriptionUnavailable(f"the package's tag files do not read as a tar: {exc}") from exc
    return found


def verified_description(files: dict[str, bytes]) -> dict[str, Any]:
    """The parsed description, once its SHA-256 equals the one the tag manifest lists."""
    if RECORD_DESCRIPTION not in files or TAG_MANIFEST not in files:
        raise DescriptionUnavailable(f"the package has no {RECORD_DESCRIPTION} or {TAG_MANIFEST} before its payload")
    listed = {}
    for line in files[TAG_MANIFEST].decode("utf-8").splitlines():
        digest, _, path = line.partition(" ")
        listed[path.strip()] = digest.strip()
    computed = hashlib.sha256(files[RECORD_DESCRIPTION]).hexdigest()
    if listed.get(RECORD_DESCRIPTION) != computed:
        raise DescriptionUnavailable(
            f"{RECORD_DESCRIPTION} does not match {TAG_MANIFEST} (SHA-256 {computed}); the package may be damaged: "
            "run `archivectl fixity audit` for it"
        )
    return json.loads(files[RECORD_DESCRIPTION])


async def read_description(store: Any, record: dict[str, Any], files: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The verified description of the record's package (DescriptionUnavailable saying why when not)."""
    offsets = [f["byte_offset"] for f in files if f.get("byte_offset") is not None]
    if not record.get("package_key") or not offsets:
        raise DescriptionUnavailable("this record's package has the earlier layout (one object per file)")
    length = min(min(offsets), MAX_TAG_BYTES)
    read = None
    chunks = []
    try:
        read = store.ranged_read(
            record["package_bucket"],
            record["package_key"],
            offset=0,
            length=length,
            version_id=record.get("package_version_id"),
            chunk_size=CHUNK,
        )
        await read.open()
        while (chunk := await read.next_chunk()) is not None:
            chunks.append(chunk)
    except Exception as exc:
        raise DescriptionUnavailable(f"the package could not be read from the object store: {exc}") from exc
    finally:
        if read is not None:
            await read.close()
    return verified_description(tag_files(b"".join(chunks), (RECORD_DESCRIPTION, TAG_MANIFEST)))
