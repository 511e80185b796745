"""The storage step: archive.classified → ONE package object, write-once with retention, in the archive
bucket of each site (primary, then replica; services/storage/copies.py), each read back and verified →
index rows (read back from the stored package) → archived event, only once both copies verify."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable, Sequence
from datetime import datetime

from contracts.envelope import utc_now
from contracts.v1 import (
    ArchivedEvent,
    ArchivedRecord,
    CapturedFile,
    ClassifiedEvent,
    PackageRef,
    SupersededRevision,
    topics,
)
from services.common.adapters.object_store import ObjectMissing, ObjectStore
from services.common.digests import sm3_hex
from services.common.events import follow_on
from services.common.faults import InvalidInput
from services.common.runner import Outbound
from services.storage import bag, copies, domain
from services.storage.eep import eep_document
from services.storage.index_rows import rows_of
from services.storage.ports import RecordIndex
from services.storage.preservation import case_events, events_document

SERVICE = "storage"


async def _read_verified(store: ObjectStore, file: CapturedFile) -> bytes:
    try:
        data = await store.get_bytes(file.stored.bucket, file.stored.key)
    except ObjectMissing as exc:
        raise InvalidInput(f"staged file {exc} does not exist", kind="MissingObject") from exc
    if hashlib.sha256(data).hexdigest() != file.sha256:
        # Fixity is checked at every step: staging changed after validation. Never archive it.
        raise InvalidInput(
            f"staged file {file.stored.key} no longer matches its captured SHA-256", kind="FixityMismatch"
        )
    return data


def build_package(
    event: ClassifiedEvent,
    payloads: Sequence[bytes],
    *,
    archive_bucket: str,
    code_allocated_at: datetime | None,
    now: datetime,
    supersedes: SupersededRevision | None = None,
) -> tuple[bytes, str, domain.RetentionLock]:
    """The package bytes, its object key and its retention lock (pure, given the files' bytes)."""
    classified = event.data
    case, cls = classified.case, classified.classification
    entries = [
        domain.PayloadEntry(domain.payload_path(n, f), f.sha256, sm3_hex(data), f.size)
        for n, (f, data) in enumerate(zip(classified.files, payloads, strict=True), start=1)
    ]
    key = domain.package_key(case.case_key)
    lock = domain.retention_lock(cls.retention, case.completed_at, now)
    manifest = domain.manifest(entries)
    package_ref = PackageRef(
        bucket=archive_bucket,
        prefix=domain.package_prefix(case.case_key),
        manifest_sha256=hashlib.sha256(manifest).hexdigest(),
        file_count=len(entries),
        total_bytes=sum(e.size for e in entries),
        key=key,
        retain_until=lock.retain_until,
        legal_hold=lock.legal_hold,
    )
    archived = ArchivedRecord(
        case=case,
        classification=cls,
        package=package_ref,
        warnings=domain.warnings_of(classified),
        archived_at=now,
        supersedes=supersedes,
    )
    out = follow_on(event, topics.ARCHIVED, archived, service=SERVICE, case_key=case.case_key)
    events = case_events(classified, [e.path for e in entries], packaged_at=now)
    tag_files = {
        "bagit.txt": domain.BAGIT_TXT,
        "bag-info.txt": domain.bag_info(classified, entries, now),
        "manifest-sha256.txt": manifest,
        domain.RECORD_TAG_FILE: domain.record_document(
            classified, entries, archived_event=out.event.model_dump(mode="json"), code_allocated_at=code_allocated_at
        ),
        domain.EEP_TAG_FILE: eep_document(
            classified,
            entries,
            events,
            package_location=f"s3://{archive_bucket}/{key}",
            lock=lock,
            created_at=now,
            fonds_name=f"approval-archive 全宗 {cls.fonds_code}",
        ),
        domain.EVENTS_TAG_FILE: events_document(case.case_key, events),
    }
    tag_files["tagmanifest-sha256.txt"] = domain.tag_manifest(tag_files)
    payload = {e.path: data for e, data in zip(entries, payloads, strict=True)}
    return bag.build_tar(domain.bag_name(case.case_key), tag_files, payload, now), key, lock


def _object_metadata(data: bytes, package: bag.Package) -> dict[str, str]:
    return copies.package_metadata(data, hashlib.sha256(package.tag_files["manifest-sha256.txt"]).hexdigest())


async def store_case(
    event: ClassifiedEvent,
    *,
    store: ObjectStore,
    index: RecordIndex,
    archive_bucket: str,
    replica: ObjectStore | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Sequence[Outbound]:
    classified = event.data
    case_key = classified.case.case_key
    already = await index.archived_event(case_key)
    if already is not None:  # redelivery: announce the same record again, same event id
        return [Outbound(topics.ARCHIVED, ArchivedEvent.model_validate(already))]

    case = classified.case
    payloads, allocated_at, supersedes = await asyncio.gather(
        asyncio.gather(*(_read_verified(store, f) for f in classified.files)),
        index.code_allocated_at(case_key),
        # A correction of an archived case: archived beside it, its own package, naming what it replaces.
        index.archived_revision_before(case.source_platform, case.case_number, case.revision),
    )
    data, key, lock = build_package(
        event,
        payloads,
        archive_bucket=archive_bucket,
        code_allocated_at=allocated_at,
        now=clock(),
        supersedes=supersedes,
    )
    package = bag.read_package(data)
    primary, *others = copies.sites(store, replica)
    metadata = _object_metadata(data, package)
    version_id, stored, created = await copies.write_copy(
        primary,
        archive_bucket,
        key,
        data,
        metadata=metadata,
        retain_until=lock.retain_until,
        legal_hold=lock.legal_hold,
    )
    if not created:
        # An earlier attempt stored the package and stopped before the index: the stored package is the
        # truth (write-once) — copy and index exactly what it holds, and announce its archived event.
        data, package = stored, bag.read_package(stored)
        metadata = _object_metadata(data, package)
    rows = rows_of(package, bucket=archive_bucket, key=key, version_id=version_id)
    for site in others:  # the second copy: the primary's stored bytes, under the lock the package records
        replica_version, replica_bytes, _ = await copies.write_copy(
            site,
            archive_bucket,
            key,
            data,
            metadata=metadata,
            retain_until=rows.record["retain_until"],
            legal_hold=rows.record["legal_hold"],
        )
        if replica_bytes != data:
            raise copies.CopyNotVerified(
                f"the {site.name} copy of {archive_bucket}/{key} (version {replica_version}) differs from the "
                "primary's; `archivectl fixity repair` rewrites the bad copy from the good one"
            )
        rows.record[copies.version_column(site.name)] = replica_version
    of_record = await index.insert_archived_record(
        rows.record, rows.files, rows.archived_event, event_rows=rows.events, code_row=rows.code
    )
    return [Outbound(topics.ARCHIVED, ArchivedEvent.model_validate(of_record))]
