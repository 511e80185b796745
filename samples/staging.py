"""Cases as an upstream service hands them on, for tests and benchmarks that start mid-pipeline: the files
staged in the staging bucket the way capture stages them, and — for storage — the classified event with an
archival code allocated in the index."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence

from contracts.envelope import utc_now
from contracts.v1 import (
    CapturedFile,
    CheckResult,
    Classification,
    ClassifiedCase,
    ClassifiedEvent,
    ObjectRef,
    Outcome,
    Property,
    RetentionPeriod,
    SharingLevel,
    UnifiedApprovalRecord,
    topics,
)
from contracts.v1.record import Material
from services.classification.domain import format_archival_code
from services.common.adapters.index import PgIndex
from services.common.adapters.object_store import MinioObjectStore
from services.common.series import Series
from services.common.settings import ArchiveSettings


async def stage_files(
    store: MinioObjectStore,
    bucket: str,
    rec: UnifiedApprovalRecord,
    materials: Sequence[Material] | None = None,
) -> list[CapturedFile]:
    """Put the record's inline materials (all, or `materials`) into `bucket` under capture's key layout and
    describe them as capture does."""
    await store.ensure_bucket(bucket)
    files = []
    for n, m in enumerate(rec.materials if materials is None else materials):
        data = base64.b64decode(m.content_base64 or "")
        digest = hashlib.sha256(data).hexdigest()
        key = f"{rec.case_key}/{n:03d}-{digest}"
        await store.put_bytes(bucket, key, data, content_type=m.media_type)
        files.append(
            CapturedFile(
                stage=m.stage,
                material_name=m.material_name,
                file_name=m.file_name,
                original_file_name=m.file_name,
                media_type=m.media_type,
                declared_size=m.size,
                declared_sha256=m.sha256,
                declared_page_count=m.page_count,
                size=len(data),
                sha256=digest,
                stored=ObjectRef(bucket=bucket, key=key),
            )
        )
    return files


async def classified_event(
    settings: ArchiveSettings,
    store: MinioObjectStore,
    index: PgIndex,
    rec: UnifiedApprovalRecord,
    *,
    retention: RetentionPeriod,
    sharing: SharingLevel = SharingLevel.CONDITIONAL,
    security: str = "公开",
    warnings: Iterable[CheckResult] = (),
    label: str = "test",
) -> ClassifiedEvent:
    """The case as classification hands it to storage: files staged, a passed digest check (plus
    `warnings`), a code of the `Z109-XK-<year>-<retention>-SCJG` series allocated in the index."""
    case = rec.metadata()
    files = await stage_files(store, settings.staging_bucket, rec)
    series = Series("Z109", "XK", case.completed_at.year, retention.value, "SCJG")
    code = await index.allocate_archival_code(case.case_key, series, format_archival_code)
    now = utc_now()
    checks = [CheckResult(code="AUTH-DIGEST-SHA256", property=Property.AUTHENTICITY, outcome=Outcome.PASS)]
    return ClassifiedEvent(
        id=f"classified-{case.case_key}",
        source=f"urn:{label}",
        type=topics.CLASSIFIED,
        time=now,
        subject=case.case_key,
        correlationid=f"corr-{case.case_key}",
        data=ClassifiedCase(
            case=case,
            files=files,
            checks=[*checks, *warnings],
            classification=Classification(
                fonds_code="Z109",
                category_code="XK",
                class_code="XK",
                year=series.year,
                retention=retention,
                organisation_code="SCJG",
                item_number=code.item_number,
                archival_code=code.archival_code,
                security_level=security,
                sharing_level=sharing,
                rule_id=label,
                schedule_version=label,
            ),
            classified_at=now,
            captured_at=now,
            validated_at=now,
        ),
    )
