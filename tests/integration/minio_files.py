"""MinIO's own files, for tests that damage a package behind the servers' back.

The data folder of each site is found from the environment, not from this checkout: the running stack may
have been started from another clone (`AA_STACK_DIR=/work/main/.stack pytest …`). Sites: `minio` (the
primary) and `minio-replica` (deploy/local/stack.env)."""

from __future__ import annotations

import os
from pathlib import Path

from services.storage import bag

REPO = Path(__file__).resolve().parents[2]
PRIMARY, REPLICA = "minio", "minio-replica"


def data_dir(site: str = PRIMARY) -> Path:
    return Path(os.environ.get("AA_STACK_DIR") or REPO / ".stack") / site / "data"


def corrupt_behind_the_servers_back(
    bucket: str, key: str, package: bytes, *, member_path: str | None = None, site: str = PRIMARY
) -> Path:
    """Flip one byte in the middle of a payload file (the first one unless `member_path`) in MinIO's own
    files (single-drive layout: the object's folder holds xl.meta and, for objects past the inline limit,
    <data-dir>/part.1 per version). Returns the file changed."""
    folder = data_dir(site) / bucket / key
    assert folder.is_dir(), f"no MinIO object folder at {folder} (set AA_STACK_DIR to the running stack's .stack)"
    parsed = bag.read_package(package)
    member = (
        parsed.members[member_path]
        if member_path
        else next(m for m in parsed.members.values() if m.path.startswith("data/"))
    )
    probe = package[member.offset + member.size // 2 : member.offset + member.size // 2 + 48]
    for candidate in [*folder.glob("*/part.1"), folder / "xl.meta"]:
        raw = bytearray(candidate.read_bytes())
        at = raw.find(probe)
        if at >= 0:
            raw[at + 24] ^= 0xFF
            candidate.write_bytes(bytes(raw))
            return candidate
    raise AssertionError(f"could not find the package's bytes under {folder}")
