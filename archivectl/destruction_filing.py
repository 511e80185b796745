"""Filing the destruction register (销毁清册) of an execution run as a permanent record of the archive
itself (docs/lifecycle.md, "Disposition"). It takes the path every archived case takes, minus Kafka:
its two files (XML + CSV, services/storage/destruction_register.py) are staged as capture stages files,
classification's `record_decision` allocates its archival code (category WS 文书, retention Y, the
archive's organisation code DAG), and storage's own step (`store_case`) writes the package — BagIt,
write-once under COMPLIANCE until 9999-12-31 with a legal hold, on both sites — and indexes it.

The register's case is `approval-archive/XHQC-<date>-<first decision id>/r1`: filing the same run again
(after a crash) finds it archived and changes nothing."""

from __future__ import annotations

import hashlib
from datetime import datetime

import asyncpg

from contracts.v1 import (
    Applicant,
    ApplicantType,
    CapturedFile,
    CaseMetadata,
    CaseResult,
    CheckResult,
    IdType,
    ObjectRef,
    Outcome,
    Property,
    RetentionPeriod,
    SharingLevel,
    Stage,
    ValidatedCase,
    ValidatedEvent,
    topics,
)
from services.capture.domain import staging_key
from services.classification.adapters.schedule_store import PgClassificationStore
from services.classification.domain import Decision
from services.classification.review import filing_of
from services.classification.steps import record_decision
from services.common.adapters.object_store import ObjectStore
from services.common.digests import sm3_hex
from services.common.settings import ArchiveSettings
from services.storage import destruction_register as register
from services.storage.adapters.disposition_store import PgDispositionStore
from services.storage.adapters.index import PgIndex
from services.storage.steps import store_case

PLATFORM = "approval-archive"  # the archive's own records
ARCHIVE_NAME = "approval-archive 档案馆"
ARCHIVE_DEPARTMENT = "DAG"
REGISTER_DECISION = Decision(
    category_code="WS",  # 文书: the archive's own administrative records
    class_code="XHQC",  # 销毁清册
    retention=RetentionPeriod.PERMANENT,
    security_level="内部",
    sharing_level=SharingLevel.NOT_SHARED,
    rule_id="disposition-register",
    schedule_version="lifecycle-1",
    decided_by="archivectl disposition execute",
    organisation_code=ARCHIVE_DEPARTMENT,
)


async def file_register(
    settings: ArchiveSettings,
    pool: asyncpg.Pool,
    *,
    store: ObjectStore,
    replica: ObjectStore | None,
    now: datetime,
) -> tuple[str, list[str]] | None:
    """Archive a register of every destroyed record not yet in one — this run's, and any that a run
    stopped before its register left — and link their tombstones to it. Returns the register's case key
    and the case keys it lists; None when nothing waits for a register."""
    disposition = PgDispositionStore(pool)
    pairs = await disposition.unregistered()
    if not pairs:
        return None
    entries = register.entries_of(pairs)
    number = register.register_number(min(int(e["decision_id"]) for e in entries), now)
    contents = {
        register.XML_NAME: (register.register_xml(number, entries, now), "application/xml"),
        register.CSV_NAME: (register.register_csv(entries), "text/csv"),
    }
    case = CaseMetadata(
        source_platform=PLATFORM,
        case_number=number,
        revision=1,
        region_code=str(pairs[0][0].get("region_code") or "000000"),
        item_code="DA-XHQC",
        item_name=register.TITLE,
        case_title=f"{register.TITLE} {number}（{len(entries)}件）",
        applicant=Applicant(
            name=ARCHIVE_NAME, type=ApplicantType.ORGANISATION, id_type=IdType.OTHER, id_number=PLATFORM
        ),
        department_code=ARCHIVE_DEPARTMENT,
        department_name=ARCHIVE_NAME,
        accepted_at=now,
        completed_at=now,
        result=CaseResult.APPROVED,
        file_count=len(contents),
        total_bytes=sum(len(data) for data, _ in contents.values()),
    )
    await store.ensure_bucket(settings.staging_bucket)
    files = []
    for n, (name, (data, media_type)) in enumerate(contents.items()):
        digest = hashlib.sha256(data).hexdigest()
        key = staging_key(case.case_key, n, digest)
        await store.put_bytes(settings.staging_bucket, key, data, content_type=media_type)
        files.append(
            CapturedFile(
                stage=Stage.RESULT,
                material_name=register.TITLE,
                file_name=name,
                original_file_name=name,
                media_type=media_type,
                size=len(data),
                sha256=digest,
                sm3=sm3_hex(data),
                stored=ObjectRef(bucket=settings.staging_bucket, key=key),
            )
        )
    checks = [
        CheckResult(
            code="AUTH-DIGEST-SHA256",
            property=Property.AUTHENTICITY,
            outcome=Outcome.PASS,
            details={"source": "written by the archive itself; digests taken when the register was compiled"},
        )
    ]
    validated = ValidatedEvent(
        id=f"validated-{case.case_key}",
        source="urn:approval-archive:disposition",
        type=topics.VALIDATED,
        time=now,
        subject=case.case_key,
        correlationid=case.case_key,
        data=ValidatedCase(case=case, files=files, checks=checks, validated_at=now, captured_at=now),
    )
    filing = filing_of(settings)
    classified, _ = await record_decision(
        validated,
        REGISTER_DECISION,
        store=PgClassificationStore(pool),
        fonds_code=filing.fonds_code,
        organisations=filing.organisations,
    )
    await store.ensure_bucket(settings.archive_bucket, object_lock=True)
    if replica is not None:
        await replica.ensure_bucket(settings.archive_bucket, object_lock=True)
    await store_case(
        classified, store=store, index=PgIndex(pool), archive_bucket=settings.archive_bucket, replica=replica
    )
    listed = [str(tomb["case_key"]) for tomb, _ in pairs]
    await disposition.link_register(listed, case.case_key)
    return case.case_key, listed
