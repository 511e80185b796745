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

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from services.common.adapters.object_store import ObjectMissing, ObjectStore, ObjectUnreadable
from services.common.faults import InvalidInput
from services.storage import domain

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


def package_metadata(data: bytes, manifest_sha256: str, **extra: str) -> dict[str, str]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "manifest-sha256": manifest_sha256, **extra}


async def write_copy(
    site: Site,
    bucket: str,
    key: str,
    data: bytes,
    *,
    metadata: dict[str, str],
    retain_until: datetime | None,
    legal_hold: bool,
) -> tuple[str | None, bytes, bool]:
    """Write one copy once (If-None-Match) and read it back: (version id, the stored bytes, created).

    A copy made by this call must read back as `data`; a copy already there (an earlier attempt) is
    returned as it is — the caller decides whether it agrees with the other site's."""
    written = await site.store.put_write_once(
        bucket,
        key,
        data,
        content_type=domain.PACKAGE_MEDIA_TYPE,
        metadata=metadata,
        retain_until=retain_until,
        legal_hold=legal_hold,
    )
    stored = await read_copy(site, bucket, key, written.version_id)
    if written.created and stored != data:
        raise CopyNotVerified(
            f"the {site.name} copy of {bucket}/{key} (version {written.version_id}) does not read back with the "
            "digest just written; the fixity audit repairs it from the other copy (`archivectl fixity repair`)"
        )
    return written.version_id, stored, written.created


async def read_copy(site: Site, bucket: str, key: str, version_id: str | None) -> bytes:
    """One copy's bytes; a copy the server refuses or lost is ObjectUnreadable naming the site."""
    try:
        return await site.store.get_bytes(bucket, key, version_id=version_id)
    except ObjectMissing as exc:
        raise ObjectUnreadable(bucket, key, f"the {site.name} copy is missing") from exc
    except ObjectUnreadable as exc:
        raise ObjectUnreadable(bucket, key, f"the {site.name} copy: {exc.detail}") from exc


async def rewrite_copy(site: Site, row: AuditPackageRow, good: bytes, bad_version: str | None) -> str | None:
    """Repair: the good bytes as a new version of the bad copy's key, locked like the package, read back.
    Returns the repaired version id."""
    bucket, key = row["package_bucket"], row["package_key"]
    metadata = package_metadata(good, row["manifest_sha256"], **{REPAIR_OF: bad_version or "missing"})
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
