"""The copies of a package: one per site, each write-once under COMPLIANCE retention, verified by reading
its digest back (docs/packages.md "Two copies").

The storage step writes the primary copy, then the replica from the primary's stored bytes; a package is
archived only when both copies exist and verify (synchronous replication: the archived event follows
both). A site that does not answer is a transient fault — the step waits, it never archives one copy —
unless the deployment runs without a replica (`AA_MINIO_REPLICA_ENDPOINT=""`).

A repair rewrites a bad copy from the good one as a NEW version of the same key, locked the same way:
the bad version cannot be overwritten (its lock) and stays; the index then points at the repaired
version, and the repaired version says so in its metadata (`repair-of`), which is how a rebuild tells a
repair from someone else's later version.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from services.common.adapters.object_store import ObjectMissing, ObjectStore, ObjectUnreadable
from services.common.digests import DigestWriter, Sink
from services.common.faults import InvalidInput
from services.storage import bag, domain

if TYPE_CHECKING:
    from services.storage.ports import AuditPackageRow

PRIMARY, REPLICA = "primary", "replica"
REPAIR_OF = "repair-of"  # user metadata of a repaired version: the version it replaces


@dataclass(frozen=True)
class Site:
    name: str  # PRIMARY or REPLICA
    store: ObjectStore


def sites(primary: ObjectStore, replica: ObjectStore | None) -> list[Site]:
    return [Site(PRIMARY, primary), *([Site(REPLICA, replica)] if replica is not None else [])]


def version_column(site: str) -> str:
    """The records column holding the version of this site's copy that the index trusts."""
    return "package_version_id" if site == PRIMARY else "replica_version_id"


class CopyNotVerified(InvalidInput):
    """A copy that was written (or found) does not read back with the package's digest."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, kind="CopyNotVerified")


def package_metadata(package_sha256: str, manifest_sha256: str, **extra: str) -> dict[str, str]:
    """The user metadata of a package object: its own digest and its payload manifest's."""
    return {"sha256": package_sha256, "manifest-sha256": manifest_sha256, **extra}


async def write_copy(
    site: Site,
    bucket: str,
    key: str,
    package: bag.Package,
    *,
    metadata: dict[str, str],
    retain_until: datetime | None,
    legal_hold: bool,
    folder: Path,
) -> tuple[str | None, bag.Package, bool]:
    """Write one copy once (If-None-Match) from the package's local file and read it back into a file
    under `folder`: (version id, the stored package, created).

    A copy made by this call must read back with the package's SHA-256 and size; a copy already there (an
    earlier attempt) is returned as it is — the caller decides whether it agrees with the other site's."""
    assert package.path is not None, "a package is written from its local file"
    written = await site.store.put_write_once_file(
        bucket,
        key,
        package.path,
        content_type=domain.PACKAGE_MEDIA_TYPE,
        metadata=metadata,
        retain_until=retain_until,
        legal_hold=legal_hold,
    )
    local = folder / f"{site.name}-read-back.tar"
    with local.open("wb") as out:
        writer = DigestWriter(out)
        await read_copy_into(site, bucket, key, written.version_id, writer)
    read_back = writer.digests()
    if written.created and (read_back.sha256, read_back.size) != (package.sha256, package.size):
        raise CopyNotVerified(
            f"the {site.name} copy of {bucket}/{key} (version {written.version_id}) does not read back with the "
            "digest just written; the fixity audit repairs it from the other copy (`archivectl fixity repair`)"
        )
    if written.created:
        return written.version_id, dataclasses.replace(package, path=local), True
    return (
        written.version_id,
        await asyncio.to_thread(functools.partial(bag.read_package, local, sha256=read_back.sha256)),
        False,
    )


async def read_copy(site: Site, bucket: str, key: str, version_id: str | None) -> bytes:
    """One copy's bytes; a copy the server refuses or lost is ObjectUnreadable naming the site."""
    try:
        return await site.store.get_bytes(bucket, key, version_id=version_id)
    except ObjectMissing as exc:
        raise ObjectUnreadable(bucket, key, f"the {site.name} copy is missing") from exc
    except ObjectUnreadable as exc:
        raise ObjectUnreadable(bucket, key, f"the {site.name} copy: {exc.detail}") from exc


async def read_copy_into(site: Site, bucket: str, key: str, version_id: str | None, out: Sink) -> int:
    """read_copy streamed into `out` (never whole in memory); the same errors."""
    try:
        return await site.store.get_into(bucket, key, out, version_id=version_id)
    except ObjectMissing as exc:
        raise ObjectUnreadable(bucket, key, f"the {site.name} copy is missing") from exc
    except ObjectUnreadable as exc:
        raise ObjectUnreadable(bucket, key, f"the {site.name} copy: {exc.detail}") from exc


async def rewrite_copy(site: Site, row: AuditPackageRow, good: bytes, bad_version: str | None) -> str | None:
    """Repair: the good bytes as a new version of the bad copy's key, locked like the package, read back.
    Returns the repaired version id."""
    bucket, key = row["package_bucket"], row["package_key"]
    metadata = package_metadata(
        hashlib.sha256(good).hexdigest(), row["manifest_sha256"], **{REPAIR_OF: bad_version or "missing"}
    )
    version = await site.store.put_new_version(
        bucket,
        key,
        good,
        content_type=domain.PACKAGE_MEDIA_TYPE,
        metadata=metadata,
        retain_until=row["retain_until"],
        legal_hold=row["legal_hold"],
    )
    if await read_copy(site, bucket, key, version) != good:
        raise CopyNotVerified(f"the repaired {site.name} copy of {bucket}/{key} (version {version}) does not verify")
    return version
