"""Rebuild the index from the packages in the archive bucket alone (`archivectl index rebuild`).

Lists every package object (key `<case_key>/<bag name>.tar`) on each site, reads the version the archive
trusts — the oldest version of the key (the archive writes each key once, If-None-Match), or the newest
REPAIR of it (a later version whose metadata says `repair-of`, services/storage/copies.py); any other
later version is someone else's and is reported, not indexed — verifies it against the bag's manifests,
derives the rows exactly as the storage step does (index_rows.rows_of) and replaces the record tables in
one transaction.

A package whose primary copy is unreadable or damaged is one named outcome, "package unreadable"; it is
taken from the replica when that copy verifies (`from_replica`), else listed in `unreadable` (the index
is then not replaced unless `skip_unreadable`).

Every repair of a copy (a version with `repair-of`, on either site) is also a PREMIS replication event of
the case: the repair recorded it, and the rebuild derives it again from the repaired version — same
event id, the version's time — after the package's own events, so a rebuilt index still says the copy
was repaired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from services.common.adapters.object_store import MinioObjectStore, ObjectUnreadable, ObjectVersion
from services.storage import bag, copies, domain
from services.storage.adapters.index import PgIndex
from services.storage.fixity import REPAIR_AGENT, replication_event_id
from services.storage.index_rows import PackageRows, rows_of
from services.storage.preservation import SUCCESS, event_type_uri


@dataclass
class RebuildReport:
    indexed: int = 0
    skipped: list[str] = field(default_factory=list)  # objects that are not packages of this layout
    unreadable: list[str] = field(default_factory=list)  # package keys that could not be read as packages
    shadowed: list[str] = field(default_factory=list)  # package keys with a later version or delete marker
    legacy: list[str] = field(default_factory=list)  # bags of the earlier prefix layout (not readable here)
    from_replica: list[str] = field(default_factory=list)  # "key: why the primary copy was not used"


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


@dataclass(frozen=True)
class Repair:
    """A repaired version of a copy (services/storage/copies.rewrite_copy): its id, the version it
    replaced (`repair-of`; "missing" when the copy was missing) and when it was written."""

    version_id: str | None
    repair_of: str
    at: datetime | None


@dataclass(frozen=True)
class SiteVersions:
    trusted: dict[str, str | None]  # package key → the version the archive trusts
    skipped: list[str]  # keys that are not packages of this layout
    foreign: list[str]  # package keys with a later version the archive did not write
    repairs: dict[str, list[Repair]]  # package key → its repairs, oldest first


async def trusted_versions(store: MinioObjectStore, bucket: str) -> SiteVersions:
    """Per package key, the version the archive trusts (the written one, or its newest repair) and every
    repair; plus the keys that are not packages and those with a version the archive did not write."""
    versions = await store.list_versions(bucket)
    chosen, skipped, shadowed = archived_versions(versions)
    by_key: dict[str, list[ObjectVersion]] = {}
    for v in versions:
        by_key.setdefault(v.key, []).append(v)
    trusted: dict[str, str | None] = {key: v.version_id for key, v in chosen.items()}
    foreign: list[str] = []
    repairs_of: dict[str, list[Repair]] = {}
    for key in shadowed:
        later = [
            v
            for v in sorted(by_key[key], key=lambda v: (v.last_modified is not None, v.last_modified), reverse=True)
            if v.version_id != trusted[key]
        ]
        repairs: list[Repair] = []
        for v in later:
            if v.is_delete_marker:
                continue
            info = await store.stat(bucket, key, version_id=v.version_id)
            if info is not None and copies.REPAIR_OF in info.metadata:
                repairs.append(Repair(v.version_id, info.metadata[copies.REPAIR_OF], v.last_modified))
        if repairs:
            trusted[key] = repairs[0].version_id  # the newest repair
            repairs_of[key] = repairs[::-1]
        if len(repairs) < len(later):
            foreign.append(key)
    return SiteVersions(trusted, skipped, foreign, repairs_of)


def repair_events(
    rows: PackageRows, bucket: str, key: str, repairs: Mapping[str, Sequence[Repair]]
) -> list[dict[str, Any]]:
    """The PREMIS replication events of the repairs of one package's copies (`repairs`: per site), as
    preservation_events rows after the package's own events, oldest first (pure)."""
    case_key = rows.record["case_key"]
    seq = max((e["seq"] for e in rows.events), default=0)
    found = sorted(
        ((site, r) for site, site_repairs in repairs.items() for r in site_repairs),
        key=lambda item: (item[1].at is None, item[1].at),
    )
    events = []
    for site, repair in found:
        seq += 1
        other = copies.REPLICA if site == copies.PRIMARY else copies.PRIMARY
        replaced = "it was missing" if repair.repair_of == "missing" else f"repair of version {repair.repair_of}"
        events.append(
            {
                "case_key": case_key,
                "seq": seq,
                "event_id": replication_event_id(case_key, site, repair.version_id),
                "event_type": "replication",
                "event_type_uri": event_type_uri("replication"),
                "event_time": repair.at,
                "outcome": SUCCESS,
                "detail": (
                    f"the {site} copy was rewritten from the {other} copy as version {repair.version_id} of "
                    f"{bucket}/{key} ({replaced}; a bad version stays under its lock); recorded again by the "
                    f"index rebuild from the repaired version's `{copies.REPAIR_OF}` metadata"
                ),
                "agent": REPAIR_AGENT,
            }
        )
    return events


async def _verified_rows(
    store: MinioObjectStore, bucket: str, key: str, version_id: str | None, site: str
) -> PackageRows:
    """The rows of one copy, or PackageUnreadable naming the copy and why."""
    try:
        package = bag.read_package(await copies.read_copy(copies.Site(site, store), bucket, key, version_id))
        problems = bag.verify(package)
        if problems:
            raise bag.PackageUnreadable(f"the {site} copy fails its manifests: {'; '.join(problems)}")
        return rows_of(package, bucket=bucket, key=key, version_id=version_id)
    except ObjectUnreadable as exc:
        raise bag.PackageUnreadable(exc.detail) from exc
    except (KeyError, ValueError) as exc:  # PackageUnreadable is a ValueError
        raise bag.PackageUnreadable(f"the {site} copy: {exc}") from exc


async def rebuild_index(
    store: MinioObjectStore,
    index: PgIndex,
    bucket: str,
    *,
    replica: MinioObjectStore | None = None,
    progress: Callable[[int, int], None] | None = None,
    skip_unreadable: bool = False,
    include_legacy_loss: bool = False,
) -> RebuildReport:
    report = RebuildReport()
    primary = await trusted_versions(store, bucket)
    chosen, report.skipped, report.shadowed = primary.trusted, primary.skipped, primary.foreign
    report.legacy = [
        k.removesuffix("tagmanifest-sha256.txt") for k in report.skipped if k.endswith("/tagmanifest-sha256.txt")
    ]
    if report.legacy and not include_legacy_loss:
        return report  # their records would vanish from the index: the caller must say so explicitly
    replica_versions = await trusted_versions(replica, bucket) if replica is not None else None
    replica_chosen = replica_versions.trusted if replica_versions is not None else {}
    replica_repairs = replica_versions.repairs if replica_versions is not None else {}
    rows: list[PackageRows] = []
    for done, (key, version) in enumerate(chosen.items(), start=1):
        try:
            found = await _verified_rows(store, bucket, key, version, copies.PRIMARY)
        except bag.PackageUnreadable as primary_problem:
            found = None
            if replica is not None and key in replica_chosen:
                try:
                    found = await _verified_rows(replica, bucket, key, replica_chosen[key], copies.REPLICA)
                    found.record["package_version_id"] = version  # the audit repairs the primary copy
                    report.from_replica.append(f"{key}: {primary_problem}")
                except bag.PackageUnreadable as replica_problem:
                    primary_problem = bag.PackageUnreadable(f"{primary_problem}; {replica_problem}")
            if found is None:
                report.unreadable.append(f"package unreadable: {key}: {primary_problem}")
        if found is not None:
            if key in replica_chosen:
                found.record["replica_version_id"] = replica_chosen[key]
            repairs = {copies.PRIMARY: primary.repairs.get(key, []), copies.REPLICA: replica_repairs.get(key, [])}
            rows.append(replace(found, events=found.events + repair_events(found, bucket, key, repairs)))
        if progress:
            progress(done, len(chosen))
    if report.unreadable and not skip_unreadable:
        # Never replace a working index with a partial one unless told to: say which packages, and stop.
        return report
    report.indexed = await index.replace_all(rows)  # type: ignore[arg-type]
    return report
