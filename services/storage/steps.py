"""The storage step: archive.classified → ONE package object, write-once with retention, in the archive
bucket of each site (primary, then replica; services/storage/copies.py), each read back and verified →
index rows (read back from the stored package) → archived event, only once both copies verify.

Nothing holds a whole file (issue 18): each staged file is streamed to a local temporary file while its
SHA-256 and SM3 are computed, the tar is written from those files to another (digested as it is
written), uploaded from the file (multipart when large) and read back into a file to verify; only tag
files live in memory. The temporary directory is under $TMPDIR and is removed when the step ends."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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
from services.common.digests import Digests, DigestWriter, Sink
from services.common.events import follow_on
from services.common.faults import InvalidInput
from services.common.runner import Outbound
from services.storage import bag, copies, domain
from services.storage.eep import eep_document
from services.storage.index_rows import rows_of
from services.storage.ports import RecordIndex
from services.storage.preservation import case_events, events_document

SERVICE = "storage"


@dataclass(frozen=True)
class Staged:
    """A staged file copied to a local file, with the digests of what was copied."""

    path: Path
    digests: Digests


async def _stage_verified(store: ObjectStore, file: CapturedFile, folder: Path, n: int) -> Staged:
    local = folder / f"payload-{n:04d}"
    with local.open("wb") as out:
        writer = DigestWriter(out)
        try:
            await store.get_into(file.stored.bucket, file.stored.key, writer)
        except ObjectMissing as exc:
            raise InvalidInput(f"staged file {exc} does not exist", kind="MissingObject") from exc
    digests = writer.digests()
    if digests.sha256 != file.sha256:
        # Fixity is checked at every step: staging changed after validation. Never archive it.
        raise InvalidInput(
            f"staged file {file.stored.key} no longer matches its captured SHA-256", kind="FixityMismatch"
        )
    return Staged(local, digests)


def build_package(
    event: ClassifiedEvent,
    payloads: Sequence[Staged],
    sink: Sink,
    *,
    archive_bucket: str,
    code_allocated_at: datetime | None,
    now: datetime,
    supersedes: SupersededRevision | None = None,
) -> tuple[str, domain.RetentionLock]:
    """Write the package tar to `sink` (the payload streamed from the staged files); its object key and
    retention lock. Deterministic: the same case, files and time give the same bytes."""
    classified = event.data
    case, cls = classified.case, classified.classification
    entries = [
        domain.PayloadEntry(domain.payload_path(n, f), f.sha256, staged.digests.sm3, f.size)
        for n, (f, staged) in enumerate(zip(classified.files, payloads, strict=True), start=1)
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
    payload: dict[str, bytes | Path] = {e.path: staged.path for e, staged in zip(entries, payloads, strict=True)}
    bag.write_tar(sink, domain.bag_name(case.case_key), tag_files, payload, now)
    return key, lock


def _write_package(
    event: ClassifiedEvent, payloads: Sequence[Staged], path: Path, **kwargs: Any
) -> tuple[str, str, domain.RetentionLock]:
    """build_package into the file `path`: (the package's SHA-256, computed as it is written, key, lock)."""
    with path.open("wb") as out:
        writer = DigestWriter(out)
        key, lock = build_package(event, payloads, writer, **kwargs)
    return writer.digests().sha256, key, lock


def _object_metadata(package: bag.Package) -> dict[str, str]:
    return copies.package_metadata(package.sha256, hashlib.sha256(package.tag_files["manifest-sha256.txt"]).hexdigest())


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
    with tempfile.TemporaryDirectory(prefix="aa-storage-") as tmp:  # honours $TMPDIR
        folder = Path(tmp)
        payloads, allocated_at, supersedes = await asyncio.gather(
            asyncio.gather(*(_stage_verified(store, f, folder, n) for n, f in enumerate(classified.files, start=1))),
            index.code_allocated_at(case_key),
            # A correction of an archived case: archived beside it, its own package, naming what it replaces.
            index.archived_revision_before(case.source_platform, case.case_number, case.revision),
        )
        built = folder / "package.tar"
        built_sha256, key, lock = await asyncio.to_thread(  # a large tar is written off the event loop
            _write_package,
            event,
            payloads,
            built,
            archive_bucket=archive_bucket,
            code_allocated_at=allocated_at,
            now=clock(),
            supersedes=supersedes,
        )
        for staged in payloads:  # in the tar now: free the disk before the copies are read back
            staged.path.unlink()
        package = await asyncio.to_thread(functools.partial(bag.read_package, built, sha256=built_sha256))
        primary, *others = copies.sites(store, replica)
        metadata = _object_metadata(package)
        version_id, stored, created = await copies.write_copy(
            primary,
            archive_bucket,
            key,
            package,
            metadata=metadata,
            retain_until=lock.retain_until,
            legal_hold=lock.legal_hold,
            folder=folder,
        )
        # From here on the package is the primary's copy as read back: the bytes just written (verified by
        # digest), or — when an earlier attempt stored the package and stopped before the index — what that
        # attempt stored, which is the truth (write-once): copy and index exactly what it holds, and
        # announce its archived event.
        built.unlink()
        package = stored
        if not created:
            metadata = _object_metadata(package)
        rows = rows_of(package, bucket=archive_bucket, key=key, version_id=version_id)
        for site in others:  # the second copy: the primary's stored bytes, under the lock the package records
            replica_version, replica_copy, _ = await copies.write_copy(
                site,
                archive_bucket,
                key,
                package,
                metadata=metadata,
                retain_until=rows.record["retain_until"],
                legal_hold=rows.record["legal_hold"],
                folder=folder,
            )
            if replica_copy.sha256 != package.sha256 or replica_copy.size != package.size:
                raise copies.CopyNotVerified(
                    f"the {site.name} copy of {archive_bucket}/{key} (version {replica_version}) differs from the "
                    "primary's; `archivectl fixity repair` rewrites the bad copy from the good one"
                )
            assert replica_copy.path is not None
            replica_copy.path.unlink()  # verified by digest: only the primary's copy is needed further
            rows.record[copies.version_column(site.name)] = replica_version
    of_record = await index.insert_archived_record(
        rows.record, rows.files, rows.archived_event, event_rows=rows.events, code_row=rows.code
    )
    return [Outbound(topics.ARCHIVED, ArchivedEvent.model_validate(of_record))]


def scratch_bytes(event: ClassifiedEvent) -> int:
    """The scratch space storing this case takes: its files staged, then the package built beside them."""
    return 2 * sum(f.size for f in event.data.files)
