"""The storage step: archive.classified → package in the archive bucket → index rows → archived event."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from contracts.envelope import utc_now
from contracts.v1 import ArchivedEvent, ArchivedRecord, CapturedFile, ClassifiedEvent, PackageRef, topics
from services.common.adapters.object_store import ObjectStore
from services.common.events import follow_on
from services.common.faults import InvalidInput
from services.common.runner import Outbound
from services.storage import domain
from services.storage.index_rows import file_rows, record_row

SERVICE = "storage"


class RecordIndex(Protocol):
    async def archived_event(self, case_key: str) -> dict[str, Any] | None: ...
    async def insert_archived_record(
        self, record_row: dict[str, Any], file_rows: list[dict[str, Any]], archived_event: dict[str, Any]
    ) -> dict[str, Any]: ...


async def _put_once(store: ObjectStore, bucket: str, key: str, data: bytes, present: set[str]) -> bytes:
    """Write once: if an earlier delivery already wrote the object, keep it and return what it holds."""
    if key in present:
        return await store.get_bytes(bucket, key)
    content_type = "application/json" if key.endswith(".json") else "text/plain; charset=utf-8"
    await store.put_bytes(bucket, key, data, content_type=content_type)
    return data


async def _copy_verified(store: ObjectStore, file: CapturedFile, bucket: str, key: str) -> None:
    data = await store.get_bytes(file.stored.bucket, file.stored.key)
    if hashlib.sha256(data).hexdigest() != file.sha256:
        # Fixity is checked at every step: staging changed after validation. Never archive it.
        raise InvalidInput(
            f"staged file {file.stored.key} no longer matches its captured SHA-256", kind="FixityMismatch"
        )
    await store.put_bytes(bucket, key, data, content_type=file.media_type, metadata={"sha256": file.sha256})


async def store_case(
    event: ClassifiedEvent, *, store: ObjectStore, index: RecordIndex, archive_bucket: str
) -> Sequence[Outbound]:
    classified = event.data
    case_key = classified.case.case_key
    already = await index.archived_event(case_key)
    if already is not None:  # redelivery: announce the same record again, same event id
        return [Outbound(topics.ARCHIVED, ArchivedEvent.model_validate(already))]

    await store.ensure_bucket(archive_bucket, object_lock=True)
    prefix = domain.package_prefix(case_key)
    # Objects of an earlier, interrupted attempt are kept (the bucket is write-once) and not rewritten.
    present = await store.list_keys(archive_bucket, prefix)
    entries = [
        domain.PayloadEntry(domain.payload_path(number, file), file.sha256, file.size)
        for number, file in enumerate(classified.files, start=1)
    ]
    await asyncio.gather(
        *(
            _copy_verified(store, file, archive_bucket, prefix + entry.path)
            for file, entry in zip(classified.files, entries, strict=True)
            if prefix + entry.path not in present
        )
    )
    tag_files = {
        "bagit.txt": domain.BAGIT_TXT,
        "bag-info.txt": domain.bag_info(classified, entries, utc_now()),
        "manifest-sha256.txt": domain.manifest(entries),
        domain.RECORD_TAG_FILE: domain.record_document(classified, entries),
    }
    stored = await asyncio.gather(
        *(_put_once(store, archive_bucket, prefix + name, content, present) for name, content in tag_files.items())
    )
    stored_tags = dict(zip(tag_files, stored, strict=True))
    # The tag manifest goes last: its presence says the bag is complete.
    await _put_once(store, archive_bucket, prefix + "tagmanifest-sha256.txt", domain.tag_manifest(stored_tags), present)

    package = PackageRef(
        bucket=archive_bucket,
        prefix=prefix,
        manifest_sha256=hashlib.sha256(stored_tags["manifest-sha256.txt"]).hexdigest(),
        file_count=len(entries),
        total_bytes=sum(e.size for e in entries),
    )
    archived = ArchivedRecord(
        case=classified.case,
        classification=classified.classification,
        package=package,
        warnings=domain.warnings_of(classified),
        archived_at=utc_now(),
    )
    out = follow_on(event, topics.ARCHIVED, archived, service=SERVICE, case_key=case_key)
    of_record = await index.insert_archived_record(
        record_row(archived, out.event.correlationid), file_rows(classified, entries), out.event.model_dump(mode="json")
    )
    return [Outbound(topics.ARCHIVED, ArchivedEvent.model_validate(of_record))]
