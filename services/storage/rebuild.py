"""Rebuild the index from the packages in the archive bucket alone (`archivectl index rebuild`).

Lists every package object (key `<case_key>/<bag name>.tar`), reads the version the archive wrote — the
oldest version of the key: the archive writes each key once (If-None-Match), so a later version can
only be someone else's and is reported, not indexed — derives the rows exactly as the storage step
does (index_rows.rows_of) and replaces the record tables in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from services.common.adapters.object_store import MinioObjectStore, ObjectUnreadable, ObjectVersion
from services.storage import bag, domain
from services.storage.adapters.index import PgIndex
from services.storage.index_rows import PackageRows, rows_of


@dataclass
class RebuildReport:
    indexed: int = 0
    skipped: list[str] = field(default_factory=list)  # objects that are not packages of this layout
    unreadable: list[str] = field(default_factory=list)  # package keys that could not be read as packages
    shadowed: list[str] = field(default_factory=list)  # package keys with a later version or delete marker
    legacy: list[str] = field(default_factory=list)  # bags of the earlier prefix layout (not readable here)


def archived_versions(versions: list[ObjectVersion]) -> tuple[dict[str, ObjectVersion], list[str], list[str]]:
    """Per package key, the version the archive wrote; plus the other keys, and the shadowed keys."""
    by_key: dict[str, list[ObjectVersion]] = {}
    skipped: list[str] = []
    for v in versions:
        if domain.is_package_key(v.key):
            by_key.setdefault(v.key, []).append(v)
        elif not v.is_delete_marker:
            skipped.append(v.key)
    chosen: dict[str, ObjectVersion] = {}
    shadowed: list[str] = []
    for key, found in sorted(by_key.items()):
        ordered = sorted(found, key=lambda v: (v.last_modified is None, v.last_modified))
        real = [v for v in ordered if not v.is_delete_marker]
        if not real:
            continue
        chosen[key] = real[0]
        if len(found) > 1:
            shadowed.append(key)
    return chosen, sorted(set(skipped)), shadowed


async def rebuild_index(
    store: MinioObjectStore,
    index: PgIndex,
    bucket: str,
    *,
    progress: Callable[[int, int], None] | None = None,
    skip_unreadable: bool = False,
    include_legacy_loss: bool = False,
) -> RebuildReport:
    report = RebuildReport()
    chosen, report.skipped, report.shadowed = archived_versions(await store.list_versions(bucket))
    report.legacy = [
        k.removesuffix("tagmanifest-sha256.txt") for k in report.skipped if k.endswith("/tagmanifest-sha256.txt")
    ]
    if report.legacy and not include_legacy_loss:
        return report  # their records would vanish from the index: the caller must say so explicitly
    rows: list[PackageRows] = []
    for done, (key, version) in enumerate(chosen.items(), start=1):
        try:
            data = await store.get_bytes(bucket, key, version_id=version.version_id)
            rows.append(rows_of(bag.read_package(data), bucket=bucket, key=key, version_id=version.version_id))
        except (ObjectUnreadable, bag.PackageUnreadable, KeyError, ValueError) as exc:
            report.unreadable.append(f"{key}: {exc}")
        if progress:
            progress(done, len(chosen))
    if report.unreadable and not skip_unreadable:
        # Never replace a working index with a partial one unless told to: say which packages, and stop.
        return report
    report.indexed = await index.replace_all(rows)  # type: ignore[arg-type]
    return report
